"""Stock outside of sales: load or top up a SKU's units per warehouse, read the counters.

Loading runs in the load_stock script per shard, which also hands returned units to the
SKU's overflow queue and writes STOCK_LOADED to the write-back stream.
"""

from __future__ import annotations

from collections.abc import Sequence

from reservation.domain import validation
from reservation.domain.models import Stock, StockItem
from reservation.domain.shards import by_shard
from reservation.errors import InvalidArgument, NotFound
from reservation.settings import Settings
from reservation.storage.store import Store

MODES = ("SET", "ADD")


def items_by_shard(items: Sequence[StockItem],
                   shards: int) -> list[tuple[int, list[tuple[str, str, int]]]]:
    """(sku, warehouse, quantity) triples as the scripts take them, one list per shard."""
    return [(shard, [(it.sku, it.warehouse_id, it.quantity) for it in group])
            for shard, group in by_shard(items, lambda it: it.sku, shards)]


class Inventory:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def load(self, items: Sequence[StockItem], mode: str) -> list[Stock]:
        """SET makes `available` exactly the quantity; ADD adds it. Returns the SKUs' stock."""
        if mode not in MODES:
            raise InvalidArgument("mode", "must be SET or ADD")
        validation.stock_items("items", items, self.settings, allow_zero=mode == "SET")
        for shard, group in items_by_shard(items, self.settings.shards):
            await self.store.load_stock(shard, mode, group)
        skus = list(dict.fromkeys(it.sku for it in items))
        return [await self.get(sku) for sku in skus]

    async def get(self, sku: str) -> Stock:
        validation.code("sku", sku)
        levels, depth = await self.store.stock(sku)
        if not levels:
            raise NotFound(f"no stock was ever loaded for sku {sku}")
        return Stock(sku, tuple(levels), depth)

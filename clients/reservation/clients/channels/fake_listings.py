"""The fake channels' listings: what each item shows buyers, changed by the stock pushes
in each channel's own call shapes (fake_server.py routes them here) and by buyers, who
buy only what a listing shows, as on a real platform (an order takes the units off the
listing at once; the service hears of it minutes later through the adapter's poll).

Every push is recorded with its time, so tests and the demo see what buyers saw.
Taobao's rule is kept: an item on sale may not show 0 in total (delist it first).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Item:
    online: bool = True
    quantities: dict[str, int] = field(default_factory=dict)
    """sku_id -> units the listing shows"""
    codes: dict[str, str] = field(default_factory=dict)
    """sku_id -> the seller's SKU code (what orders carry)"""


@dataclass(frozen=True)
class StockPushed:
    at_ms: int
    channel: str
    item_id: str
    sku_id: str
    """empty for an item-level call (on sale / off sale)"""
    quantity: int | None
    online: bool | None


class ListingError(Exception):
    """A push the channel refuses: kind 'unknown' (no such item or SKU), 'zero' (an item
    on sale would show 0), 'bad' (a malformed request)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class FakeListings:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: dict[str, dict[str, Item]] = {}
        self.pushes: list[StockPushed] = []
        self.calls: Counter[str] = Counter()
        """stock calls by method (path for WeChat)"""
        self.bought: Counter[str] = Counter()
        self.blocked: Counter[str] = Counter()

    # -- setting the scene ------------------------------------------------------------
    def list_items(self, channel: str, rows: Iterable[tuple[str, str, str, int]],
                   online: bool = True) -> None:
        """(item_id, sku_id, seller SKU, quantity) rows, as the seller listed them."""
        with self.lock:
            items = self.items.setdefault(channel, {})
            for item_id, sku_id, sku, qty in rows:
                item = items.setdefault(item_id, Item(online=online))
                item.quantities[sku_id] = qty
                item.codes[sku_id] = sku

    def shows(self, channel: str, sku: str) -> tuple[int, bool]:
        """(units, on sale) the listing of a seller SKU shows buyers now."""
        with self.lock:
            for item in self.items.get(channel, {}).values():
                for sku_id, code in item.codes.items():
                    if code == sku:
                        return item.quantities[sku_id], item.online
        raise KeyError(f"{channel} lists no {sku}")

    # -- buyers -----------------------------------------------------------------------
    def take(self, channel: str, sku: str, quantity: int) -> bool:
        """A buyer orders `quantity` of `sku`: True (units taken off the listing) when the
        item is on sale and shows enough, else False (the buyer cannot order)."""
        with self.lock:
            for item in self.items.get(channel, {}).values():
                for sku_id, code in item.codes.items():
                    if code != sku:
                        continue
                    if item.online and item.quantities[sku_id] >= quantity:
                        item.quantities[sku_id] -= quantity
                        self.bought[channel] += 1
                        return True
                    self.blocked[channel] += 1
                    return False
        self.blocked[channel] += 1
        return False

    # -- the pushes (called with the channel's parameters, already authenticated) -------
    def set_quantities(self, channel: str, item_id: str, pairs: list[tuple[str, int]],
                       keep_total_on_sale: bool = False) -> None:
        with self.lock:
            item = self._item(channel, item_id)
            for sku_id, qty in pairs:
                if sku_id not in item.quantities:
                    raise ListingError("unknown", f"item {item_id} has no sku {sku_id}")
                if qty < 0:
                    raise ListingError("bad", f"quantity {qty} is negative")
            after = {**item.quantities, **dict(pairs)}
            if keep_total_on_sale and item.online and sum(after.values()) == 0:
                raise ListingError("zero", f"item {item_id} is on sale: its quantity "
                                           "cannot be 0 (delist it first)")
            item.quantities.update(after)
            now = _now_ms()
            self.pushes += [StockPushed(now, channel, item_id, s, q, None) for s, q in pairs]

    def set_online(self, channel: str, item_id: str, online: bool,
                   need_stock: bool = False) -> None:
        with self.lock:
            item = self._item(channel, item_id)
            if online and need_stock and sum(item.quantities.values()) == 0:
                raise ListingError("zero", f"item {item_id} has no quantity to list")
            item.online = online
            self.pushes.append(StockPushed(_now_ms(), channel, item_id, "", None, online))

    def sku_item(self, channel: str, sku_id: str) -> str:
        """The item holding a sku_id (JD's stock call names the SKU only)."""
        with self.lock:
            for item_id, item in self.items.get(channel, {}).items():
                if sku_id in item.quantities:
                    return item_id
        raise ListingError("unknown", f"no sku {sku_id}")

    def _item(self, channel: str, item_id: str) -> Item:
        item = self.items.get(channel, {}).get(str(item_id))
        if item is None:
            raise ListingError("unknown", f"no item {item_id}")
        return item


def _now_ms() -> int:
    return int(time.time() * 1000)


def int_of(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ListingError("bad", f"{value!r} is not a whole number") from None

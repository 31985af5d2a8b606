"""The order event streams are capped (RESERVATION_ORDER_EVENT_STREAM_MAX): when the cap
trims events the records store has not applied, the shard is marked broken (the
follower stops there, the gauge and alert say so, the audit group's pulls are refused),
`repair` rewrites every order Redis holds from the hub and moves past the gap, and an
order whose events were lost never leaves Redis for it. Real Redis, the real server,
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from prometheus_client import REGISTRY

from reservation import clock
from reservation.records.eviction import Evictor
from reservation.records.store import Records
from reservation.server.app import App, start_app
from reservation.server.convert_orders import to_order
from reservation.server.gauges import GaugeSampler
from reservation.storage.orders import order_ref
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc
from reservation.writeback import WriteBack
from tests.helpers.orders import channel_order, get_order, history, move, sync
from tests.helpers.records import engine_of, follower_of, hub_of, redis_history
from tests.helpers.reservations import load
from tests.helpers.server import Stubs, test_settings

CAP = 100
FIRST = [f"E{i:03d}" for i in range(5)]
FLOOD = [f"F{i:03d}" for i in range(150)]
DAY_MS = 24 * 3600 * 1000


@pytest.fixture
async def capped(redis_url: str, records_url: str) -> AsyncIterator[App]:
    """One shard (every order on one stream), a small cap, no background work."""
    app = await start_app(test_settings(redis_url, records_url=records_url, shards=1,
                                        order_event_stream_max=CAP), background=False)
    yield app
    await app.stop(grace=0)


def _orders(oids: list[str], start: int) -> list[opb.ChannelOrder]:
    hour_ago = int(time.time()) - 3600  # within the order index's retention
    return [channel_order(oid, "PENDING_PAYMENT", ("SKU-1", 1), created_s=hour_ago + start + i,
                          modified_s=hour_ago + start + i, phone=f"1390000{start + i:04d}")
            for i, oid in enumerate(oids)]


async def test_a_store_behind_the_cap_is_broken_then_repaired_and_nothing_leaves_early(
        capped: App) -> None:
    follower = follower_of(capped)
    async with grpc.aio.insecure_channel(capped.target) as channel:
        await load(Stubs(channel), ("SKU-1", "WH-A", 1000))
        stub = order_service_pb2_grpc.OrderServiceStub(channel)
        await sync(stub, *_orders(FIRST, 0))
        await follower.catch_up()
        # Stopped here: the first orders close, then a flood pushes their closing
        # events past the cap before the store applies them.
        for oid in FIRST:
            await move(stub, oid, "CANCELLED")
            await move(stub, oid, "CLOSED")
        for k in range(0, len(FLOOD), 50):
            await sync(stub, *_orders(FLOOD[k:k + 50], 10 + k))

        records = Records(engine_of(capped))
        cursor = await asyncio.to_thread(records.cursor, 0)
        assert (await follower.standing())[1] == [0]
        assert await follower.follow_shard(0) == 0  # broken: nothing applied past the gap
        assert await asyncio.to_thread(records.cursor, 0) == cursor
        await GaugeSampler(capped.store, capped.inventory, WriteBack.over(capped.store),
                           records=follower).sample()
        assert REGISTRY.get_sample_value("reservation_stream_group_broken",
                                         {"stream": "order_events", "group": "records"}) == 1
        # The audit group never pulled either: it lost events too, and is told so.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.PullOrderEvents(opb.PullOrderEventsRequest(
                group="audit", consumer="a1", max_events=10), timeout=10)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "'audit'" in refused.value.details()

        assert await follower.repair(0) == len(FIRST) + len(FLOOD)
        assert (await follower.standing())[1] == []
        assert await follower.repair(0) == 0  # not broken any more: nothing to do
        await follower.catch_up()
        await GaugeSampler(capped.store, capped.inventory, WriteBack.over(capped.store),
                           records=follower).sample()
        assert REGISTRY.get_sample_value("reservation_stream_group_broken",
                                         {"stream": "order_events", "group": "records"}) == 0

        # Every order's row is the order as GetOrder answers it, field by field.
        for oid in FIRST + FLOOD:
            found = await asyncio.to_thread(records.get, order_ref("jd", "shop-1", oid))
            assert found is not None, oid
            assert to_order(found[0]) == await get_order(stub, oid)

        # The first orders' closing events were lost to the store: long past the hot
        # window they still stay in Redis, whose history is whole.
        before = {oid: await history(stub, oid) for oid in FIRST}
        later = Evictor(hub_of(capped), records,
                        clock=lambda: clock.now_ms() + 8 * DAY_MS)
        await later.evict_all()
        for oid in FIRST:
            assert await hub_of(capped).orders.exists(order_ref("jd", "shop-1", oid))
            assert await history(stub, oid) == before[oid]
            kept = await asyncio.to_thread(records.history, order_ref("jd", "shop-1", oid),
                                           0, 10_000)
            assert len(kept) < len(await redis_history(capped, oid))

"""The records follower: the order event streams into SQL exactly once, on real Redis,
the real gRPC server, SQLite and PostgreSQL.

Expectations come from what the test sent (the orders' lines and prices, the tracking
number it reported, the states it moved them to) and from the hub's own answers over
gRPC, never from the tables the follower wrote."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from reservation import clock
from reservation.records.follower import Follower
from reservation.records.schema import order_events, order_lines, orders, shipments
from reservation.records.store import Records
from reservation.server.app import App
from reservation.server.convert_orders import to_order
from reservation.server.gauges import GaugeSampler
from reservation.storage.orders import order_ref
from reservation.storage.records import RecordStreams
from reservation.v1 import order_service_pb2_grpc
from reservation.writeback import WriteBack
from tests.helpers.orders import get_order, history, move
from tests.helpers.records import WALKED, engine_of, follower_of, hub_of, redis_history, walk
from tests.helpers.reservations import load
from tests.helpers.server import Stubs
from tests.helpers.waiting import wait_until

ORDERS = ("A1", "A2", "A3", "A4")


async def _check_matches_thehub_of(app: App, stub: order_service_pb2_grpc.OrderServiceStub) -> None:
    records = Records(engine_of(app))
    for oid, channel in WALKED:
        ref = order_ref(channel, "shop-1", oid)
        found = await asyncio.to_thread(records.get, ref)
        assert found is not None, ref
        order, events = found
        # Field by field: the whole Order message GetOrder answers.
        assert to_order(order) == await get_order(stub, oid, channel=channel)
        kept = await asyncio.to_thread(records.history, ref, 0, 10_000)
        assert kept == await redis_history(app, oid, channel)
        assert events == len(kept) == len(await history(stub, oid, channel=channel))


async def test_events_in_rows_match_get_order_field_by_field(quiet_app: App, order_stub) -> None:
    await walk(order_stub)
    passed = await follower_of(quiet_app).catch_up()
    assert passed > 0
    await _check_matches_thehub_of(quiet_app, order_stub)
    engine = engine_of(quiet_app)
    with engine.connect() as c:
        rows = {r.order_id: r for r in c.execute(select(orders))}
        # What the test sent: 2 x 19.99, and 1 x 19.99 + 3 x 19.99, in integer cents.
        lines = {(r.ref, r.sku): (r.quantity, r.price_cents) for r in c.execute(
            select(order_lines))}
        assert lines == {(order_ref("jd", "shop-1", "A1"), "SKU-1"): (2, 1999),
                         (order_ref("jd", "shop-1", "A2"), "SKU-2"): (1, 1999),
                         (order_ref("jd", "shop-1", "A3"), "SKU-1"): (1, 1999),
                         (order_ref("pdd", "shop-1", "A4"), "SKU-1"): (1, 1999),
                         (order_ref("pdd", "shop-1", "A4"), "SKU-2"): (3, 1999)}
        assert {oid: r.state for oid, r in rows.items()} == {
            "A1": "SHIPPED", "A2": "PENDING_PAYMENT", "A3": "CLOSED", "A4": "ON_HOLD"}
        # A4: the same phone and address as A1 on another channel, held for review.
        assert "duplicate" in rows["A4"].review_state and rows["A1"].review_state == ""
        assert rows["A3"].closed_at_ms is not None and rows["A1"].closed_at_ms is None
        shipped = c.execute(select(shipments.c.ref)
                            .where(shipments.c.tracking_number == "SF-7001")).scalars()
        assert list(shipped) == [order_ref("jd", "shop-1", "A1")]


async def test_a_crash_between_commit_and_mark_applies_nothing_twice(
        quiet_app: App, order_stub) -> None:
    await walk(order_stub)

    class Crash(Exception):
        pass

    class CrashingFollower(Follower):
        async def committed(self, shard: int, last: str) -> None:
            raise Crash  # the process dies after the SQL commit, before Redis hears of it

    crashing = CrashingFollower(hub_of(quiet_app), Records(engine_of(quiet_app)))
    with pytest.raises(Crash):
        await crashing.catch_up()
    # More changes while it is down, then a fresh follower (a restarted process).
    await move(order_stub, "A2", "CANCELLED")
    await follower_of(quiet_app).catch_up()
    await _check_matches_thehub_of(quiet_app, order_stub)
    await _each_event_once(quiet_app)
    await _marks_at_cursors(quiet_app)  # caught up with the store's on every shard


async def test_two_followers_at_once_apply_each_event_once(quiet_app: App, order_stub) -> None:
    await walk(order_stub)
    other = Follower(hub_of(quiet_app), Records(engine_of(quiet_app)), batch=2)
    await asyncio.gather(follower_of(quiet_app).catch_up(), other.catch_up())
    await _check_matches_thehub_of(quiet_app, order_stub)


async def _each_event_once(app: App) -> None:
    """Every event of the walked orders in the store, once."""
    with engine_of(app).connect() as c:
        total = c.execute(select(func.count()).select_from(order_events)).scalar_one()
        distinct = c.execute(select(func.count(func.distinct(order_events.c.event_id)))
                             ).scalar_one()
    expected = sum([len(await redis_history(app, oid, channel)) for oid, channel in WALKED])
    assert total == distinct == expected


async def _marks_at_cursors(app: App) -> None:
    """The `records` group's mark is the store's cursor on every shard it applied."""
    streams = RecordStreams(hub_of(app).store)
    records = Records(engine_of(app))
    for shard in range(app.settings.shards):
        cursor = await asyncio.to_thread(records.cursor, shard)
        if cursor != "0-0":
            assert await streams.marked(shard) == cursor


@pytest.mark.parametrize("groups", [((0, 2), (1, 2)), ((0, 1), (1, 2)),
                                    ((0, 2), (0, 2), (1, 2))],
                         ids=["disjoint", "overlapping", "the same twice"])
async def test_followers_of_groups_of_shards_apply_each_event_once(
        quiet_app: App, order_stub, groups: tuple[tuple[int, int], ...]) -> None:
    """Followers partitioned by shard: each applies its own shards (disjoint groups in
    parallel); where groups overlap, the cursor compared in the transaction still keeps
    every event once. Every order ends as the hub answers it, every shard's mark at its
    cursor."""
    await walk(order_stub)
    records = Records(engine_of(quiet_app))
    followers = [Follower(hub_of(quiet_app), records, batch=2, group=g) for g in groups]
    assert {s for f in followers for s in f.shards} == set(range(quiet_app.settings.shards))
    await asyncio.gather(*(f.start() for f in followers))
    await asyncio.gather(*(f.catch_up() for f in followers))
    await _check_matches_thehub_of(quiet_app, order_stub)
    await _each_event_once(quiet_app)
    await _marks_at_cursors(quiet_app)


async def test_a_follower_applies_only_its_group(quiet_app: App, order_stub) -> None:
    await walk(order_stub)
    records = Records(engine_of(quiet_app))
    even = Follower(hub_of(quiet_app), records, group=(0, 2))
    assert even.shards == list(range(0, quiet_app.settings.shards, 2))
    await even.catch_up()
    moved = set(await asyncio.to_thread(records.cursors))
    assert moved and all(s % 2 == 0 for s in moved)
    with pytest.raises(ValueError, match="group 2 of 2"):
        Follower(hub_of(quiet_app), records, group=(2, 2))


async def test_each_group_has_a_lease_of_its_own(quiet_app: App) -> None:
    streams = RecordStreams(hub_of(quiet_app).store)
    assert await streams.lease("a", 10_000, (0, 2))
    assert await streams.lease("b", 10_000, (1, 2))  # another group: both follow
    assert not await streams.lease("b", 10_000, (0, 2))  # a's
    assert await streams.lease("c", 10_000)  # all shards, one group: the lease as before
    assert not await streams.lease("a", 10_000, (0, 1))


async def test_a_pass_read_while_a_failing_commit_ran_is_not_applied(
        quiet_app: App, order_stub) -> None:
    """The follower reads its next pass while the previous one commits; when that
    commit fails (another follower applied the entries first), the pass read past it is
    dropped and the cursors read again: every event once, every order as the hub has it."""
    await walk(order_stub)
    records = Records(engine_of(quiet_app))
    other = Follower(hub_of(quiet_app), records)

    class Beaten(Follower):
        beaten = 0

        async def _commit(self, p: Any) -> int:
            if not self.beaten:
                self.beaten += 1
                await other.catch_up()  # while this follower reads its next pass
            return await super()._commit(p)

    beaten = Beaten(hub_of(quiet_app), records, batch=1)
    assert await beaten.catch_up() == 0  # each of its commits lost to the other's
    assert beaten.beaten == 1
    await move(order_stub, "A2", "CANCELLED")
    assert await beaten.catch_up() > 0  # its cursors read again: it follows on
    await _check_matches_thehub_of(quiet_app, order_stub)
    with engine_of(quiet_app).connect() as c:
        total = c.execute(select(func.count()).select_from(order_events)).scalar_one()
        distinct = c.execute(select(func.count(func.distinct(order_events.c.event_id)))
                             ).scalar_one()
    assert total == distinct


async def test_the_stream_keeps_what_the_store_has_not_applied(quiet_app: App,
                                                               order_stub) -> None:
    """The audit consumer acknowledging everything does not trim entries past the
    records group's mark; once the store has them, they go."""
    await walk(order_stub)
    events = hub_of(quiet_app).events
    while (batch := await events.pull("audit", "auditor", 100, 0)).events:
        await events.ack(batch.batch_id)
    client = hub_of(quiet_app).store.client
    streams = RecordStreams(hub_of(quiet_app).store)
    lengths = [await client.xlen(streams.stream(s)) for s in range(quiet_app.settings.shards)]
    assert sum(lengths) > 0
    await follower_of(quiet_app).catch_up()
    await _check_matches_thehub_of(quiet_app, order_stub)
    lengths = [await client.xlen(streams.stream(s)) for s in range(quiet_app.settings.shards)]
    assert sum(lengths) == 0


@pytest.fixture
def settings_overrides(sqlite_records_url: str) -> dict[str, str]:
    return {"records_url": sqlite_records_url}


async def test_serve_follows_in_the_background(app: App, stubs: Stubs) -> None:
    await load(stubs, ("SKU-1", "WH-A", 50), ("SKU-2", "WH-B", 50))
    stub = order_service_pb2_grpc.OrderServiceStub(stubs.channel)
    await walk(stub)
    records = Records(engine_of(app))

    async def behind() -> list[str]:
        late = []
        for oid, channel in WALKED:
            found = await asyncio.to_thread(records.get, order_ref(channel, "shop-1", oid))
            if found is None or found[1] != len(await redis_history(app, oid, channel)):
                late.append(oid)
        return late

    await wait_until(behind, lambda late: not late, "every order in the records store")
    await _check_matches_thehub_of(app, stub)


async def test_the_lag_is_the_age_of_the_oldest_event_not_applied(quiet_app: App,
                                                                  order_stub) -> None:
    follower = follower_of(quiet_app)
    assert await follower.oldest_unapplied_ms() is None  # nothing written yet
    before = clock.now_ms()
    await walk(order_stub)
    oldest = await follower.oldest_unapplied_ms()
    assert oldest is not None and before - 1000 <= oldest <= clock.now_ms()
    sampler = GaugeSampler(quiet_app.store, quiet_app.inventory,
                           WriteBack.over(quiet_app.store), records=follower)
    await sampler.sample()
    age = REGISTRY.get_sample_value("reservation_order_events_oldest_age_seconds",
                                    {"group": "records"})
    assert age is not None and age >= 0
    await follower.catch_up()
    assert await follower.oldest_unapplied_ms() is None
    await sampler.sample()
    assert REGISTRY.get_sample_value("reservation_order_events_oldest_age_seconds",
                                     {"group": "records"}) == 0

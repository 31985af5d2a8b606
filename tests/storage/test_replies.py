"""Every script's named reader against a real reply from real Redis (storage/replies.py).

A reader that reads a field from the wrong position fails here with a wrong value, not
somewhere far away with a confusing state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from reservation.settings import Settings
from reservation.storage import keys, orders, replies, scripts
from reservation.storage.guard import GuardStore
from reservation.storage.replies import PartReply
from reservation.storage.store import (
    CLAIM_MANY,
    CLAIM_RESERVE_MANY,
    RESERVE_MANY,
    Store,
    connect,
)
from reservation.storage.writeback import WriteBackStore

SKU, WH = "RPL-SKU", "wh-1"
GROUP = "wms"


@pytest.fixture(params=[True, False], ids=["functions", "evalsha"])
async def store(redis_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Each reader is checked against the reply of a Redis Function and of EVALSHA."""
    settings = Settings(redis_url=redis_url, write_back_groups=(GROUP,),
                        redis_functions=request.param)
    s = Store(connect(settings, redis_url), settings)
    await WriteBackStore(s).ensure_groups([GROUP])
    yield s
    await s.close()


def shard(store: Store, sku: str = SKU) -> int:
    return keys.shard_of(sku, store.settings.shards)


async def reserve(store: Store, order_id: str, qty: int = 2, allow_queue: bool = False,
                  buyer: str = "buyer-1") -> PartReply:
    ref = keys.order_ref("web", order_id)
    return await store.reserve(shard(store), ref, f"rid-{order_id}", "web", order_id, buyer,
                               f"{SKU}|{qty}|", [(SKU, qty, "")], 60_000, allow_queue)


async def load(store: Store, qty: int = 5) -> None:
    await store.load_stock(shard(store), "SET", [(SKU, WH, qty)])


def test_every_script_has_a_reader() -> None:
    assert set(replies.READERS) == set(scripts.NAMES)


async def test_claim_reads_none_then_the_identity(store: Store) -> None:
    assert await store.claim_order("web:c1", "rid\tb\tspec") is None
    assert await store.claim_order("web:c1", "other\tb\tspec") == "rid\tb\tspec"


async def test_claim_many_reads_one_answer_per_order(store: Store) -> None:
    await store.claim_order("web:m1", "first")
    calls: list[tuple[Any, Any]] = [
        ([keys.order_home(ref, store.settings.shards)], [ident, 60_000, ref])
        for ref, ident in (("web:m1", "again"), ("web:m2", "new"))]
    # On one Redis the orders may live in different home shards (each key is its own).
    keys_, args = CLAIM_MANY.fold(calls)
    answers = await store.eval("claim_many", keys_, args)
    assert answers == ["first", None]
    assert await store.claim_order("web:m2", "later") == "new"


async def test_reserve_reads_every_field_of_a_hold(store: Store) -> None:
    await load(store)
    reply = await reserve(store, "r1", qty=2, buyer="buyer-7")
    assert reply.code == "OK" and reply.state == "RESERVED"
    assert reply.reason == "" and reply.failed_sku == ""
    assert reply.expires_at_ms > 0
    assert reply.allocations == f"{SKU}|{WH}|2"
    assert reply.reservation_id == "rid-r1" and reply.buyer_id == "buyer-7"
    assert reply.queue_position == 0 and reply.spec == f"{SKU}|2|"


async def test_reserve_reads_a_rejection_with_reason_and_sku(store: Store) -> None:
    await load(store, qty=1)
    reply = await reserve(store, "r2", qty=3)
    assert (reply.state, reply.reason, reply.failed_sku) == ("REJECTED", "SOLD_OUT", SKU)
    assert reply.expires_at_ms == 0 and reply.allocations == ""


async def test_reserve_many_reads_one_part_reply_per_order(store: Store) -> None:
    await load(store, qty=3)
    calls = []
    for oid in ("m1", "m2"):
        ref = keys.order_ref("web", oid)
        calls.append((store._order_keys(shard(store), ref),
                      [*store.head(shard(store)), ref, f"rid-{oid}", "web", oid, "b",
                       f"{SKU}|2|", 60_000, 0, 10, 1000, 1, SKU, 2, ""]))
    keys_, args = RESERVE_MANY.fold(calls)
    first, second = await store.eval("reserve_many", keys_, args)
    assert (first.state, first.allocations) == ("RESERVED", f"{SKU}|{WH}|2")
    assert (second.state, second.reason) == ("REJECTED", "INSUFFICIENT_STOCK")


def claim_reserve_args(store: Store, oid: str, qty: int) -> tuple[Any, ...]:
    """Store.claim_reserve's arguments after the shard, for one order."""
    ref = keys.order_ref("web", oid)
    spec = f"{SKU}|{qty}|"
    return (ref, f"rid-{oid}\tb\t{spec}", f"rid-{oid}", "web", oid, "b", spec,
            [(SKU, qty, "")], 60_000, False)


async def test_claim_reserve_reads_the_reserve_reply_then_claimed(store: Store) -> None:
    await load(store, qty=3)
    first = await store.claim_reserve(shard(store), *claim_reserve_args(store, "cr1", 2))
    again = await store.claim_reserve(shard(store), *claim_reserve_args(store, "cr1", 2))
    assert isinstance(first, PartReply)
    assert (first.state, first.allocations, first.reservation_id) == (
        "RESERVED", f"{SKU}|{WH}|2", "rid-cr1")
    assert again == replies.Claimed("rid-cr1\tb\t" + f"{SKU}|2|")


async def test_claim_reserve_many_reads_one_reply_per_order(store: Store) -> None:
    await load(store, qty=3)
    calls = []
    for oid in ("cm1", "cm2"):
        ref = keys.order_ref("web", oid)
        home = keys.order_home(ref, store.settings.shards)
        calls.append(([home, *store._order_keys(shard(store), ref)],
                      [*store.head(shard(store)), 60_000, ref, f"rid-{oid}", "web", oid, "b",
                       f"{SKU}|2|", 60_000, 0, 10, 1000, 1, SKU, 2, ""]))
    keys_, args = CLAIM_RESERVE_MANY.fold(calls)
    first, second = await store.eval("claim_reserve_many", keys_, args)
    assert (first.state, first.allocations) == ("RESERVED", f"{SKU}|{WH}|2")
    assert (second.state, second.reason) == ("REJECTED", "INSUFFICIENT_STOCK")
    keys_, args = CLAIM_RESERVE_MANY.fold(calls[:1] * 2)
    assert await store.eval("claim_reserve_many", keys_, args) == [
        replies.Claimed(f"rid-cm1\tb\t{SKU}|2|")] * 2


async def test_queue_position_is_read_from_its_field(store: Store) -> None:
    await load(store, qty=2)
    await reserve(store, "q-holder", qty=2)
    first = await reserve(store, "q1", qty=1, allow_queue=True)
    second = await reserve(store, "q2", qty=1, allow_queue=True)
    assert (first.state, first.queue_position) == ("QUEUED", 1)
    assert (second.state, second.queue_position) == ("QUEUED", 2)


async def test_confirm_get_release_read_part_replies(store: Store) -> None:
    await load(store)
    await reserve(store, "c1")
    await reserve(store, "c2")
    ref1, ref2 = keys.order_ref("web", "c1"), keys.order_ref("web", "c2")
    confirmed = await store.confirm(shard(store), ref1, 0)
    assert (confirmed.code, confirmed.state) == ("OK", "CONFIRMED")
    got = await store.get(shard(store), ref1)
    assert (got.state, got.reservation_id) == ("CONFIRMED", "rid-c1")
    released = await store.release(shard(store), ref2)
    assert (released.code, released.state) == ("OK", "RELEASED")
    refused = await store.release(shard(store), ref1)
    assert (refused.code, refused.state) == ("PRECONDITION", "CONFIRMED")
    missing = await store.get(shard(store), "web:nothing")
    assert missing == PartReply(code="NOT_FOUND")


async def test_sweep_reads_expired_dead_lettered_served(store: Store) -> None:
    await load(store, qty=1)
    ref = keys.order_ref("web", "s1")
    await store.reserve(shard(store), ref, "rid", "web", "s1", "b", f"{SKU}|1|",
                        [(SKU, 1, "")], 100, False)
    await store.client.zadd(keys.expiry(shard(store)), {ref: 1})  # due long ago
    reply = await store.sweep(shard(store), serve_queues=True)
    assert reply == replies.SweepReply(expired=1, dead_lettered=0, served=0)


async def test_load_stock_reads_served(store: Store) -> None:
    await load(store, qty=1)
    await reserve(store, "h1", qty=1)
    await reserve(store, "w1", qty=1, allow_queue=True)
    args = [*store.head(shard(store)), "ADD", 1, SKU, WH, 1]
    reply = await store.eval("load_stock", [keys.write_back(shard(store))], args)
    assert reply == replies.LoadStockReply(served=1)


async def test_start_and_stop_sale_read_their_outcomes(store: Store) -> None:
    sh = shard(store)
    now = 10**12 * 2
    started = await store.start_sale(sh, "sale-a", 1, now, 0, 0, 0, [(SKU, WH, 4)])
    assert started == replies.StartSaleReply("OK", outcome="STARTED")
    again = await store.start_sale(sh, "sale-a", 1, now, 0, 0, 0, [(SKU, WH, 4)])
    assert again.outcome == "EXISTS"
    conflict = await store.start_sale(sh, "sale-b", 1, now, 0, 0, 0, [(SKU, WH, 4)])
    assert conflict == replies.StartSaleReply("CONFLICT", sku=SKU, other_sale_id="sale-a")
    assert await store.stop_sale(sh, "sale-a", [SKU]) == 4


async def test_dead_letter_reads_a_part_reply(store: Store) -> None:
    await load(store, qty=1)
    await reserve(store, "d-holder", qty=1)
    await reserve(store, "d1", qty=1, allow_queue=True)
    ref = keys.order_ref("web", "d1")
    await store.client.zadd(keys.queue_deadline(shard(store)), {ref: 1})
    await store.sweep(shard(store), serve_queues=False)
    reply = await store.dead_letter(shard(store), ref, "REJECT")
    assert (reply.code, reply.state, reply.reason) == ("OK", "REJECTED", "OPERATOR_REJECTED")


async def test_write_back_scripts_read_named_fields(store: Store) -> None:
    wb = WriteBackStore(store)
    sh = shard(store)
    await load(store, qty=5)
    await reserve(store, "w-1", qty=2)
    pulled = await wb.pull(sh, GROUP, "consumer-1", 10)
    assert [e.type for e in pulled.events] == ["STOCK_LOADED", "HELD"]
    assert pulled.events[1].quantity == 2 and pulled.events[1].order_id == "w-1"
    assert pulled.events[0].delivery_count == 1 and pulled.acked_here == 0
    assert pulled.boundary == pulled.events[-1].entry_id

    stats = await wb.stats(sh, GROUP)
    assert (stats.pending, stats.undelivered, stats.delivered_total) == (2, 0, 2)
    assert stats.oldest_unacknowledged_id == pulled.events[0].entry_id

    snap = await wb.snapshot(sh, GROUP, [SKU])
    assert snap.stocks[0][f"{WH}|a"] == "3" and snap.stocks[0][f"{WH}|h"] == "2"
    assert [fields["t"] for _, fields in snap.unacked] == ["STOCK_LOADED", "HELD"]
    assert snap.dead == ()

    reply = await store.eval("wb_ack", [keys.write_back(sh), keys.write_back_stats(sh, GROUP)],
                             [*store.head(sh), GROUP, store.settings.retention_ms,
                              *[e.entry_id for e in pulled.events]])
    assert reply == replies.AckReply(acknowledged=2, trimmed=2)
    after = await wb.stats(sh, GROUP)
    assert (after.pending, after.acknowledged_total, after.oldest_unacknowledged_id) == (0, 2, "")
    assert await wb.replay(sh, GROUP, ()) == 0


async def test_order_apply_many_reads_one_op_reply_per_op(store: Store) -> None:
    await load(store)
    # The header (see _order.lua), a newline, no payloads (a part writes no record).
    part = "\t".join(map(str, [
        "part", "jd:s/o1", 0, 1, 0, 60_000, "held", "jd:s/o1", "jd:s/o1", "jd", "s/o1",
        "buyer-1", f"{SKU}|2|", 60_000, 1, SKU, 2, "", 0, 0, 0, 0, 0, ""])) + "\n"
    refused = part.replace(f"{SKU}\t2\t", f"{SKU}\t99\t").replace("jd:s/o1", "jd:s/o2")
    # An order op that expects version 3 of an order that has none: a lost race.
    conflict = part.replace("part\tjd:s/o1\t0\t1", "order\tjd:s/o3\t3\t4", 1)

    ok, no, lost = await store.eval(
        "order_apply_many", [keys.write_back(shard(store), "olog"), keys.write_back(shard(store))],
        [*store.head(shard(store)), 3, part, refused, conflict])

    assert (ok.code, ok.hold_state, ok.allocations, ok.act) == (
        "OK", "RESERVED", f"{SKU}|{WH}|2", "reserve")
    assert (no.code, no.reason, no.failed_sku) == ("REFUSED", "INSUFFICIENT_STOCK", SKU)
    assert (lost.code, lost.version, lost.act) == ("CONFLICT", 0, "")


async def test_order_lookup_reads_records_claims_and_duplicates_by_name(store: Store) -> None:
    n = shard(store)
    await store.client.hset(orders.record(n, "jd:s/o1"), mapping={"v": 3, "doc": "{}"})
    await store.client.hset(orders.record(n, "jd:s/o2"), mapping={"v": 5})  # archived

    async def lookup(reads: list[str], claims: list[str], dups: list[str]) -> Any:
        return await store.eval("order_lookup", [orders.index(n)], [
            keys.prefix(n), 60_000, 60_000, "\t".join(reads), "\t".join(claims),
            "\t".join(dups), ""])

    first = await lookup(["jd:s/o1", "jd:s/o2", "jd:s/none"], ["jd:s/o1", str(n)],
                         ["pair-1", "jd:s/o1", "1000"])
    again = await lookup([], ["jd:s/o1", str(n)], ["pair-1", "tb:s/o9", "1500"])

    assert first.records == [(3, "{}"), (5, None), None]
    assert first.claims == [None]          # claimed now for the anchor
    assert again.claims == [str(n)]        # held already, by that shard
    assert first.dups == [[]]
    assert again.dups == [["jd:s/o1"]]     # the other ref within the window


async def test_rules_put_reads_version_and_conflict(store: Store) -> None:
    put = store.eval
    first = await put("rules_put", [keys.routing_rules()], [0, "{}", 500])
    assert (first.code, first.version) == ("OK", 1)
    stale = await put("rules_put", [keys.routing_rules()], [5, "{}", 500])
    assert (stale.code, stale.version) == ("CONFLICT", 1)


async def test_guard_scripts_read_named_fields(store: Store) -> None:
    guard = GuardStore(store)
    sh = shard(store)
    assert await guard.change("NO-SUCH-SKU", "force", "web", "OPEN") == replies.GuardSetReply(
        "NOT_FOUND")
    await load(store, 5)
    assert await guard.change(SKU, "threshold", "web", "5") == replies.GuardSetReply("OK", "")
    refused = await reserve(store, "g-2", qty=1)  # 5 available: 4 would be < 5
    assert (refused.state, refused.reason) == ("REJECTED", "CHANNEL_PAUSED")
    tick = await guard.tick(sh, lease_ms=0)
    assert tick == replies.GuardTickReply(ran=True, opened=(f"{SKU}|web",), closed=())
    assert await guard.tick(sh, lease_ms=60_000) == replies.GuardTickReply(True, (), ())
    assert await guard.tick(sh, lease_ms=60_000) == replies.GuardTickReply(False, (), ())
    assert await guard.change(SKU, "force", "web", "CLOSED") == replies.GuardSetReply(
        "OK", "CLOSED")

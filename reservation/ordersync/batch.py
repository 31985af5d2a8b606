"""SyncOrders for a batch, the first pass: the reads of every order in one order_lookup
script call per shard, then one order_apply_many script call per shard (CHUNK ops each)
for the orders whose lines all sit in their anchor shard. What cannot go that way (an
order repeated in the batch, a multi-shard order, a race lost to another writer, a hold
that ended) is left for the hub to sync one by one, in batch order (`Pass.slow`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from reservation.ordersync import codec, finding
from reservation.ordersync.model import ChannelOrder
from reservation.ordersync.ops import Lines, Ops
from reservation.ordersync.plan import Outcome, Plan
from reservation.ordersync.results import SyncResult, plan_sync, written
from reservation.ordersync.routes import Route, Router
from reservation.storage.orders import ARCHIVED, EVICTED, OrderStore, order_ref

CHUNK = 100
"""Most ops per script call: long enough to amortise, short enough not to stall Redis."""


@dataclass
class Pass:
    results: list[SyncResult | None]
    """Each order's result, None for those left to sync one by one."""
    slow: list[int] = field(default_factory=list)
    """The orders (by index) to sync one by one, with `routes` for those routed here."""
    routes: dict[int, Route | None] = field(default_factory=dict)


async def first_pass(store: OrderStore, router: Router, ops: Ops, clock: Callable[[], int],
                     orders: Sequence[ChannelOrder]) -> Pass:
    done = Pass([None] * len(orders))
    refs = [order_ref(*co.key) for co in orders]
    seen: set[str] = set()
    first: list[int] = []
    for i, ref in enumerate(refs):
        (done.slow if ref in seen else first).append(i)
        seen.add(ref)

    # An order's record sits in its anchor shard (its first line's SKU's; lines never
    # change), so the record is read there directly, and its locator claimed for that
    # shard in the same call: a locator there already but no record sends the order
    # one by one (sync_one follows the locator, and reads it again after the record,
    # so an order evicted between the two reads is seen). One lookup call per shard.
    anchors = {i: ops.anchor(orders[i]) for i in first}
    found = await store.lookup(
        [(anchors[i], refs[i]) for i in first], [(refs[i], anchors[i]) for i in first],
        [(refs[i], orders[i].buyer_hash, orders[i].address.key(), orders[i].created_at_ms)
         for i in first],
        [(name, refs[i], orders[i].created_at_ms) for i in first
         for name in finding.names_of(orders[i])])
    recs = dict(zip(first, found.records))
    fresh: list[int] = []
    for i, claim in zip(first, found.claims):
        rec = recs[i]
        if claim == EVICTED or (rec is not None and rec[1] == ARCHIVED):
            done.results[i] = SyncResult(Outcome.UNCHANGED, None)  # closed, in the records store
            recs[i] = None
            continue
        if rec is None:
            (done.slow if claim is not None else fresh).append(i)
    # Cross-channel only: one channel's own order numbers do not collide.
    dups = {i: sorted(r for r in d if r.split(":", 1)[0] != orders[i].channel)
            for i, d in zip(first, found.dups)}
    # Orders that arrive are routed first, the whole batch in one decision call.
    if fresh:
        done.routes = dict(zip(fresh, await router.route([orders[i] for i in fresh])))

    now = clock()
    planned: list[tuple[int, Plan, int, Lines]] = []
    for i in [*fresh, *(i for i in first if recs[i] is not None)]:
        rec = recs[i]
        current = codec.decode(rec[1]) if rec else None
        p = plan_sync(current, orders[i], dups[i] if current is None else [], now,
                      done.routes.get(i))
        if isinstance(p, SyncResult):  # unchanged, stale, or refused alone
            done.results[i] = p
            continue
        anchor = anchors[i]
        parts = ops.parts(p.order)
        if set(parts) != {anchor}:
            done.slow.append(i)
            continue
        planned.append((i, p, anchor, parts[anchor]))
    await _apply(store, ops, refs, planned, done)
    done.slow.sort()
    return done


async def _apply(store: OrderStore, ops: Ops, refs: list[str],
                 planned: list[tuple[int, Plan, int, Lines]], done: Pass) -> None:
    # Expedited orders first in their shard's script call: when units are short, they
    # get them before the rest of the batch (a stable sort keeps the others' order).
    planned.sort(key=lambda t: -t[1].order.priority)
    by_shard: dict[int, list[tuple[int, Plan, bytes]]] = {}
    for i, p, anchor, lines in planned:
        op = ops.op("order", refs[i], anchor, p, p.order, lines, p.want)
        by_shard.setdefault(anchor, []).append((i, p, op))

    async def run(shard: int, items: list[tuple[int, Plan, bytes]]) -> None:
        replies = await store.apply(shard, [op for _, _, op in items])
        for (i, p, _), r in zip(items, replies):
            if r.code in ("CONFLICT", "DEAD", "REFUSED"):
                done.slow.append(i)  # REFUSED wrote nothing: one by one, with its fallback
            else:
                done.results[i] = written(p, r, p.order)

    await asyncio.gather(*(run(shard, items[k:k + CHUNK])
                           for shard, items in by_shard.items()
                           for k in range(0, len(items), CHUNK)))

"""SyncOrders for a batch: the reads of every order in one pipeline per step, then one
order_apply_many script per shard for the orders whose lines all sit in their anchor
shard. What cannot go that way (an order repeated in the batch, a multi-shard order, a
race lost to another writer, a hold that ended) goes through `OrderHub.sync_one`, in
batch order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from reservation.ordersync import codec
from reservation.ordersync import plan as planning
from reservation.ordersync.model import ChannelOrder
from reservation.ordersync.plan import Outcome, Plan
from reservation.storage.orders import order_ref

if TYPE_CHECKING:
    from reservation.ordersync.hub import OrderHub, SyncResult

CHUNK = 100
"""Most ops per script call: long enough to amortise, short enough not to stall Redis."""


async def sync_batch(hub: OrderHub, orders: Sequence[ChannelOrder]) -> list[SyncResult]:
    from reservation.ordersync.hub import SyncResult, _result

    results: list[SyncResult | None] = [None] * len(orders)
    refs = [order_ref(*co.key) for co in orders]
    seen: set[str] = set()
    first: list[int] = []
    slow: list[int] = []
    for i, ref in enumerate(refs):
        (slow if ref in seen else first).append(i)
        seen.add(ref)

    locs = await hub.orders.locate_many([refs[i] for i in first])
    found = [(i, loc) for i, loc in zip(first, locs) if loc is not None]
    recs = dict(zip((i for i, _ in found),
                    await hub.orders.read_many([(loc, refs[i]) for i, loc in found])))
    fresh = [i for i in first if recs.get(i) is None]
    dups_raw = await hub.orders.suspect_many(
        [(refs[i], orders[i].buyer_hash, orders[i].address.key(), orders[i].created_at_ms)
         for i in fresh])
    dups = {i: sorted(r for r in d if r.split(":", 1)[0] != orders[i].channel)
            for i, d in zip(fresh, dups_raw)}
    loc_of = dict(zip(first, locs))
    # Orders that arrive are routed first, the whole batch in one decision call.
    routes = dict(zip(fresh, await hub.router.route([orders[i] for i in fresh]))) \
        if fresh else {}

    now = hub.clock()
    planned: list[tuple[int, Plan, int]] = []
    claims: list[tuple[int, int]] = []
    for i in first:
        rec = recs.get(i)
        current = codec.decode(rec[1]) if rec else None
        p = planning.sync(current, orders[i], dups.get(i, []), now, routes.get(i))
        if isinstance(p, Outcome):
            results[i] = SyncResult(p, current)
            continue
        anchor = loc_of[i] if current else hub._anchor(orders[i])
        assert anchor is not None
        parts = hub._parts(p.order)
        if set(parts) != {anchor}:
            slow.append(i)
            continue
        planned.append((i, p, anchor))
        if current is None:
            claims.append((i, anchor))

    claimed = await hub.orders.claim_many([(refs[i], shard) for i, shard in claims])
    lost = {i for (i, want), got in zip(claims, claimed) if want != got}
    by_shard: dict[int, list[tuple[int, Plan, str]]] = {}
    for i, p, anchor in planned:
        if i in lost:
            slow.append(i)
            continue
        parts = hub._parts(p.order)
        op = hub._op("order", refs[i], anchor, p, p.order, parts[anchor], p.want)
        by_shard.setdefault(anchor, []).append((i, p, op))

    async def run(shard: int, items: list[tuple[int, Plan, str]]) -> None:
        replies = await hub.orders.apply(shard, [op for _, _, op in items])
        for (i, p, _), r in zip(items, replies):
            if r.code in ("CONFLICT", "DEAD", "REFUSED"):
                slow.append(i)  # REFUSED wrote nothing: one by one, with its fallback
            else:
                results[i] = _result(p, r, p.order)

    await asyncio.gather(*(run(shard, items[k:k + CHUNK])
                           for shard, items in by_shard.items()
                           for k in range(0, len(items), CHUNK)))
    for i in sorted(slow):
        results[i] = await hub.sync_one(orders[i], [routes[i]] if i in routes else None)
    return [r for r in results if r is not None]

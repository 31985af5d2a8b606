"""The order hub: sync channel orders, move them through the state machine with their
stock, and answer what an order is and was.

Atomicity. An order's record lives in its anchor shard (the shard of its first line's
SKU). Its state, history, event stream entries and the stock of its lines in that shard
change in ONE script (order_apply_many.lua). Lines in other shards (a multi-SKU order
spanning shards, or a gift from another shard) are a saga: their holds are made first,
one idempotent script per shard; then the anchor script writes the state; if the anchor
refuses, the holds this call made are released again. A crash in between leaves at most
unpaid holds that expire, or confirmed parts the retried sync finds and keeps.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reservation import clock as clock_
from reservation.domain.models import OrderLine
from reservation.errors import (
    Aborted,
    FailedPrecondition,
    NotFound,
)
from reservation.ordersync import aftersales, batch, codec, finding, warehouse
from reservation.ordersync import plan as planning
from reservation.ordersync.effects import HoldWant
from reservation.ordersync.events import OrderEvent
from reservation.ordersync.model import Address, ChannelOrder, Line, Order, Shipment
from reservation.ordersync.ops import AUDIT_GROUP, Ops
from reservation.ordersync.plan import Outcome, Plan
from reservation.ordersync.results import (
    Key,
    Reviewer,
    SyncResult,
    plan_sync,
    reviewed,
)
from reservation.ordersync.results import written as written_result
from reservation.ordersync.routes import PriorityRouter, Route, Router
from reservation.ordersync.states import OrderState
from reservation.settings import Settings
from reservation.storage import keys
from reservation.storage.orders import ARCHIVED, EVICTED, OrderStore, order_ref
from reservation.storage.replies import OpReply, PartReply
from reservation.storage.store import Store
from reservation.writeback import WriteBack  # before storage.writeback (import cycle)

# isort: split
from reservation.storage.writeback import WriteBackStore

ATTEMPTS = 10


class Archived(FailedPrecondition):
    """The order is closed and left Redis for the records store: it changes no more."""


class _Retry(Exception):
    """The order changed under us (or a hold ended): read it again and replan."""


def parse_event(shard: int, entry_id: str, fields: dict[str, str], n: int) -> OrderEvent:
    return OrderEvent.decode(fields["e"], event_id=fields.get("eid") or f"{shard}-{entry_id}",
                             shard=shard, entry_id=entry_id, delivery_count=n)


def _holding(order: Order, holds: Sequence[PartReply]) -> Order:
    """The order as GetOrder answers it: with the warehouses its live holds allocate
    from and their states."""
    warehouses: list[str] = []
    states_ = []
    for h in holds:
        states_.append(h.state or "NONE")
        for item in h.allocations.split(";") if h.allocations else []:
            wh = item.split("|")[1]
            if wh not in warehouses:
                warehouses.append(wh)
    return order.copy(warehouses=tuple(warehouses),
                      reservation_state=",".join(sorted(set(states_))))


class OrderHub:
    def __init__(self, store: Store, settings: Settings, router: Router | None = None,
                 clock: Callable[[], int] = clock_.now_ms) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        """Time of the hub's own decisions (routed at, event times); a seam for tests."""
        self.orders = OrderStore(store)
        self.router: Router = router or PriorityRouter()
        """Routes orders as they arrive (see ordersync/routes.py)."""
        self.events = WriteBack(WriteBackStore(store, keys.ORDER_EVENTS, parse_event), settings,
                                settings.order_event_groups, "order_event_groups")
        self.trail = AUDIT_GROUP in self.events.groups or bool(settings.records_database_url)
        """Whether the audit trail goes to the streams: for the `audit` group, or for the
        records store (reservation/records/follower.py reads the same entries)."""
        self.ops = Ops(settings, self.events.groups, self.trail)
        self.reviewer: Reviewer | None = None
        """Checks what a sync or a shipment changed (interception implements it): the
        rules in force may hold an order, and a sync's result says so."""

    async def start(self) -> None:
        await self.events.start()

    # -- reading ----------------------------------------------------------------------
    async def _load(self, ref: str) -> tuple[int, Order] | None:
        shard = await self.orders.locate(ref, None)
        if shard is None:
            return None
        rec = None if shard == EVICTED else await self.orders.read(shard, ref)
        if rec is None and shard != EVICTED:
            # Eviction moves the locator before the record goes: no record now, so a
            # locator read again says whether the order left meanwhile.
            shard = await self.orders.locate(ref, None)
        if shard == EVICTED or (rec is not None and rec[1] == ARCHIVED):
            raise Archived(f"order {ref} is closed and kept in the records store: it "
                           "changes no more")
        return None if rec is None or shard is None else (shard, codec.decode(rec[1]))

    async def get(self, channel: str, shop: str, order_id: str) -> Order:
        """The order as Redis has it (NotFound also when it left for the records store:
        reservation/records/reads.py answers from there)."""
        try:
            found = await self._load(order_ref(channel, shop, order_id))
        except Archived:
            found = None
        if found is None:
            raise NotFound(f"order {channel}/{shop}/{order_id} not found")
        return await self._with_holds(found[1])

    async def get_many(self, refs: Sequence[str]) -> list[Order | None]:
        """get() of each order by its ref (None: Redis does not have it, or it left for
        the records store): the locators, the records and then the holds of them all,
        each read in one pipelined round trip (the records follower reads a pass's
        orders so)."""
        return [None if found is None else found[0] for found in await self.read_many(refs)]

    async def read_many(self, refs: Sequence[str]) -> list[tuple[Order, str] | None]:
        """get_many(), each order with its document as Redis keeps it (the records
        store keeps that text rather than the order encoded again; records/rows.py)."""
        located = [(shard, ref) for ref, shard in
                   zip(refs, await self.orders.locate_many(refs), strict=True)
                   if shard is not None]
        read = await self.orders.read_many(located)
        docs = {ref: rec[1] for (_, ref), rec in zip(located, read, strict=True)
                if rec is not None and rec[1] != ARCHIVED}
        held = await self.with_holds([codec.decode(doc) for doc in docs.values()])
        found = {ref: (order, doc) for (ref, doc), order in zip(docs.items(), held,
                                                                   strict=True)}
        return [found.get(ref) for ref in refs]

    async def with_holds(self, orders: Sequence[Order]) -> list[Order]:
        """The orders as GetOrder answers them: each with the warehouses and states of
        its live holds, the holds of them all read in one pipeline."""
        parts = [self.holds_of(order) for order in orders]
        holds = iter(await self.orders.holds([p for ps in parts for p in ps]))
        return [_holding(order, [next(holds) for _ in ps])
                for order, ps in zip(orders, parts, strict=True)]

    def holds_of(self, order: Order) -> list[tuple[int, str]]:
        """The order's stock holds: (shard, hold ref) of each part."""
        return self.ops.holds_of(order)

    async def _with_holds(self, order: Order) -> Order:
        [held] = await self.with_holds([order])
        return held

    async def history(self, channel: str, shop: str, order_id: str, offset: int,
                      count: int) -> list[OrderEvent]:
        ref = order_ref(channel, shop, order_id)
        shard = await self.orders.locate(ref, None)
        if shard is None or shard == EVICTED:  # evicted: records/reads.py reads the store
            raise NotFound(f"order {channel}/{shop}/{order_id} not found")
        return [OrderEvent.decode(e) for e in await self.orders.history(shard, ref, offset,
                                                                         count)]

    async def _execute(self, ref: str, anchor: int, p: Plan) -> tuple[OpReply, Order]:
        """Run a plan: other shards' holds first (saga), then the anchor script."""
        order = p.order
        parts = self.ops.parts(order)
        made: list[int] = []
        refused: OpReply | None = None
        for shard in sorted(s for s in parts if s != anchor):
            r = (await self.orders.apply(shard, [self.ops.op("part", ref, shard, p, order,
                                                          parts[shard], p.want)]))[0]
            if r.code == "DEAD":
                self._bump(p, shard)
                await self._release(ref, parts, p, made)
                raise _Retry
            if r.code == "REFUSED":
                refused = r
                break
            if r.act == "reserve":
                made.append(shard)
        if refused is not None:
            return await self._fallback(ref, anchor, p, parts, refused, made)
        op = self.ops.op("order", ref, anchor, p, order, parts.get(anchor, []), p.want)
        r = (await self.orders.apply(anchor, [op]))[0]
        return await self._settle(ref, anchor, p, parts, made, r)

    async def _settle(self, ref: str, anchor: int, p: Plan,
                      parts: dict[int, list[tuple[str, int, str]]], made: list[int],
                      r: OpReply) -> tuple[OpReply, Order]:
        if r.code == "CONFLICT":
            # Another writer moved the order first: the holds this call made in other
            # shards belong to a plan that will not be written.
            await self._release(ref, parts, p, made)
            raise _Retry
        if r.code == "DEAD":
            self._bump(p, anchor)
            await self._release(ref, parts, p, made)
            raise _Retry
        if r.code == "REFUSED":
            return await self._fallback(ref, anchor, p, parts, r, made)
        return r, p.order

    async def _fallback(self, ref: str, anchor: int, p: Plan,
                        parts: dict[int, list[tuple[str, int, str]]],
                        refused: OpReply, made: list[int]) -> tuple[OpReply, Order]:
        """The stock was refused and nothing was written at the refusing shard: write the
        order as far as paid and on review, naming why, under the same version check.
        An order written so holds nothing (units NONE): what its other parts hold is given
        back. An operator's move has no fallback: its refusal is FailedPrecondition, and
        only the holds this call made are given back."""
        why = f"{refused.reason} {refused.failed_sku}"
        if p.fallback_fn is None:
            await self._release(ref, parts, p, made)
            raise FailedPrecondition(f"stock refused: {why}")
        order, events = p.fallback_fn()
        order.hold_gens = dict(p.order.hold_gens)
        fb = _substitute(order, events, why)
        op = self.ops.op("order", ref, anchor, p, order, parts.get(anchor, []),
                      HoldWant.RELEASED, primary=fb)
        r = (await self.orders.apply(anchor, [op]))[0]
        if r.code == "CONFLICT":
            await self._release(ref, parts, p, made)
            raise _Retry
        # Written: the order holds nothing now, so neither do its other parts.
        await self._release(ref, parts, p, [s for s in parts if s != anchor])
        return OpReply("FALLBACK", r.version, "", "", refused.reason, refused.failed_sku,
                       ""), order

    async def _release(self, ref: str, parts: dict[int, list[tuple[str, int, str]]], p: Plan,
                       shards: Sequence[int]) -> None:
        """Give back the holds of the order's parts in these shards (compensation)."""
        for shard in shards:
            await self.orders.apply(shard, [self.ops.op("part", ref, shard, p, p.order,
                                                     parts[shard], HoldWant.RELEASED)])

    @staticmethod
    def _bump(p: Plan, shard: int) -> None:
        gens = dict(p.order.hold_gens)
        gens[str(shard)] = gens.get(str(shard), 0) + 1
        p.order.hold_gens = gens

    # -- sync -------------------------------------------------------------------------
    async def _duplicates(self, ref: str, co: ChannelOrder) -> list[str]:
        near = await self.orders.suspect_duplicates(ref, co.buyer_hash, co.address.key(),
                                                    co.created_at_ms)
        # Cross-channel only: one channel's own order numbers do not collide.
        return sorted(r for r in near if r.split(":", 1)[0] != co.channel)

    def _writer(self, ref: str,
                lines: Sequence[OrderLine | Line]) -> contextlib.AbstractAsyncContextManager[None]:
        """Writers of a multi-shard order go one at a time (OrderStore.writer); a one-shard
        order changes in one script and needs no lock."""
        n = self.settings.shards
        if len({keys.shard_of(line.sku, n) for line in lines}) > 1:
            return self.orders.writer(ref)
        return contextlib.nullcontext()

    async def _lines_of(self, ref: str, channel: str, shop: str, order_id: str) -> tuple[Line, ...]:
        found = await self._load(ref)
        if found is None:
            raise NotFound(f"order {channel}/{shop}/{order_id} not found")
        return found[1].lines

    async def sync_one(self, co: ChannelOrder,
                       routed: list[Route | None] | None = None) -> SyncResult:
        """One order; `routed`: its routing decision when the caller made it already."""
        async with self._writer(order_ref(*co.key), co.lines):
            return await self._sync_one(co, routed)

    async def _sync_one(self, co: ChannelOrder, routed: list[Route | None] | None) -> SyncResult:
        ref = order_ref(*co.key)
        gens: dict[str, int] = {}
        for _ in range(ATTEMPTS):
            try:
                found = await self._load(ref)
            except Archived:  # a closed order resent: nothing can change it
                return SyncResult(Outcome.UNCHANGED, None)
            current = found[1] if found else None
            dups = [] if current else await self._duplicates(ref, co)
            if current is None and routed is None:
                routed = await self.router.route([co])  # an order that arrives is routed
            route = routed[0] if routed and current is None else None
            p = plan_sync(current, co, dups, self.clock(), route)
            if isinstance(p, SyncResult):
                return p
            _carry_gens(p, gens)
            anchor = found[0] if found else await self.orders.locate(ref, self.ops.anchor(co))
            if anchor == EVICTED:  # left for the records store since it was read
                return SyncResult(Outcome.UNCHANGED, None)
            assert anchor is not None
            try:
                r, written = await self._execute(ref, anchor, p)
            except _Retry:
                gens = dict(p.order.hold_gens)
                continue
            return written_result(p, r, written)
        raise Aborted(f"order {ref} kept changing under concurrent writers; try again")

    async def sync(self, orders: Sequence[ChannelOrder],
                   facts: Mapping[Key, Any] | None = None) -> list[SyncResult]:
        """A batch, each order's result final: one-shard orders of one shard go out in
        one script call; the rest (repeats within the batch, multi-shard orders, lost
        races) one by one; then the reviewer checks what was written (`facts`: what the
        caller sent beside each order for it)."""
        done = await batch.first_pass(self.orders, self.router, self.ops, self.clock, orders)
        for i in done.slow:
            done.results[i] = await self.sync_one(
                orders[i], [done.routes[i]] if i in done.routes else None)
        results = [r for r in done.results if r is not None]
        for co, r in zip(orders, results, strict=True):
            if r.outcome == Outcome.REFUSED and r.order is not None:
                # The hub did not follow the channel: its report is kept beside the
                # order, so the order health sees the disagreement (ordersync/health.py).
                await self.orders.note_channel_report(
                    order_ref(*co.key), co.state.value, co.raw_status, co.modified_at_ms)
        return await self._reviewed(orders, results, facts or {})

    async def _reviewed(self, orders: Sequence[ChannelOrder], results: list[SyncResult],
                        facts: Mapping[Key, Any]) -> list[SyncResult]:
        """Results as the reviewer's check left them: before any label, the rules in
        force may hold what was just synced. The last result of a key repeated in the
        batch is the one the check saw."""
        if self.reviewer is None:
            return results
        after = await self.reviewer.review(results, facts)
        last = {co.key: i for i, co in enumerate(orders)}
        return [reviewed(r, after[co.key]) if last[co.key] == i and co.key in after else r
                for i, (co, r) in enumerate(zip(orders, results, strict=True))]

    # -- operator and WMS changes -----------------------------------------------------
    async def _change(self, channel: str, shop: str, order_id: str,
                      make: planning.PlanMaker) -> SyncResult:
        ref = order_ref(channel, shop, order_id)
        async with self._writer(ref, await self._lines_of(ref, channel, shop, order_id)):
            return await self._change_now(ref, channel, shop, order_id, make)

    async def _change_now(self, ref: str, channel: str, shop: str, order_id: str,
                          make: planning.PlanMaker) -> SyncResult:
        gens: dict[str, int] = {}
        for _ in range(ATTEMPTS):
            found = await self._load(ref)
            if found is None:
                raise NotFound(f"order {channel}/{shop}/{order_id} not found")
            anchor, current = found
            p = await make(current)
            if isinstance(p, Outcome):
                return SyncResult(p, current)
            _carry_gens(p, gens)
            try:
                r, written = await self._execute(ref, anchor, p)
            except _Retry:
                gens = dict(p.order.hold_gens)
                continue
            return written_result(p, r, written)
        raise Aborted(f"order {ref} kept changing under concurrent writers; try again")

    async def transition(self, channel: str, shop: str, order_id: str, to: OrderState,
                         actor: str, reason: str) -> SyncResult:
        async def make(current: Order) -> Plan:
            return planning.transition(current, to, actor, reason, self.clock())
        return await self._change(channel, shop, order_id, make)

    async def report_shipment(self, channel: str, shop: str, order_id: str,
                              shipment: Shipment, actor: str) -> SyncResult:
        async def make(current: Order) -> Plan | Outcome:
            # Listed under its tracking number before the shipment is written, so
            # FindOrders never misses it (a shipment refused leaves a harmless entry).
            await self.orders.index_found(finding.tracking_name(shipment.tracking_number),
                                          order_ref(*current.key), current.created_at_ms)
            return planning.shipment(current, await self._shipped_from(current, shipment),
                                     actor, self.clock())
        r = await self._change(channel, shop, order_id, make)
        if self.reviewer is not None:
            await self.reviewer.review([r], {})  # shipped past a hold: a review
        return r

    async def _shipped_from(self, order: Order, shipment: Shipment) -> Shipment:
        """The shipment with its warehouse: the WMS's word, else the one warehouse the
        order's stock is held at (where the units leave from), else left empty."""
        if shipment.warehouse_id:
            return shipment
        held = (await self._with_holds(order)).warehouses
        return dataclasses.replace(shipment, warehouse_id=held[0]) if len(held) == 1 else shipment

    async def restock(self, channel: str, shop: str, order_id: str, restock_id: str,
                      lines: Sequence[tuple[str, int]], actor: str,
                      reason: str) -> SyncResult:
        """Goods of a shipped order that came back. The anchor script records the restock
        on the order (the ledger: its version check makes it once) with its own shard's
        units; the other shards' units follow, each once per restock id, and a repeat
        of the call drives any that a crash left behind (the answer is UNCHANGED)."""
        ref = order_ref(channel, shop, order_id)
        async with self._writer(ref, await self._lines_of(ref, channel, shop, order_id)):
            return await self._restock(ref, channel, shop, order_id, restock_id, lines,
                                       actor, reason)

    async def _restock(self, ref: str, channel: str, shop: str, order_id: str,
                       restock_id: str, lines: Sequence[tuple[str, int]], actor: str,
                       reason: str) -> SyncResult:
        for _ in range(ATTEMPTS):
            found = await self._load(ref)
            if found is None:
                raise NotFound(f"order {channel}/{shop}/{order_id} not found")
            anchor, current = found
            p = planning.restock(current, restock_id, lines, actor, reason, self.clock())
            if isinstance(p, Outcome):
                await self._restock_parts(ref, current, restock_id, skip=anchor)
                return SyncResult(p, current)
            want = f"restock:{restock_id}"
            parts = self._restock_lines(p.order, restock_id)
            r = (await self.orders.apply(anchor, [self.ops.op(
                "order", ref, anchor, p, p.order, parts.get(anchor, []), want)]))[0]
            if r.code == "CONFLICT":
                continue
            if r.code != "OK":
                raise FailedPrecondition(f"restock refused: {r.reason} {r.failed_sku}")
            await self._restock_parts(ref, p.order, restock_id, skip=anchor)
            return SyncResult(Outcome.UPDATED, p.order)
        raise Aborted(f"order {ref} kept changing under concurrent writers; try again")

    def _restock_lines(self, order: Order,
                       restock_id: str) -> dict[int, list[tuple[str, int, str]]]:
        """A restock's units by shard, as script lines (sku, units, '')."""
        parts: dict[int, list[tuple[str, int, str]]] = {}
        for sku, units in order.restocked[restock_id].items():
            shard = keys.shard_of(sku, self.settings.shards)
            parts.setdefault(shard, []).append((sku, units, ""))
        return parts

    async def _restock_parts(self, ref: str, order: Order, restock_id: str,
                             skip: int) -> None:
        p = Plan(order, [], HoldWant.KEEP, order.version, Outcome.UPDATED)
        for shard, lines in sorted(self._restock_lines(order, restock_id).items()):
            if shard == skip:
                continue
            r = (await self.orders.apply(shard, [self.ops.op(
                "part", ref, shard, p, order, lines, f"restock:{restock_id}")]))[0]
            if r.code != "OK":
                raise FailedPrecondition(f"restock refused in shard {shard}: {r.reason} "
                                         f"{r.failed_sku}")

    async def update_address(self, channel: str, shop: str, order_id: str, address: Address,
                             actor: str, reason: str) -> SyncResult:
        async def make(current: Order) -> Plan | Outcome:
            return planning.address(current, address, actor, reason, self.clock(),
                                    await self._held_at(current))
        return await self._change(channel, shop, order_id, make)

    async def expedite(self, channel: str, shop: str, order_id: str, actor: str,
                       reason: str) -> SyncResult:
        async def make(current: Order) -> Plan | Outcome:
            return planning.expedite(current, actor, reason, self.clock(),
                                     await self._held_at(current))
        return await self._change(channel, shop, order_id, make)

    async def set_after_sales(self, channel: str, shop: str, order_id: str,
                              reason: aftersales.Reason, actor: str) -> SyncResult:
        async def make(current: Order) -> Plan | Outcome:
            return aftersales.set_reason(current, reason, actor, self.clock())
        return await self._change(channel, shop, order_id, make)

    async def report_warehouse_state(self, channel: str, shop: str, order_id: str,
                                     state: OrderState, raw_status: str, at_ms: int,
                                     actor: str) -> SyncResult:
        async def make(current: Order) -> Plan | Outcome:
            return warehouse.report(current, state, raw_status, at_ms, actor, self.clock())
        return await self._change(channel, shop, order_id, make)

    async def _held_at(self, order: Order) -> str:
        """The first warehouse the order's stock is held at ('' when none)."""
        held = await self._with_holds(order)
        return held.warehouses[0] if held.warehouses else ""

    async def choose_carrier(self, channel: str, shop: str, order_id: str, carrier: str,
                             cost_cents: int, actor: str, reason: str) -> SyncResult:
        async def make(current: Order) -> Plan | Outcome:
            return planning.carrier(current, carrier, cost_cents, actor, reason,
                                    self.clock(), await self._held_at(current))
        return await self._change(channel, shop, order_id, make)


def _carry_gens(p: Plan, gens: dict[str, int]) -> None:
    """Hold generations bumped by an earlier attempt of this call stay bumped."""
    if gens:
        merged = dict(p.order.hold_gens)
        for shard, gen in gens.items():
            merged[shard] = max(gen, merged.get(shard, 0))
        p.order.hold_gens = merged


def _substitute(order: Order, events: list[OrderEvent],
                why: str) -> tuple[Order, list[OrderEvent], set[int]]:
    """A fallback written without its stock op: the refusal is named here, not in Lua."""
    fixed = [dataclasses.replace(e, reason=e.reason.replace(planning.STOCK_PLACEHOLDER, why))
             for e in events]
    review = tuple(r.replace(planning.STOCK_PLACEHOLDER, why) for r in order.review)
    order.review = review
    return order, fixed, set()

"""The routing capability: warehouses and rule sets in Redis, hot reload, decisions.

A call reads the stock it decides on, and, when the ones it holds are older than
REFRESH_S, the rule set and warehouse versions and today's loads, in one snapshot that
the calls of an event-loop turn share (storage/routing.py); a changed version reloads
the rule set and warehouses (kept in process with their kernel columns). So a rule set
put through any replica is the one every replica uses within REFRESH_S (0.2 s), and the
replica it was put through from its next call: no restart.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from reservation.domain import validation
from reservation.errors import InvalidArgument, NotFound
from reservation.routing import backtest, lint, router, rules, warehouses
from reservation.routing.geography import Place, geography
from reservation.routing.matching import Destination, RouteLine, RouteOrder
from reservation.routing.router import Decision, Table
from reservation.routing.rules import RuleSet
from reservation.routing.warehouses import Warehouse
from reservation.settings import Settings
from reservation.storage.routing import (
    RECENT_KEPT,
    RecentBuffer,
    RoutingStore,
    SnapshotReader,
    Versions,
)
from reservation.storage.rulesets import RulesVersion
from reservation.storage.store import Store

# Warehouses count "today" in China time (UTC+8, no daylight saving).
CHINA = timezone(timedelta(hours=8))
MAX_TEXT = 64
MAX_ADDRESS = 256
HISTORY_DEFAULT = 50
SAMPLE_DEFAULT = 1000
PLACES_KEPT = 4096  # resolved destinations kept in process (most-recently used)
REFRESH_S = 0.2
"""Routing reads the rule set and warehouse versions, and today's loads (every shard's
counter), at most this often; in between a decision uses the rules and warehouses it
holds, and the last loads read plus this replica's own routed holds since. A put
through this replica applies to its next call; through another, within REFRESH_S."""
NEAR_THRESHOLD = 0.05
"""... except near a hard stop: a warehouse within this share of its threshold (or
within this replica's routed holds in flight) is decided on a fresh read."""


_today: tuple[int, str] = (-1, "")


def today(now: datetime | None = None) -> str:
    """yyyymmdd in China time. Without `now`, kept per minute of Unix time (every
    routed order asks, and strftime is not free): a day in UTC+8 starts on a minute
    boundary, so a kept value never straddles midnight."""
    global _today
    if now is not None:
        return now.astimezone(CHINA).strftime("%Y%m%d")
    minute = int(time.time()) // 60
    if _today[0] != minute:
        _today = (minute, datetime.now(CHINA).strftime("%Y%m%d"))
    return _today[1]


@dataclass(frozen=True)
class RulesView:
    """A rule set version with what is in force because of it: the weights and load
    threshold (the document's or the defaults), and the rules that can never act given
    the warehouses defined now."""

    record: RulesVersion
    weights: Mapping[str, float]
    load_threshold: float
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Simulation:
    orders: int
    changed: int
    changes: Mapping[tuple[str, str], int]
    current_version: int

    @property
    def match_ratio(self) -> float:
        return 1.0 if self.orders == 0 else (self.orders - self.changed) / self.orders


class SingleFlight:
    """Concurrent callers of one read share the read in flight instead of each sending
    their own: 50 concurrent Route calls read today's loads (a command per shard) once.
    A caller never gets a value read before it asked... except from a read already in
    flight when it asked, which is as fresh as the decision-then-hold race allows anyway."""

    def __init__(self, read: Callable[[], Awaitable[Any]]) -> None:
        self._read = read
        self._task: asyncio.Future[Any] | None = None

    async def __call__(self) -> Any:
        if self._task is None:
            task = asyncio.ensure_future(self._read())
            task.add_done_callback(self._clear)
            self._task = task
        # shield: one caller's cancellation does not cancel the others' read.
        return await asyncio.shield(self._task)

    def _clear(self, task: asyncio.Future[Any]) -> None:
        if self._task is task:
            self._task = None
        if not task.cancelled():
            task.exception()  # retrieved: an error reaches every waiter, not the loop's log


class Loads:
    """Today's routed orders per warehouse as routing sees them between reads: the last
    read of the counters plus the holds this replica made since. A hold counts here only
    if it started after that read came back (else the read may already hold it: no
    double count); the ones that straddle a read show at the next one."""

    def __init__(self) -> None:
        self.day = ""
        self.read_at = -math.inf
        self.asked_at = -math.inf  # a read in flight: the others wait for its answer
        self.generation = 0
        self.counts: dict[str, int] = {}
        self.in_flight = 0

    def stale(self, tab: Table, threshold: float, day: str, now: float) -> bool:
        if day != self.day or now - max(self.read_at, self.asked_at) >= REFRESH_S:
            return True
        for w, cap in zip(tab.ids, tab.capacity, strict=True):
            if cap:
                limit = threshold * cap
                margin = max(1.0, NEAR_THRESHOLD * limit, float(self.in_flight))
                if self.counts.get(w, 0) >= limit - margin:
                    return True
        return False

    def read(self, counts: Mapping[str, int], day: str, now: float) -> None:
        self.day, self.read_at, self.counts = day, now, dict(counts)
        self.generation += 1

    def started(self) -> int:
        self.in_flight += 1
        return self.generation

    def done(self, generation: int, day: str, warehouses: Sequence[str]) -> None:
        self.in_flight -= 1
        if generation == self.generation and day == self.day:
            for w in warehouses:
                self.counts[w] = self.counts.get(w, 0) + 1


STOCK_MARGIN = 10
ACTIVE_SKUS = 256
"""Reserve with a destination decides on the stock read in the last REFRESH_S (minus
this replica's routed holds since) only with room to spare: every allocation leaves at
least this many units (or this replica's routed orders in flight, if more) above the
warehouse's safety stock, and the order is fully allocated; otherwise it reads again."""


class StockSeen:
    """Available units per SKU and warehouse from recent reads, for Reserve with a
    destination: the reserve script re-checks stock atomically and tries the routed
    candidates in order, so a stale view changes only which warehouse is tried first,
    never what is held... within STOCK_MARGIN, where a fresh read decides instead (a
    view can only run ahead of Redis by what other replicas and plain Reserves took in
    the last REFRESH_S). Holds this replica made since a read are taken off the view,
    as in Loads."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, int, dict[str, int]]] = {}
        self.used: dict[str, float] = {}  # SKU -> when a decision last asked for it
        self.refreshed_at = -math.inf     # when the SKUs routed lately were last read
        self.generation = 0
        self.in_flight = 0

    def view(self, skus: Sequence[str], now: float) -> dict[str, dict[str, int]] | None:
        out = {}
        for sku in skus:
            self.used[sku] = now
            entry = self.entries.get(sku)
            if entry is None or now - entry[0] >= REFRESH_S:
                return None
            out[sku] = entry[2]
        return out

    def active(self, now: float) -> list[str]:
        """The SKUs decisions asked for in the last REFRESH_S (at most ACTIVE_SKUS, the
        latest): the periodic read refreshes them all, so an order of a SKU sold
        steadily finds a recent view instead of reading on its own."""
        recent = [(t, sku) for sku, t in self.used.items() if now - t < REFRESH_S]
        self.used = {sku: t for t, sku in recent}
        return [sku for _, sku in sorted(recent, reverse=True)[:ACTIVE_SKUS]]

    def read(self, stock: Mapping[str, Mapping[str, int]], now: float) -> None:
        self.generation += 1
        for sku, counts in stock.items():
            self.entries[sku] = (now, self.generation, dict(counts))
        if len(self.entries) > PLACES_KEPT:  # SKUs no longer ordered: dropped
            for sku in [k for k, e in self.entries.items() if now - e[0] >= REFRESH_S]:
                del self.entries[sku]

    def roomy(self, decision: Decision, stock: Mapping[str, Mapping[str, int]],
              tab: Table) -> bool:
        if not decision.routed:
            return False
        margin = max(STOCK_MARGIN, self.in_flight)
        for line in decision.lines:
            counts = stock.get(line.sku, {})
            for wh, q in line.allocations:
                j = tab.index[wh]
                if counts.get(wh, 0) - tab.safety[j] - q < margin:
                    return False
        return True

    def started(self) -> int:
        self.in_flight += 1
        return self.generation

    def done(self, generation: int, held: Sequence[tuple[str, str, int]]) -> None:
        self.in_flight -= 1
        for sku, wh, q in held:
            entry = self.entries.get(sku)
            if entry is not None and entry[1] <= generation:  # read before the hold began
                entry[2][wh] = entry[2].get(wh, 0) - q


@dataclass
class _Cache:
    versions: Versions
    rules: RuleSet
    warehouses: list[Warehouse]
    table: Table


class Routing:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.db = RoutingStore(store)
        self.settings = settings
        self.geo = geography()
        self._cache: _Cache | None = None
        self._lock = asyncio.Lock()
        self._versions = SingleFlight(self.db.versions)
        self._loads = SingleFlight(lambda: self.db.loads(today()))
        self._recent = RecentBuffer(store, _remembered)
        self.reader = SnapshotReader(store, before_flush=self._recent.stage)
        self._places: OrderedDict[tuple[str, str, str, str, str], Place] = OrderedDict()
        self.loads_seen = Loads()
        self.stock_seen = StockSeen()
        self._checked_at = -math.inf  # when the versions were last read (monotonic)

    # -- hot reload -------------------------------------------------------------------
    async def current(self) -> tuple[RuleSet, list[Warehouse]]:
        """The rule set and warehouses in force now (reloaded when Redis has newer)."""
        cache = await self._current(await self._versions())
        return cache.rules, cache.warehouses

    async def _current(self, versions: Versions) -> _Cache:
        cache = self._cache
        if cache is None or cache.versions != versions:
            async with self._lock:
                cache = self._cache
                if cache is None or cache.versions != versions:
                    cache = await self._load(versions)
                    self._cache = cache
        return cache

    async def _load(self, versions: Versions) -> _Cache:
        whs = await self.list_warehouses()
        tab = router.table(whs)
        if versions.rules == 0:
            return _Cache(versions, RuleSet(), whs, tab)
        raw = await self.db.rules_record(versions.rules)
        doc = RulesVersion.decode(versions.rules, raw).document if raw else {}
        # Stored sets were valid when put; a warehouse deleted since only loses its rule
        # references, it never blocks routing (parse would refuse the whole set).
        return _Cache(versions, _lenient(doc, whs, versions.rules), whs, tab)

    # -- warehouses -------------------------------------------------------------------
    async def put_warehouse(self, wh: Warehouse, validate_only: bool = False) -> Warehouse:
        wh = warehouses.validate(wh, self.geo)
        known = await self.db.warehouse_records()
        if wh.warehouse_id not in known and len(known) >= warehouses.MAX_WAREHOUSES:
            raise InvalidArgument("warehouse.warehouse_id",
                                  f"at most {warehouses.MAX_WAREHOUSES} warehouses")
        if validate_only:
            return wh
        await self.db.put_warehouse(wh.warehouse_id, wh.encode())
        self._checked_at = -math.inf  # this replica's next call uses it
        return wh

    async def list_warehouses(self) -> list[Warehouse]:
        records = await self.db.warehouse_records()
        return sorted((Warehouse.decode(r) for r in records.values()),
                      key=lambda w: w.warehouse_id)

    async def get_warehouse(self, warehouse_id: str) -> Warehouse:
        validation.code("warehouse_id", warehouse_id)
        for wh in await self.list_warehouses():
            if wh.warehouse_id == warehouse_id:
                return wh
        raise NotFound(f"no warehouse {warehouse_id}")

    async def loads(self) -> dict[str, int]:
        """Orders routed to each warehouse today (one read shared by concurrent calls)."""
        return dict(await self._loads())

    # -- rule sets --------------------------------------------------------------------
    async def put_rules(self, document: Mapping[str, Any], comment: str = "",
                        expected_version: int = 0, rolled_back_to: int = 0,
                        validate_only: bool = False) -> RulesView:
        if len(comment) > 256:
            raise InvalidArgument("comment", "is longer than 256 characters")
        if expected_version < 0:
            raise InvalidArgument("expected_version", "must be 0 (any) or a version")
        whs = await self.list_warehouses()
        parsed = rules.parse(document, whs)
        record = RulesVersion(0, dict(document), comment, int(time.time() * 1000),
                              rolled_back_to)
        if validate_only:  # what it would put in force; version 0: nothing stored
            return RulesView(record, parsed.weights, parsed.load_threshold,
                             tuple(lint.never_matching(parsed, whs)))
        version = await self.db.put_rules(record.encode(), expected_version)
        self._checked_at = -math.inf  # this replica's next call uses it
        return RulesView(replace(record, version=version), parsed.weights,
                         parsed.load_threshold, tuple(lint.never_matching(parsed, whs)))

    async def view(self, record: RulesVersion) -> RulesView:
        """What a stored version puts in force (weights, threshold), and its warnings."""
        return (await self.views([record]))[0]

    async def views(self, records: Sequence[RulesVersion]) -> list[RulesView]:
        whs = await self.list_warehouses()
        out = []
        for record in records:
            parsed = _lenient(record.document, whs, record.version)
            out.append(RulesView(record, parsed.weights, parsed.load_threshold,
                                 tuple(lint.never_matching(parsed, whs))))
        return out

    async def get_rules(self, version: int = 0) -> RulesVersion:
        if version < 0:
            raise InvalidArgument("version", "must be 0 (current) or a version")
        if version == 0:
            version = (await self.db.versions()).rules
            if version == 0:
                return RulesVersion(0, {"rules": []}, "no rule set put yet", 0)
        raw = await self.db.rules_record(version)
        if raw is None:
            raise NotFound(f"no rule set version {version} (the last 500 are kept)")
        return RulesVersion.decode(version, raw)

    async def history(self, limit: int = 0) -> tuple[list[RulesVersion], int]:
        if not 0 <= limit <= 500:
            raise InvalidArgument("limit", "must be 0 (50) .. 500")
        current = (await self.db.versions()).rules
        wanted = list(range(current, 0, -1))[: limit or HISTORY_DEFAULT]
        # `current` is the version in force; newer versions cannot exist, but a rollback
        # makes the newest version the current one, so history is simply newest first.
        raws = await self.db.rules_records(wanted)
        return [RulesVersion.decode(v, r) for v, r in zip(wanted, raws, strict=True)
                if r is not None], current

    async def rollback(self, version: int, validate_only: bool = False) -> RulesView:
        if version <= 0:
            raise InvalidArgument("version", "must name an earlier version")
        old = await self.get_rules(version)
        return await self.put_rules(old.document, f"rollback to version {version}",
                                    rolled_back_to=version, validate_only=validate_only)

    # -- routing ----------------------------------------------------------------------
    def remember(self, orders: Sequence[RouteOrder]) -> None:
        """Keep real orders as samples for SimulateRouting (the newest call per order id)."""
        self._recent.add(orders)

    async def route(self, orders: Sequence[RouteOrder], remember: bool = True,
                    field: str = "requests", recent_stock: bool = False) -> list[Decision]:
        """Decisions for `orders`. `recent_stock`: decide on the stock read in the last
        REFRESH_S when that leaves room to spare (StockSeen), for a caller that holds
        the decision with the reserve script (reserve_routed); else on a fresh read."""
        if not orders:
            raise InvalidArgument(field, "must hold at least one order")
        if len(orders) > self.settings.max_batch:
            raise InvalidArgument(field, f"holds {len(orders)} orders, at most "
                                  f"{self.settings.max_batch}")
        places = [self.resolve(o, f"{field}[{i}]" if len(orders) > 1 else "")
                  for i, o in enumerate(orders)]
        skus = list(dict.fromkeys(ln.sku for o in orders for ln in o.lines))
        day = today()
        cache = self._cache
        now = time.monotonic()
        check = cache is None or now - self._checked_at >= REFRESH_S
        need_loads = self._need_loads(cache, day)
        seen = self.stock_seen
        # Recent stock is read again every REFRESH_S / 2 (all SKUs routed lately, by one
        # call), so the others find views younger than REFRESH_S and read nothing.
        refresh = recent_stock and now - seen.refreshed_at >= REFRESH_S / 2
        if recent_stock and cache is not None and cache.warehouses \
                and not (check or need_loads or refresh):
            view = seen.view(skus, now)
            if view is not None:
                loads = self.loads_seen.counts if cache.table.needs_loads else {}
                decisions = router.route_many(orders, places, cache.rules, cache.warehouses,
                                              view, loads, cache.table)
                if all(seen.roomy(d, view, cache.table) for d in decisions):
                    if remember:
                        self._recent.add(orders)
                    return decisions
        if recent_stock and (check or need_loads or refresh):  # refresh them all
            skus = list(dict.fromkeys([*skus, *seen.active(now)]))
        # One periodic read at a time: calls meanwhile keep what this replica holds.
        before = self._checked_at, self.loads_seen.asked_at, seen.refreshed_at
        if check:
            self._checked_at = now
        if need_loads:
            self.loads_seen.asked_at = now
        if refresh:
            seen.refreshed_at = now
        try:
            snap = await self.reader.read(skus, cache.table.ids if cache else (), check,
                                           need_loads, day)
        except BaseException:
            self._checked_at, self.loads_seen.asked_at, seen.refreshed_at = before
            raise
        if snap.versions is not None and (cache is None or cache.versions != snap.versions):
            # New rules or warehouses: load them, and read stock again (the snapshot
            # asked for the old warehouses' counters).
            cache = await self._current(snap.versions)
            snap = await self.reader.read(skus, cache.table.ids, False,
                                           self._need_loads(cache, day), day)
        assert cache is not None
        if not cache.warehouses:
            raise NotFound("no warehouses: put some first (reservation warehouses put)")
        if snap.loads is not None:
            self.loads_seen.read(snap.loads, day, time.monotonic())
        seen.read(snap.stock, now)
        loads = self.loads_seen.counts if cache.table.needs_loads else {}
        decisions = router.route_many(orders, places, cache.rules, cache.warehouses,
                                      snap.stock, loads, cache.table)
        if remember:
            self._recent.add(orders)
        return decisions

    def _need_loads(self, cache: _Cache | None, day: str) -> bool:
        if cache is None:
            return True
        return cache.table.needs_loads and self.loads_seen.stale(
            cache.table, cache.rules.load_threshold, day, time.monotonic())

    def resolve(self, order: RouteOrder, field: str = "") -> Place:
        validate_order(order, self.settings, field)
        return self.place(order, field)

    def place(self, order: RouteOrder, field: str = "") -> Place:
        """Where the order goes, from the geography (kept per destination)."""
        d = order.destination
        key = (d.province, d.city, d.district, d.region, d.address)
        place = self._places.get(key)
        if place is not None:
            self._places.move_to_end(key)
            return place
        try:
            place = self.geo.resolve(province=d.province, city=d.city, district=d.district,
                                     region=d.region, address=d.address)
        except InvalidArgument as exc:
            where = f"{field}.destination" if field else "destination"
            raise InvalidArgument(where, exc.description) from None
        self._places[key] = place
        if len(self._places) > PLACES_KEPT:
            self._places.popitem(last=False)
        return place

    async def _decide(self, orders: Sequence[RouteOrder], places: Sequence[Place],
                      ruleset: RuleSet, whs: Sequence[Warehouse]) -> list[Decision]:
        skus = sorted({ln.sku for o in orders for ln in o.lines})
        stock, loads = await asyncio.gather(self.db.available(skus), self.loads())
        if not whs:
            raise NotFound("no warehouses: put some first (reservation warehouses put)")
        return router.route_many(orders, places, ruleset, whs, stock, loads)

    async def simulate(self, document: Mapping[str, Any], sample_size: int = 0) -> Simulation:
        if not 0 <= sample_size <= 10_000:
            raise InvalidArgument("sample_size", "must be 0 (1000) .. 10000")
        current, whs = await self.current()
        candidate = rules.parse(document, whs)
        await self._recent.flush()  # this replica's latest orders too
        recent = _newest_per_order([_recalled(r) for r in await self.db.recent(RECENT_KEPT)],
                                   sample_size or SAMPLE_DEFAULT)
        if not recent:
            return Simulation(0, 0, {}, current.version)
        places = [self.resolve(o) for o in recent]
        before = await self._decide(recent, places, current, whs)
        after = await self._decide(recent, places, candidate, whs)
        changes: Counter[tuple[str, str]] = Counter()
        for b, a in zip(before, after, strict=True):
            was, now = "+".join(b.warehouses()), "+".join(a.warehouses())
            if was != now:
                changes[(was, now)] += 1
        return Simulation(len(recent), sum(changes.values()), dict(changes), current.version)


    async def backtest(self, document: Mapping[str, Any],
                       samples: Sequence[backtest.Sample]) -> backtest.Report:
        """What the candidate rule set would have decided for `samples` (validated by
        the caller), against their recorded decisions and shipping warehouses. Stock,
        loads and warehouses are today's: the service keeps no history of them."""
        if len(samples) > backtest.MAX_SAMPLE:
            raise InvalidArgument("orders", f"holds {len(samples)} orders, at most "
                                  f"{backtest.MAX_SAMPLE}")
        _, whs = await self.current()
        if not whs:
            raise NotFound("no warehouses: put some first (reservation warehouses put)")
        candidate = rules.parse(document, whs)
        report = backtest.Report()
        groups = backtest.group(samples)
        placed: list[tuple[RouteOrder, Place, list[backtest.Sample]]] = []
        unplaced: list[str] = []
        for order, members in groups.items():
            try:
                placed.append((order, self.place(order), members))
            except InvalidArgument:
                report.unplaced += len(members)
                unplaced += [m.order.order_id for m in members][:max(0, 3 - len(unplaced))]
        report.distinct = len(placed)
        skus = sorted({ln.sku for o, _, _ in placed for ln in o.lines})
        tab = router.table(whs)
        stock = await self.db.available(skus)
        loads = await self.loads() if tab.needs_loads else {}
        by_id = {w.warehouse_id: w for w in whs}
        for k in range(0, len(placed), BACKTEST_CHUNK):
            part = placed[k:k + BACKTEST_CHUNK]
            decisions = router.route_many([o for o, _, _ in part], [p for _, p, _ in part],
                                          candidate, whs, stock, loads, tab, explain=False)
            for (_, p, members), d in zip(part, decisions, strict=True):
                backtest.tally(report, members, d, p, by_id)
            await asyncio.sleep(0)  # a long backtest does not stall the calls beside it
        report.notes.append(
            f"decided on stock and loads as of now ({datetime.now(CHINA):%Y-%m-%d %H:%M} "
            "China time) and today's warehouses: the service keeps no history of them")
        if report.unplaced:
            report.notes.append(f"{report.unplaced} orders not decided: routing cannot "
                                f"place their destination (e.g. {', '.join(unplaced)})")
        return report


BACKTEST_CHUNK = 2000
"""Orders decided per kernel call in a backtest; the event loop runs between chunks."""


def _newest_per_order(orders: Sequence[RouteOrder], limit: int) -> list[RouteOrder]:
    """The samples, newest first, one per order id (an order routed five times is one
    sample, as it was last seen); orders without an id are each their own."""
    seen: set[tuple[str, str]] = set()
    out = []
    for o in orders:
        key = (o.channel, o.order_id)
        if o.order_id and key in seen:
            continue
        seen.add(key)
        out.append(o)
        if len(out) == limit:
            break
    return out


def _lenient(doc: Mapping[str, Any], whs: Sequence[Warehouse], version: int) -> RuleSet:
    """A stored version as it was put: warehouses since removed are dropped, and what the
    stricter language refuses now (unknown places, repeated names) still loads."""
    try:
        return rules.parse(doc, whs, version)
    except InvalidArgument:
        known = {w.warehouse_id for w in whs} | {w.name for w in whs}
        cleaned = dict(doc)
        cleaned["rules"] = [_drop_unknown(r, known) for r in doc.get("rules", [])]
        return rules.parse(cleaned, whs, version, strict=False)


def _drop_unknown(rule: Mapping[str, Any], known: set[str]) -> Mapping[str, Any]:
    then = dict(rule.get("then", {}))
    for key in ("prefer", "exclude"):
        if key in then:
            values = [then[key]] if isinstance(then[key], str) else then[key]
            then[key] = [w for w in values if w in known]
    if not then.get("prefer"):
        then.pop("min_stock", None)
    then = {k: v for k, v in then.items() if v not in ([], "", None)} or {"rush": False}
    return {**rule, "then": then}


def validate_order(order: RouteOrder, settings: Settings, field: str = "") -> None:
    pre = f"{field}." if field else ""
    validation.code(f"{pre}channel", order.channel, required=False)
    if len(order.order_id.encode()) > settings.max_id_length:
        raise InvalidArgument(f"{pre}order_id", f"is longer than {settings.max_id_length} bytes")
    if not order.lines:
        raise InvalidArgument(f"{pre}lines", "must hold at least one line")
    if len(order.lines) > settings.max_lines:
        raise InvalidArgument(f"{pre}lines", f"holds {len(order.lines)} lines, at most "
                              f"{settings.max_lines}")
    for i, ln in enumerate(order.lines):
        validation.code(f"{pre}lines[{i}].sku", ln.sku)
        validation.quantity(f"{pre}lines[{i}].quantity", ln.quantity, settings)
        for name in ("category", "brand"):
            if len(getattr(ln, name)) > MAX_TEXT:
                raise InvalidArgument(f"{pre}lines[{i}].{name}", f"is longer than {MAX_TEXT}")
    for name in ("amount", "promised_hours"):
        value = getattr(order, name)
        if not math.isfinite(value) or value < 0 or value > 1e12:
            raise InvalidArgument(f"{pre}{name}", "must be a finite number 0..1e12")
    for name in ("payment", "customer_grade"):
        if len(getattr(order, name)) > MAX_TEXT:
            raise InvalidArgument(f"{pre}{name}", f"is longer than {MAX_TEXT}")
    d = order.destination
    for name in ("province", "city", "district", "region"):
        if len(getattr(d, name)) > MAX_TEXT:
            raise InvalidArgument(f"{pre}destination.{name}", f"is longer than {MAX_TEXT}")
    if len(d.address) > MAX_ADDRESS:
        raise InvalidArgument(f"{pre}destination.address", f"is longer than {MAX_ADDRESS}")


def _remembered(order: RouteOrder) -> bytes:
    """The order as JSON (orjson writes the dataclasses field by field, UTF-8)."""
    return orjson.dumps(order)


def _recalled(raw: str) -> RouteOrder:
    data = json.loads(raw)
    data["lines"] = tuple(RouteLine(**ln) for ln in data["lines"])
    data["destination"] = Destination(**data["destination"])
    return RouteOrder(**data)

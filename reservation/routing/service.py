"""The routing capability: warehouses and rule sets in Redis, hot reload, decisions.

Every call first compares the rule set and warehouse versions in Redis with the ones it
holds (one HMGET) and reloads on a change, so a rule set put through any replica is the
one every replica uses from its next call: no restart, no polling delay.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from reservation.domain import validation
from reservation.errors import InvalidArgument, NotFound
from reservation.routing import router, rules, warehouses
from reservation.routing.geography import Place, geography
from reservation.routing.matching import Destination, RouteLine, RouteOrder
from reservation.routing.router import Decision
from reservation.routing.rules import RuleSet
from reservation.routing.warehouses import Warehouse
from reservation.settings import Settings
from reservation.storage.routing import RoutingStore, Versions
from reservation.storage.store import Store

# Warehouses count "today" in China time (UTC+8, no daylight saving).
CHINA = timezone(timedelta(hours=8))
MAX_TEXT = 64
MAX_ADDRESS = 256
HISTORY_DEFAULT = 50
SAMPLE_DEFAULT = 1000


def today(now: datetime | None = None) -> str:
    return (now or datetime.now(CHINA)).astimezone(CHINA).strftime("%Y%m%d")


@dataclass(frozen=True)
class RulesVersion:
    version: int
    document: Mapping[str, Any]
    comment: str
    created_at_ms: int
    rolled_back_to: int = 0

    def encode(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "version"},
                          ensure_ascii=False)

    @classmethod
    def decode(cls, version: int, raw: str) -> RulesVersion:
        return cls(version=version, **json.loads(raw))


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


@dataclass
class _Cache:
    versions: Versions
    rules: RuleSet
    warehouses: list[Warehouse]


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

    # -- hot reload -------------------------------------------------------------------
    async def current(self) -> tuple[RuleSet, list[Warehouse]]:
        """The rule set and warehouses in force now (reloaded when Redis has newer)."""
        versions = await self._versions()
        cache = self._cache
        if cache is None or cache.versions != versions:
            async with self._lock:
                cache = self._cache
                if cache is None or cache.versions != versions:
                    cache = await self._load(versions)
                    self._cache = cache
        return cache.rules, cache.warehouses

    async def _load(self, versions: Versions) -> _Cache:
        whs = await self.list_warehouses()
        if versions.rules == 0:
            return _Cache(versions, RuleSet(), whs)
        raw = await self.db.rules_record(versions.rules)
        doc = RulesVersion.decode(versions.rules, raw).document if raw else {}
        # Stored sets were valid when put; a warehouse deleted since only loses its rule
        # references, it never blocks routing (parse would refuse the whole set).
        return _Cache(versions, _lenient(doc, whs, versions.rules), whs)

    # -- warehouses -------------------------------------------------------------------
    async def put_warehouse(self, wh: Warehouse) -> Warehouse:
        wh = warehouses.validate(wh, self.geo)
        known = await self.db.warehouse_records()
        if wh.warehouse_id not in known and len(known) >= warehouses.MAX_WAREHOUSES:
            raise InvalidArgument("warehouse.warehouse_id",
                                  f"at most {warehouses.MAX_WAREHOUSES} warehouses")
        await self.db.put_warehouse(wh.warehouse_id, wh.encode())
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
                        expected_version: int = 0, rolled_back_to: int = 0) -> RulesVersion:
        if len(comment) > 256:
            raise InvalidArgument("comment", "is longer than 256 characters")
        if expected_version < 0:
            raise InvalidArgument("expected_version", "must be 0 (any) or a version")
        rules.parse(document, await self.list_warehouses())
        record = RulesVersion(0, dict(document), comment, int(time.time() * 1000),
                              rolled_back_to)
        version = await self.db.put_rules(record.encode(), expected_version)
        return replace(record, version=version)

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

    async def rollback(self, version: int) -> RulesVersion:
        if version <= 0:
            raise InvalidArgument("version", "must name an earlier version")
        old = await self.get_rules(version)
        return await self.put_rules(old.document, f"rollback to version {version}",
                                    rolled_back_to=version)

    # -- routing ----------------------------------------------------------------------
    async def route(self, orders: Sequence[RouteOrder], remember: bool = True,
                    field: str = "requests") -> list[Decision]:
        if not orders:
            raise InvalidArgument(field, "must hold at least one order")
        if len(orders) > self.settings.max_batch:
            raise InvalidArgument(field, f"holds {len(orders)} orders, at most "
                                  f"{self.settings.max_batch}")
        places = [self.resolve(o, f"{field}[{i}]" if len(orders) > 1 else "")
                  for i, o in enumerate(orders)]
        ruleset, whs = await self.current()
        decisions = await self._decide(orders, places, ruleset, whs)
        if remember:
            await self.db.remember([_remembered(o) for o in orders])
        return decisions

    def resolve(self, order: RouteOrder, field: str = "") -> Place:
        validate_order(order, self.settings, field)
        d = order.destination
        try:
            return self.geo.resolve(province=d.province, city=d.city, district=d.district,
                                    region=d.region, address=d.address)
        except InvalidArgument as exc:
            where = f"{field}.destination" if field else "destination"
            raise InvalidArgument(where, exc.description) from None

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
        recent = [_recalled(r) for r in await self.db.recent(sample_size or SAMPLE_DEFAULT)]
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


def _lenient(doc: Mapping[str, Any], whs: Sequence[Warehouse], version: int) -> RuleSet:
    try:
        return rules.parse(doc, whs, version)
    except InvalidArgument:
        known = {w.warehouse_id for w in whs} | {w.name for w in whs}
        cleaned = dict(doc)
        cleaned["rules"] = [_drop_unknown(r, known) for r in doc.get("rules", [])]
        return rules.parse(cleaned, whs, version)


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


def _remembered(order: RouteOrder) -> str:
    d = order.destination
    return json.dumps({
        "lines": [{"sku": ln.sku, "quantity": ln.quantity, "category": ln.category,
                   "brand": ln.brand} for ln in order.lines],
        "destination": {"province": d.province, "city": d.city, "district": d.district,
                        "region": d.region, "address": d.address},
        "channel": order.channel, "order_id": order.order_id, "amount": order.amount,
        "payment": order.payment, "customer_grade": order.customer_grade,
        "promised_hours": order.promised_hours}, ensure_ascii=False)


def _recalled(raw: str) -> RouteOrder:
    data = json.loads(raw)
    data["lines"] = tuple(RouteLine(**ln) for ln in data["lines"])
    data["destination"] = Destination(**data["destination"])
    return RouteOrder(**data)

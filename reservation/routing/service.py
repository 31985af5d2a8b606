"""The routing capability's facade: what the servicers, the order hub and Reserve with a
destination call. The parts, by concept:

    definitions.py  warehouses and rule set versions: put, read, history, rollback
    reload.py       the rule set and warehouses in force, reloaded on a new version
    freshness.py    what a replica holds between reads (loads, stock) and China's today
    places.py       destinations resolved by the geography, kept per destination
    validate.py     an order's bounds, before anything is read
    simulation.py   SimulateRouting and BacktestRouting

A call reads the stock it decides on, and, when the ones it holds are older than
REFRESH_S, the rule set and warehouse versions and today's loads, in one snapshot that
the calls of an event-loop turn share (storage/routing.py); a changed version reloads
the rule set and warehouses (kept in process with their kernel columns). So a rule set
put through any replica is the one every replica uses within REFRESH_S (0.2 s), and the
replica it was put through from its next call: no restart.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from reservation.errors import InvalidArgument, NotFound
from reservation.routing import backtest, router, simulation
from reservation.routing.decision import Decision
from reservation.routing.definitions import Definitions, RulesView
from reservation.routing.freshness import REFRESH_S, Loads, SingleFlight, StockSeen, today
from reservation.routing.geography import Place, geography
from reservation.routing.matching import RouteOrder
from reservation.routing.places import Places
from reservation.routing.reload import InForce, Reloader
from reservation.routing.rules import RuleSet
from reservation.routing.simulation import Simulation
from reservation.routing.validate import validate_order
from reservation.routing.warehouses import Warehouse
from reservation.settings import Settings
from reservation.storage.routing import RecentBuffer, RoutingStore, SnapshotReader
from reservation.storage.rulesets import RulesVersion
from reservation.storage.store import Store

# Imported from here by callers of the facade: the day the loads count, and how stale
# what a replica holds may be.
__all__ = ["REFRESH_S", "Routing", "today"]


class Routing:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.db = RoutingStore(store)
        self.settings = settings
        self.geo = geography()
        self.definitions = Definitions(self.db, self.geo, self._changed)
        self.reloader = Reloader(self.definitions)
        self._versions = SingleFlight(self.db.versions)
        self._loads = SingleFlight(lambda: self.db.loads(today()))
        self.recent = RecentBuffer(store, simulation.remembered)
        self.reader = SnapshotReader(store, before_flush=self.recent.stage)
        self.places = Places(self.geo)
        self.loads_seen = Loads()
        self.stock_seen = StockSeen()
        self._checked_at = -math.inf  # when the versions were last read (monotonic)

    def _changed(self) -> None:
        self._checked_at = -math.inf  # a put through this replica: its next call reads

    async def current(self) -> tuple[RuleSet, list[Warehouse]]:
        """The rule set and warehouses in force now (reloaded when Redis has newer)."""
        held = await self.reloader.at(await self._versions())
        return held.rules, held.warehouses

    async def loads(self) -> dict[str, int]:
        """Orders routed to each warehouse today (one read shared by concurrent calls)."""
        return dict(await self._loads())

    # -- definitions (definitions.py) ---------------------------------------------------
    async def put_warehouse(self, wh: Warehouse, validate_only: bool = False) -> Warehouse:
        return await self.definitions.put_warehouse(wh, validate_only)

    async def list_warehouses(self) -> list[Warehouse]:
        return await self.definitions.list_warehouses()

    async def get_warehouse(self, warehouse_id: str) -> Warehouse:
        return await self.definitions.get_warehouse(warehouse_id)

    async def put_rules(self, document: Mapping[str, Any], comment: str = "",
                        expected_version: int = 0, rolled_back_to: int = 0,
                        validate_only: bool = False) -> RulesView:
        return await self.definitions.put_rules(document, comment, expected_version,
                                                rolled_back_to, validate_only)

    async def view(self, record: RulesVersion) -> RulesView:
        """What a stored version puts in force (weights, threshold), and its warnings."""
        return (await self.definitions.views([record]))[0]

    async def views(self, records: Sequence[RulesVersion]) -> list[RulesView]:
        return await self.definitions.views(records)

    async def get_rules(self, version: int = 0) -> RulesVersion:
        return await self.definitions.get_rules(version)

    async def history(self, limit: int = 0) -> tuple[list[RulesVersion], int]:
        return await self.definitions.history(limit)

    async def rollback(self, version: int, validate_only: bool = False) -> RulesView:
        return await self.definitions.rollback(version, validate_only)

    # -- simulation (simulation.py) -----------------------------------------------------
    async def simulate(self, document: Mapping[str, Any], sample_size: int = 0) -> Simulation:
        return await simulation.simulate(self, document, sample_size)

    async def backtest(self, document: Mapping[str, Any],
                       samples: Sequence[backtest.Sample]) -> backtest.Report:
        return await simulation.run_backtest(self, document, samples)

    # -- routing ------------------------------------------------------------------------
    def remember(self, orders: Sequence[RouteOrder]) -> None:
        """Keep real orders as samples for SimulateRouting (the newest call per order id)."""
        self.recent.add(orders)

    def resolve(self, order: RouteOrder, field: str = "") -> Place:
        validate_order(order, self.settings, field)
        return self.places.place(order, field)

    def place(self, order: RouteOrder, field: str = "") -> Place:
        """Where the order goes, from the geography (kept per destination)."""
        return self.places.place(order, field)

    async def route(self, orders: Sequence[RouteOrder], remember: bool = True,
                    field: str = "requests", recent_stock: bool = False,
                    explain: bool = True) -> list[Decision]:
        """Decisions for `orders`. `recent_stock`: decide on the stock read in the last
        REFRESH_S when that leaves room to spare (StockSeen), for a caller that holds
        the decision with the reserve script (reserve_routed); else on a fresh read.
        `explain=False`: the decisions without their explanation (router.route_many)."""
        if not orders:
            raise InvalidArgument(field, "must hold at least one order")
        if len(orders) > self.settings.max_batch:
            raise InvalidArgument(field, f"holds {len(orders)} orders, at most "
                                  f"{self.settings.max_batch}")
        places = [self.resolve(o, f"{field}[{i}]" if len(orders) > 1 else "")
                  for i, o in enumerate(orders)]
        skus = list(dict.fromkeys(ln.sku for o in orders for ln in o.lines))
        day = today()
        held = self.reloader.in_force
        now = time.monotonic()
        check = held is None or now - self._checked_at >= REFRESH_S
        need_loads = self._need_loads(held, day)
        seen = self.stock_seen
        # Recent stock is read again every REFRESH_S / 2 (all SKUs routed lately, by one
        # call), so the others find views younger than REFRESH_S and read nothing.
        refresh = recent_stock and now - seen.refreshed_at >= REFRESH_S / 2
        if recent_stock and held is not None and held.warehouses \
                and not (check or need_loads or refresh):
            decisions = self._on_recent(orders, places, skus, held, now, explain)
            if decisions is not None:
                if remember:
                    self.recent.add(orders)
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
            snap = await self.reader.read(skus, held.table.ids if held else (), check,
                                          need_loads, day)
        except BaseException:
            self._checked_at, self.loads_seen.asked_at, seen.refreshed_at = before
            raise
        if snap.versions is not None and (held is None or held.versions != snap.versions):
            # New rules or warehouses: load them, and read stock again (the snapshot
            # asked for the old warehouses' counters).
            held = await self.reloader.at(snap.versions)
            snap = await self.reader.read(skus, held.table.ids, False,
                                          self._need_loads(held, day), day)
        assert held is not None
        if not held.warehouses:
            raise NotFound("no warehouses: put some first (reservation warehouses put)")
        if snap.loads is not None:
            self.loads_seen.read(snap.loads, day, time.monotonic())
        seen.read(snap.stock, now)
        loads = self.loads_seen.counts if held.table.needs_loads else {}
        decisions = router.route_many(orders, places, held.rules, held.warehouses,
                                      snap.stock, loads, held.table, explain)
        if remember:
            self.recent.add(orders)
        return decisions

    def _on_recent(self, orders: Sequence[RouteOrder], places: Sequence[Place],
                   skus: Sequence[str], held: InForce, now: float,
                   explain: bool) -> list[Decision] | None:
        """Decisions on the stock read lately, when every one leaves room to spare
        (StockSeen.roomy); None: decide on a fresh read."""
        view = self.stock_seen.view(skus, now)
        if view is None:
            return None
        loads = self.loads_seen.counts if held.table.needs_loads else {}
        decisions = router.route_many(orders, places, held.rules, held.warehouses,
                                      view, loads, held.table, explain)
        if all(self.stock_seen.roomy(d, view, held.table) for d in decisions):
            return decisions
        return None

    def _need_loads(self, held: InForce | None, day: str) -> bool:
        if held is None:
            return True
        return held.table.needs_loads and self.loads_seen.stale(
            held.table, held.rules.load_threshold, day, time.monotonic())

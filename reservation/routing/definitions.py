"""What routing decides with, as stored: the warehouses and the versioned rule set.

Puts are validated against each other (a rule names warehouses that exist; at most
MAX_WAREHOUSES), stored under one hash tag (storage/routing.py) and bump a version, so
every replica reloads them (reload.py). A stored version is read leniently: a warehouse
deleted since only loses its rule references, it never blocks routing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reservation.domain import validation
from reservation.errors import InvalidArgument, NotFound
from reservation.routing import lint, rules, warehouses
from reservation.routing.geography import Geography
from reservation.routing.rules import RuleSet
from reservation.routing.warehouses import Warehouse
from reservation.storage.routing import RoutingStore
from reservation.storage.rulesets import RulesVersion

HISTORY_DEFAULT = 50


@dataclass(frozen=True)
class RulesView:
    """A rule set version with what is in force because of it: the weights and load
    threshold (the document's or the defaults), and the rules that can never act given
    the warehouses defined now."""

    record: RulesVersion
    weights: Mapping[str, float]
    load_threshold: float
    warnings: tuple[str, ...] = ()


class Definitions:
    """Warehouses and rule set versions: put, read, list, roll back. `changed` is called
    after every put, so the replica it went through uses it from its next call."""

    def __init__(self, db: RoutingStore, geo: Geography, changed: Callable[[], None]) -> None:
        self.db = db
        self.geo = geo
        self.changed = changed

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
        self.changed()
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
        self.changed()
        return RulesView(replace(record, version=version), parsed.weights,
                         parsed.load_threshold, tuple(lint.never_matching(parsed, whs)))

    async def views(self, records: Sequence[RulesVersion]) -> list[RulesView]:
        """What each stored version puts in force (weights, threshold), and its warnings."""
        whs = await self.list_warehouses()
        out = []
        for record in records:
            parsed = lenient(record.document, whs, record.version)
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


def lenient(doc: Mapping[str, Any], whs: Sequence[Warehouse], version: int) -> RuleSet:
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

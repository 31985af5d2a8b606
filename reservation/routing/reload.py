"""The rule set and warehouses in force, reloaded when Redis holds newer versions.

A replica keeps them in process with the kernel's columns (router.Table); a version seen
changed (a put through any replica bumps it) loads them again, once, however many calls
notice it together.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from reservation.routing import router
from reservation.routing.definitions import Definitions, lenient
from reservation.routing.router import Table
from reservation.routing.rules import RuleSet
from reservation.routing.warehouses import Warehouse
from reservation.storage.routing import Versions
from reservation.storage.rulesets import RulesVersion


@dataclass(frozen=True)
class InForce:
    versions: Versions
    rules: RuleSet
    warehouses: list[Warehouse]
    table: Table


class Reloader:
    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self.in_force: InForce | None = None
        """The last loaded (None before the first call): what a call may decide with
        while its versions are not older than freshness.REFRESH_S."""
        self._lock = asyncio.Lock()

    async def at(self, versions: Versions) -> InForce:
        """What `versions` put in force (loaded now unless it is what is held)."""
        held = self.in_force
        if held is None or held.versions != versions:
            async with self._lock:
                held = self.in_force
                if held is None or held.versions != versions:
                    held = await self._load(versions)
                    self.in_force = held
        return held

    async def _load(self, versions: Versions) -> InForce:
        whs = await self.definitions.list_warehouses()
        tab = router.table(whs)
        if versions.rules == 0:
            return InForce(versions, RuleSet(), whs, tab)
        raw = await self.definitions.db.rules_record(versions.rules)
        doc = RulesVersion.decode(versions.rules, raw).document if raw else {}
        # Stored sets were valid when put; a warehouse deleted since only loses its rule
        # references, it never blocks routing (parse would refuse the whole set).
        return InForce(versions, lenient(doc, whs, versions.rules), whs, tab)

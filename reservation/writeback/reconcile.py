"""T+1 reconciliation: the WMS ledger's totals against the service's stock counters.

What the service knows: every SKU with stock counters (SCAN of rsv:{*}:stock:*, the
only keys that never expire, so no separate registry has to be kept in step with the
core scripts) plus every SKU the ledger names. Per shard, one read-only script takes the
counters and the group's unacknowledged events (pending, undelivered, dead-lettered)
in one atomic step, so a change in flight is either in both or in neither.

Per SKU, warehouse and counter, `service - ledger` is then classified:
- UNKNOWN_TO_SERVICE: the ledger has units for a SKU/warehouse without counters here;
- NOT_YET_WRITTEN_BACK: the difference lies within what the unacknowledged events can
  still move (between the sum of their negative and of their positive moves). The
  ledger holds the acknowledged events plus any subset of the unacknowledged ones it
  applied before acknowledging, so this bound is the exact test when nothing is
  unacknowledged (a caught-up WMS) and a necessary one otherwise;
- QUANTITY_MISMATCH: anything else: a change the ledger lost or counted twice, a dead
  letter trimmed away, or counters changed outside the scripts.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from reservation.domain import validation
from reservation.domain.events import COUNTERS, EventType, event_from_fields
from reservation.domain.shards import by_shard
from reservation.errors import InvalidArgument
from reservation.storage import keys
from reservation.writeback import WriteBack

MAX_LEDGER_ROWS = 100_000


@dataclass(frozen=True)
class LedgerTotal:
    sku: str
    warehouse_id: str
    loaded: int = 0
    available: int = 0
    held: int = 0
    confirmed: int = 0
    returned: int = 0

    def value(self, counter: str) -> int:
        return int(getattr(self, counter))


class DifferenceKind(StrEnum):
    NOT_YET_WRITTEN_BACK = "NOT_YET_WRITTEN_BACK"
    UNKNOWN_TO_SERVICE = "UNKNOWN_TO_SERVICE"
    QUANTITY_MISMATCH = "QUANTITY_MISMATCH"


@dataclass(frozen=True)
class Difference:
    sku: str
    warehouse_id: str
    kind: DifferenceKind
    counter: str
    service_value: int
    ledger_value: int
    pending_events: int


@dataclass
class _Pending:
    """What the unacknowledged events can still move on one counter."""

    events: int = 0
    low: int = 0
    high: int = 0

    def add(self, delta: int) -> None:
        self.events += 1
        if delta < 0:
            self.low += delta
        else:
            self.high += delta


@dataclass
class _View:
    service: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    pending: dict[tuple[str, str, str], _Pending] = field(
        default_factory=lambda: defaultdict(_Pending))


class Reconciler:
    def __init__(self, write_back: WriteBack) -> None:
        self.write_back = write_back
        self.store = write_back.store
        self.settings = write_back.settings

    async def reconcile(self, ledger: Sequence[LedgerTotal], group: str = "") -> list[Difference]:
        group = self.write_back.group(group)
        rows = _checked(ledger)
        skus = {rows_sku for rows_sku, _ in rows}
        async for sku in self.store.stock_skus():
            skus.add(sku)
        view = await self._view(group, skus)
        return _compare(rows, view)

    async def _view(self, group: str, skus: Iterable[str]) -> _View:
        groups = by_shard(sorted(skus), lambda sku: sku, self.settings.shards)
        snaps = await asyncio.gather(*(self.store.snapshot(shard, group, shard_skus)
                                       for shard, shard_skus in groups))
        view = _View()
        for (shard, shard_skus), snap in zip(groups, snaps):
            for sku, counters in zip(shard_skus, snap.stocks):
                for wh, values in keys.parse_counters(counters).items():
                    view.service[(sku, wh)] = values
            for entry_id, fields in [*snap.unacked, *snap.dead]:
                if fields.get("g", group) != group:
                    continue  # a dead letter replayed for another group
                event = event_from_fields(shard, entry_id, fields, 0)
                if event.type in (EventType.QUEUED, EventType.DEAD_LETTERED):
                    continue
                for counter, delta in event.moves():
                    view.pending[(event.sku, event.warehouse_id, counter)].add(delta)
        return view


def _checked(ledger: Sequence[LedgerTotal]) -> dict[tuple[str, str], LedgerTotal]:
    if len(ledger) > MAX_LEDGER_ROWS:
        raise InvalidArgument("ledger", f"holds {len(ledger)} rows, at most {MAX_LEDGER_ROWS}")
    rows: dict[tuple[str, str], LedgerTotal] = {}
    for i, row in enumerate(ledger):
        validation.code(f"ledger[{i}].sku", row.sku)
        validation.code(f"ledger[{i}].warehouse_id", row.warehouse_id)
        if (row.sku, row.warehouse_id) in rows:
            raise InvalidArgument(f"ledger[{i}]", "repeats an earlier sku and warehouse_id")
        rows[(row.sku, row.warehouse_id)] = row
    return rows


def _compare(rows: dict[tuple[str, str], LedgerTotal], view: _View) -> list[Difference]:
    out: list[Difference] = []
    for sku, wh in sorted(set(rows) | set(view.service)):
        ledger = rows.get((sku, wh), LedgerTotal(sku, wh))
        service = view.service.get((sku, wh))
        for counter in COUNTERS:
            theirs = ledger.value(counter)
            if service is None:
                if theirs:
                    out.append(Difference(sku, wh, DifferenceKind.UNKNOWN_TO_SERVICE, counter,
                                          0, theirs, 0))
                continue
            ours = service[counter]
            if ours == theirs:
                continue
            p = view.pending.get((sku, wh, counter), _Pending())
            explained = p.events > 0 and p.low <= ours - theirs <= p.high
            kind = (DifferenceKind.NOT_YET_WRITTEN_BACK if explained
                    else DifferenceKind.QUANTITY_MISMATCH)
            out.append(Difference(sku, wh, kind, counter, ours, theirs, p.events))
    return out

"""The reference WMS ledger: stock totals per SKU and warehouse, fed by write-back events.

One transaction records each new event id together with its effect on the totals, so an
event delivered again (after a crash between apply and acknowledge, or after a
visibility timeout) finds its id already there and changes nothing. SQLite by default,
PostgreSQL with a postgresql:// DSN (psycopg 3), through clients/reservation/clients/
sql_ledger.py (the standard library and psycopg only: a WMS team can copy the two files).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from reservation.clients.sql_ledger import SqlLedger
from reservation.v1 import write_back_service_pb2 as pb

COUNTERS = ("loaded", "available", "held", "confirmed", "returned")

# What one unit of each event type does to the totals (the service's state machine as
# the WMS sees it); QUEUED and DEAD_LETTERED move no units.
MOVES: dict[str, tuple[tuple[str, int], ...]] = {
    "STOCK_LOADED": (("loaded", 1), ("available", 1)),
    "HELD": (("available", -1), ("held", 1)),
    "CONFIRMED": (("held", -1), ("confirmed", 1)),
    "RELEASED": (("held", -1), ("available", 1)),
    "EXPIRED": (("held", -1), ("available", 1)),
    "RETURNED": (("available", -1), ("returned", 1)),
    "QUEUED": (),
    "DEAD_LETTERED": (),
    "RESTOCKED": (("confirmed", -1), ("available", 1)),
    "ADDRESS_CHANGED": (),
    "CARRIER_CHOSEN": (),
    "ORDER_EXPEDITED": (),
}

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS wb_events (
        event_id TEXT PRIMARY KEY, type TEXT NOT NULL, channel TEXT NOT NULL,
        order_id TEXT NOT NULL, reservation_id TEXT NOT NULL, sku TEXT NOT NULL,
        warehouse_id TEXT NOT NULL, quantity BIGINT NOT NULL, occurred_at_ms BIGINT NOT NULL,
        applied_at_ms BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS wb_totals (
        sku TEXT NOT NULL, warehouse_id TEXT NOT NULL,
        loaded BIGINT NOT NULL, available BIGINT NOT NULL, held BIGINT NOT NULL,
        confirmed BIGINT NOT NULL, returned BIGINT NOT NULL,
        PRIMARY KEY (sku, warehouse_id))""",
)
_INSERT_EVENT = """INSERT INTO wb_events VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (event_id) DO NOTHING"""
_ADD_TOTALS = f"""INSERT INTO wb_totals (sku, warehouse_id, {", ".join(COUNTERS)})
    VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (sku, warehouse_id) DO UPDATE SET
    {", ".join(f"{c} = wb_totals.{c} + excluded.{c}" for c in COUNTERS)}"""


@dataclass(frozen=True)
class Total:
    sku: str
    warehouse_id: str
    loaded: int
    available: int
    held: int
    confirmed: int
    returned: int


def event_type(event: pb.WriteBackEvent) -> str:
    return pb.WriteBackEventType.Name(event.type).removeprefix("WRITE_BACK_EVENT_TYPE_")


class Ledger(SqlLedger):
    """A ledger database: `sqlite:///path.db` or `postgresql://user@host/db`."""

    def __init__(self, url: str) -> None:
        super().__init__(url, SCHEMA, "ledger")

    def apply(self, events: Iterable[pb.WriteBackEvent]) -> int:
        """Apply the events not seen before, in one transaction; returns how many."""
        now = int(time.time() * 1000)
        deltas: dict[tuple[str, str], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(COUNTERS, 0))
        new = 0
        with self._transaction() as cur:
            for e in events:
                kind = event_type(e)
                occurred = e.occurred_at.seconds * 1000 + e.occurred_at.nanos // 1_000_000
                cur.execute(self._sql(_INSERT_EVENT), (
                    e.event_id, kind, e.channel, e.order_id, e.reservation_id, e.sku,
                    e.warehouse_id, e.quantity, occurred, now))
                if cur.rowcount != 1:
                    continue  # seen before: a redelivery
                new += 1
                for counter, sign in MOVES[kind]:
                    deltas[(e.sku, e.warehouse_id)][counter] += sign * e.quantity
            for (sku, wh), d in deltas.items():
                cur.execute(self._sql(_ADD_TOTALS), (sku, wh, *(d[c] for c in COUNTERS)))
        return new

    def seed(self, totals: Iterable[Total]) -> None:
        """Start an empty ledger from a snapshot of the service's counters (see
        `reservation wms bootstrap`); a ledger that has totals or events is refused."""
        with self._transaction() as cur:
            cur.execute("SELECT (SELECT COUNT(*) FROM wb_totals) + "
                        "(SELECT COUNT(*) FROM wb_events)")
            if int(cur.fetchone()[0]):
                raise ValueError(f"ledger {self.url} is not empty: bootstrap needs a new one")
            for t in totals:
                cur.execute(self._sql(_ADD_TOTALS), (t.sku, t.warehouse_id,
                                                     *(getattr(t, c) for c in COUNTERS)))

    def totals(self) -> list[Total]:
        return [Total(*row) for row in self._query(
            f"SELECT sku, warehouse_id, {', '.join(COUNTERS)} FROM wb_totals "
            "ORDER BY sku, warehouse_id")]

    def event_count(self) -> int:
        return self._count("wb_events")

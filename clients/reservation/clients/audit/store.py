"""The audit store: every order event once, in a relational database.

A ledger like the WMS's (both on clients/reservation/clients/sql_ledger.py): each event
is inserted keyed by its event_id in one transaction per batch, so a batch delivered again
(after a crash between commit and acknowledge) finds its ids there and adds nothing.
SQLite by default, PostgreSQL with a postgresql:// URL (psycopg 3).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from reservation.clients.sql_ledger import SqlLedger
from reservation.v1 import order_service_pb2 as pb

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS order_events (
        event_id TEXT PRIMARY KEY, type TEXT NOT NULL, channel TEXT NOT NULL,
        shop TEXT NOT NULL, order_id TEXT NOT NULL, version BIGINT NOT NULL,
        at_ms BIGINT NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,
        from_state TEXT NOT NULL, to_state TEXT NOT NULL, changes TEXT NOT NULL,
        stored_at_ms BIGINT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS order_events_order
        ON order_events (channel, shop, order_id, version)""",
)
_INSERT = """INSERT INTO order_events VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
    %s, %s) ON CONFLICT (event_id) DO NOTHING"""
# PostgreSQL: a batch is copied into a staging table of this session (emptied at every
# commit), then moved in one statement.
_STAGING = """CREATE TEMP TABLE IF NOT EXISTS order_events_in
    (LIKE order_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"""
_COPY = "COPY order_events_in FROM STDIN"
_FROM_STAGING = """INSERT INTO order_events SELECT * FROM order_events_in
    ON CONFLICT (event_id) DO NOTHING"""


class AuditStore(SqlLedger):
    """`sqlite:///path.db` or `postgresql://user@host/db`."""

    def __init__(self, url: str) -> None:
        super().__init__(url, SCHEMA, "audit")
        if not self.on_sqlite:
            self._conn.execute(_STAGING)

    def apply(self, events: Iterable[pb.OrderEvent]) -> int:
        """Store the events not seen before, in one transaction; returns how many.

        The batch goes in as one statement, not a round trip per event: PostgreSQL gets
        the rows by COPY into a session-local staging table, then one INSERT ... SELECT
        that skips ids already stored (the ledger: the primary key, in the same
        transaction); SQLite one executemany."""
        now = int(time.time() * 1000)
        rows = [(e.event_id, e.type, e.channel, e.shop, e.order_id, e.version,
                 e.at.seconds * 1000 + e.at.nanos // 1_000_000, e.actor, e.reason,
                 e.from_state, e.to_state, e.changes_json, now) for e in events]
        if not rows:
            return 0
        with self._transaction() as cur:
            if self.on_sqlite:
                before = self._conn.total_changes
                cur.executemany(self._sql(_INSERT), rows)
                return int(self._conn.total_changes - before)
            with cur.copy(_COPY) as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(_FROM_STAGING)
            return int(cur.rowcount)

    def rows(self) -> list[tuple[Any, ...]]:
        """(event_id, type, channel, shop, order_id, version, from, to), in event order."""
        return self._query("SELECT event_id, type, channel, shop, order_id, version, "
                           "from_state, to_state FROM order_events ORDER BY channel, shop, "
                           "order_id, at_ms, event_id")

    def count(self) -> int:
        return self._count("order_events")

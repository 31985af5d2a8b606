"""A consumer's ledger in SQL: what the WMS ledger (wms/ledger.py) and the audit store
(audit/store.py) share.

Each keeps the events it applied keyed by their event_id (the stream's id), and applies a
batch in one transaction: an event delivered again (after a crash between commit and
acknowledge, or after a visibility timeout) finds its id there and changes nothing.
This module opens the database, creates the schema, runs those transactions and reads.
SQLite by default, PostgreSQL with a postgresql:// URL (psycopg 3). The standard library
and psycopg only, not SQLAlchemy: the clients distribution does not carry it, and a WMS
team can copy these two files.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


class SqlLedger:
    """A ledger database: `sqlite:///path.db` or `postgresql://user@host/db`, with the
    `schema` statements (CREATE ... IF NOT EXISTS) run once on opening. `what` names it
    in the error for any other URL."""

    def __init__(self, url: str, schema: Sequence[str], what: str = "ledger") -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            # isolation_level=None: transactions are ours (BEGIN IMMEDIATE takes the write
            # lock up front, so two pullers on one file queue instead of deadlocking).
            # check_same_thread=False: one thread at a time, but not always the same one.
            self._conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=60,
                                              isolation_level=None, check_same_thread=False)
        elif url.startswith(("postgresql://", "postgres://")):
            import psycopg  # only needed for PostgreSQL

            self._conn = psycopg.connect(url, autocommit=True)
        else:
            raise ValueError(f"{what} URL must be sqlite:///path or postgresql://..., "
                             f"not {url!r}")
        with self._transaction() as cur:
            for statement in schema:
                cur.execute(statement)

    @property
    def on_sqlite(self) -> bool:
        return isinstance(self._conn, sqlite3.Connection)

    def _sql(self, statement: str) -> str:
        """`statement` written with %s placeholders, in this database's style."""
        return statement.replace("%s", "?") if self.on_sqlite else statement

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor in one transaction: committed when the block ends, rolled back when
        it raises."""
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE" if self.on_sqlite else "BEGIN")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def _query(self, statement: str) -> list[tuple[Any, ...]]:
        cur = self._conn.cursor()
        cur.execute(statement)
        return [tuple(row) for row in cur.fetchall()]

    def _count(self, table: str) -> int:
        return int(self._query(f"SELECT COUNT(*) FROM {table}")[0][0])

    def close(self) -> None:
        self._conn.close()

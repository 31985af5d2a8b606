"""The stock-sync worker's durable state, in one SQLite file: the SKUs whose listing may
be behind (dirty), what each listing was last told (the channel accepted it), and a few
values (the rule set version and resync count last seen, the last full resync).

The pull side marks SKUs dirty and commits before its batch is acknowledged; the push
side clears a SKU only if no change was marked since it took it (a sequence number), so
a change that lands during a push is pushed again, and one that was pushed is not lost
by a crash between the channel's answer and the commit: it is pushed once more, with the
same full quantity, which changes nothing on the channel.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dirty (
    sku TEXT PRIMARY KEY, changed_at_ms INTEGER NOT NULL, resync INTEGER NOT NULL,
    seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS told (
    sku TEXT PRIMARY KEY, quantity INTEGER NOT NULL, listed INTEGER NOT NULL,
    at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Dirty:
    sku: str
    changed_at_ms: int
    """The earliest change not yet on the listing (0: only a resync asks for it)."""
    resync: bool
    seq: int


class StockSyncStore:
    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a marked change survives a crash
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._seq = int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM dirty")
                        .fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def mark(self, changes: Mapping[str, int], resync: bool = False) -> None:
        """SKUs whose listing may be behind, with when they changed (kept: the earliest)."""
        if not changes:
            return
        with self._lock:
            self._db.execute("BEGIN")
            for sku, at in changes.items():
                self._seq += 1
                self._db.execute(
                    "INSERT INTO dirty (sku, changed_at_ms, resync, seq) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq, "
                    "resync = MAX(dirty.resync, excluded.resync), changed_at_ms = CASE "
                    "WHEN dirty.changed_at_ms = 0 THEN excluded.changed_at_ms "
                    "WHEN excluded.changed_at_ms = 0 THEN dirty.changed_at_ms "
                    "ELSE MIN(dirty.changed_at_ms, excluded.changed_at_ms) END",
                    (sku, at, int(resync), self._seq))
            self._db.execute("COMMIT")

    def take(self, limit: int) -> list[Dirty]:
        with self._lock:
            rows = self._db.execute(
                "SELECT sku, changed_at_ms, resync, seq FROM dirty ORDER BY seq LIMIT ?",
                (limit,)).fetchall()
        return [Dirty(sku, at, bool(resync), seq) for sku, at, resync, seq in rows]

    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM dirty").fetchone()[0])

    def told(self, skus: Iterable[str]) -> dict[str, tuple[int, bool]]:
        wanted = list(skus)
        out: dict[str, tuple[int, bool]] = {}
        with self._lock:
            for i in range(0, len(wanted), 500):
                part = wanted[i:i + 500]
                rows = self._db.execute(
                    f"SELECT sku, quantity, listed FROM told WHERE sku IN "
                    f"({','.join('?' * len(part))})", part).fetchall()
                out.update({sku: (q, bool(listed)) for sku, q, listed in rows})
        return out

    def done(self, told: Iterable[tuple[str, int, bool, int]],
             cleared: Iterable[Dirty]) -> None:
        """What the channel accepted (sku, quantity, listed, at) and the dirty rows
        handled, in one transaction; a row marked again since it was taken stays."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO told (sku, quantity, listed, at_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sku) DO UPDATE SET quantity = excluded.quantity, "
                "listed = excluded.listed, at_ms = excluded.at_ms",
                [(sku, q, int(listed), at) for sku, q, listed, at in told])
            self._db.executemany("DELETE FROM dirty WHERE sku = ? AND seq = ?",
                                 [(d.sku, d.seq) for d in cleared])
            self._db.execute("COMMIT")

    def value(self, name: str, default: int = -1) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else default

    def set_value(self, name: str, value: int) -> None:
        with self._lock:
            self._db.execute("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) "
                             "DO UPDATE SET value = excluded.value", (name, value))

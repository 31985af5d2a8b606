"""The adapters' own durable state, in one SQLite file: where each channel's pull got to
(the cursor), the orders parked for a person (refused by a mapping, by the hub or by the
channel on push, kept with their payload; `reservation-clients refused` lists them),
and the tracking numbers a channel has accepted (so none is pushed twice).

Every write commits before the caller moves on; WAL mode keeps readers off the writer's
back. One file may serve every adapter of a process (calls are serialised by a lock).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    channel TEXT NOT NULL, shop TEXT NOT NULL, cursor_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL, PRIMARY KEY (channel, shop));
CREATE TABLE IF NOT EXISTS refused (
    channel TEXT NOT NULL, shop TEXT NOT NULL, order_id TEXT NOT NULL, error TEXT NOT NULL,
    raw TEXT NOT NULL, at_ms INTEGER NOT NULL,
    PRIMARY KEY (channel, shop, order_id, error));
CREATE TABLE IF NOT EXISTS pushed (
    channel TEXT NOT NULL, shop TEXT NOT NULL, order_id TEXT NOT NULL,
    tracking_number TEXT NOT NULL, carrier TEXT NOT NULL, at_ms INTEGER NOT NULL,
    PRIMARY KEY (channel, shop, order_id, tracking_number));
"""


@dataclass(frozen=True)
class Refused:
    channel: str
    shop: str
    order_id: str
    error: str
    raw: dict[str, Any]
    at_ms: int = 0


class AdapterStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a stored cursor survives a crash
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _now(self) -> int:
        return int(time.time() * 1000)

    # cursors ------------------------------------------------------------------------

    def cursor(self, channel: str, shop: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT cursor_ms FROM cursors WHERE channel=? AND shop=?",
                                   (channel, shop)).fetchone()
        return None if row is None else int(row[0])

    def set_cursor(self, channel: str, shop: str, cursor_ms: int) -> None:
        """Moves forward only: a slow old poller cannot set it back."""
        with self._lock:
            self._db.execute(
                "INSERT INTO cursors VALUES (?, ?, ?, ?) ON CONFLICT (channel, shop) DO "
                "UPDATE SET cursor_ms=max(cursor_ms, excluded.cursor_ms), "
                "updated_at_ms=excluded.updated_at_ms",
                (channel, shop, cursor_ms, self._now()))

    # refused orders -------------------------------------------------------------------

    def refuse(self, channel: str, shop: str, order_id: str, error: str,
               raw: dict[str, Any]) -> bool:
        """Park an order for a person; True when it was not parked for this reason yet."""
        with self._lock:
            cur = self._db.execute("INSERT OR IGNORE INTO refused VALUES (?, ?, ?, ?, ?, ?)",
                                   (channel, shop, order_id, error,
                                    json.dumps(raw, ensure_ascii=False, sort_keys=True),
                                    self._now()))
            return cur.rowcount == 1

    def refused(self, channel: str | None = None) -> list[Refused]:
        with self._lock:
            rows = self._db.execute(
                "SELECT channel, shop, order_id, error, raw, at_ms FROM refused "
                "WHERE ? IS NULL OR channel=? ORDER BY at_ms", (channel, channel)).fetchall()
        return [Refused(c, s, o, e, json.loads(r), int(t)) for c, s, o, e, r, t in rows]

    # pushed tracking numbers ---------------------------------------------------------

    def was_pushed(self, channel: str, shop: str, order_id: str, tracking_number: str) -> bool:
        with self._lock:
            return self._db.execute(
                "SELECT 1 FROM pushed WHERE channel=? AND shop=? AND order_id=? AND "
                "tracking_number=?", (channel, shop, order_id, tracking_number)
            ).fetchone() is not None

    def mark_pushed(self, channel: str, shop: str, order_id: str, tracking_number: str,
                    carrier: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO pushed VALUES (?, ?, ?, ?, ?, ?)",
                             (channel, shop, order_id, tracking_number, carrier, self._now()))

    def pushed_count(self, channel: str | None = None) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM pushed WHERE ? IS NULL OR channel=?",
                                   (channel, channel)).fetchone()
        return int(row[0])

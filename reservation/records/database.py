"""Opening the records store: an SQLAlchemy engine for RESERVATION_RECORDS_URL (or the
SQLite file beside the embedded Redis), brought to the newest schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from reservation.errors import StartupError
from reservation.records import migrate
from reservation.settings import redacted_url


class RecordsStartupError(StartupError):
    """The records store cannot be opened or migrated: one line naming the setting."""


def first_line(exc: BaseException) -> str:
    """A database error in one line (SQLAlchemy's run to several, with the SQL)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL: readers (GetOrder from SQL) do not wait for the follower's transaction;
    # busy_timeout: two writers (replicas sharing a file) wait instead of failing at once.
    # Foreign keys stay SQLite's default, off: a migration that rebuilds `orders` (SQLite
    # alters a table by copying it) would otherwise cascade-delete its lines; the store
    # deletes an order's rows itself.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def engine_for(url: str) -> Engine:
    """An engine for the URL (a SQLite file's directory is made if missing)."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def open_records(url: str) -> Engine:
    """The store at the newest revision; RecordsStartupError when it cannot be."""
    engine = engine_for(url)
    try:
        migrate.upgrade(engine)
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        raise RecordsStartupError(
            f"cannot open the records store {redacted_url(url)!r} "
            f"(RESERVATION_RECORDS_URL): {first_line(exc)}") from None
    return engine

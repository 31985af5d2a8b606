"""Alembic's environment for the orders of record.

The database is the one the service uses: the URL the caller put in the Alembic config
(reservation.records.migrate does), else RESERVATION_RECORDS_URL read by the service's
own settings (so `alembic` run by hand against this directory migrates the same store).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from reservation.records.schema import metadata
from reservation.settings import Settings

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    found = Settings.from_env().records_database_url
    if not found:
        raise SystemExit("no records store: set RESERVATION_RECORDS_URL")
    return found


def run_offline() -> None:
    """`alembic upgrade --sql`: the SQL a DBA can review, without connecting."""
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        context.configure(connection=given, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

"""Schema migrations of the orders of record (Alembic, scripts in migrations/).

`reservation serve` brings the store to the newest revision before it follows the
streams; `reservation records migrate` does it (or goes back) by hand.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

SCRIPTS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    # Built in code, not from an alembic.ini: the URL is the service's setting, and the
    # connection is handed over (env.py), so a password never passes through Alembic's
    # '%'-interpolating options.
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


MIGRATION_LOCK = 7_263_051
"""PostgreSQL advisory lock key held while migrating: replicas starting together migrate
one after the other (the second finds the schema at head and does nothing)."""


def _run(engine: Engine, step: str, revision: str) -> None:
    cfg = _config()
    with engine.begin() as connection:  # one transaction: PostgreSQL's DDL is transactional
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        cfg.attributes["connection"] = connection
        getattr(command, step)(cfg, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    _run(engine, "downgrade", revision)


def current(engine: Engine) -> str | None:
    """The store's revision (None: no schema yet)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    found = ScriptDirectory.from_config(_config()).get_current_head()
    if found is None:
        raise RuntimeError(f"no migrations in {SCRIPTS}")
    return found


def revisions() -> list[str]:
    """Every revision, oldest first."""
    scripts = ScriptDirectory.from_config(_config())
    return [r.revision for r in reversed(list(scripts.walk_revisions()))]


def script(url: str, revision: str = "head") -> str:
    """The SQL that upgrading an empty store to `revision` runs, without connecting (for
    a DBA to read first)."""
    import contextlib
    import io

    cfg = _config()
    out = io.StringIO()
    cfg.output_buffer = out
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with contextlib.redirect_stdout(out):
        command.upgrade(cfg, revision, sql=True)
    return out.getvalue()

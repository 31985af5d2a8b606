"""A real PostgreSQL for the tests that need one, started privately when none is reachable.

Where the database comes from, in order:
1. TEST_POSTGRESQL=postgresql://... : that server.
2. The server on 127.0.0.1:5432 (user postgres, trust auth), when it answers, unless
   TEST_POSTGRESQL=none says not to look.
3. A private server for this test session: initdb + pg_ctl from the system's PostgreSQL
   binaries (PATH, `pg_config --bindir`, /usr/lib/postgresql/*/bin) in a temporary
   directory, on a free loopback port, stopped at the end. PostgreSQL refuses to run as
   root, so under root it runs as the `postgres` system user (runuser).
With none of these the tests that need PostgreSQL are skipped, naming what is missing.

The fixtures (tests/conftest.py: postgres_server, postgres_url, postgres_records_url) give
each session or test a database of its own (own_database), dropped at the end.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reservation.storage.redis_process import free_port

ENV = "TEST_POSTGRESQL"
RUNNING = "postgresql://postgres@127.0.0.1:5432/postgres"


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                             check=False)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "pg_ctl").exists():
            return Path(out.stdout.strip())
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _answers(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except psycopg.OperationalError:
        return False


class PrivatePostgres:
    """initdb + pg_ctl in a temporary directory, loopback only, trust auth."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="reservation-pg-"))
        self.data = self.tmp / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and no `postgres` user to run "
                                   "PostgreSQL as") from None
            self.user = "postgres"
            shutil.chown(self.tmp, "postgres")

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.tmp} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-t", "60",
                  "-l", str(self.tmp / "log"), "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


@contextmanager
def postgres_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server's `postgres` database (see the module docstring)."""
    pytest.importorskip("psycopg")
    wanted = os.environ.get(ENV, "")
    if wanted and wanted != "none":
        yield wanted
        return
    if wanted != "none" and _answers(RUNNING):
        yield RUNNING
        return
    bindir = _bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL reachable on 127.0.0.1:5432 and no server binaries "
                    "(initdb, pg_ctl) to start one: install PostgreSQL (e.g. apt-get "
                    "install postgresql)")
    server = PrivatePostgres(bindir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def own_database(server_url: str, prefix: str, driver: str = "postgresql") -> Iterator[str]:
    """A new database on `server_url` (URL scheme `driver`), dropped after (FORCE: a
    connection a failed test left open does not keep it)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    base = server_url.rsplit("/", 1)[0].replace("postgresql://", f"{driver}://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

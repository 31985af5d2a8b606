"""Shared fixtures: real redis-server processes and the real gRPC server on port 0.

Test tiers (markers, registered in pyproject.toml): a test is marked by what it needs or
how long it runs, here for whole folders and fixtures, in a module (`pytestmark`) for the
rest. `make test-fast` leaves out every marked test; `make test` runs them all.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis

from reservation.server.app import App, start_app
from reservation.storage.redis_process import RedisProcess
from tests.helpers.postgres import own_database, postgres_server_url
from tests.helpers.redis_servers import LocalRedisCluster, LocalSentinelGroup, start_redis
from tests.helpers.server import Stubs, test_settings

# Folders and files whose every test carries these markers.
MARKS_BY_PATH = {
    "tests/chaos/": ("chaos", "slow"),
    "tests/fuzz/": ("fuzz",),
    "tests/clients/test_console_browser.py": ("browser", "slow"),
    "tests/benchmarks/": ("slow",),
    "tests/packaging/": ("slow",),
}
# A test that uses one of these fixtures (directly or through another) needs that part.
MARKS_BY_FIXTURE = {"redis_cluster": "cluster", "postgres_server": "postgres",
                    "redis_sentinel": "slow"}
# The model-based tests (hypothesis stateful): test_model*.py anywhere.
MODEL_FILE_PREFIX = "test_model"
# The source trees no test may write into (tmp_path is for that): a file left there
# would ship in a wheel or be imported by the next run.
SOURCE_TREES = ("reservation", "clients")
UNTRACKED_AT_START = pytest.StashKey[set[str]]()


def untracked(root: Path) -> set[str]:
    """Files git does not track (and does not ignore) under SOURCE_TREES; nothing outside a
    git checkout."""
    out = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "--",
                          *SOURCE_TREES], cwd=root, capture_output=True, text=True,
                         check=False)
    return set(out.stdout.splitlines()) if out.returncode == 0 else set()


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # once, in the controller of -n
        session.config.stash[UNTRACKED_AT_START] = untracked(session.config.rootpath)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(UNTRACKED_AT_START, None)
    if before is None:
        return
    new = sorted(untracked(session.config.rootpath) - before)
    if new:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write("\n")
            reporter.write_sep("!", "the tests wrote into the source tree (use tmp_path): "
                               + ", ".join(new), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        rel = item.path.relative_to(root).as_posix()
        for prefix, marks in MARKS_BY_PATH.items():
            if rel.startswith(prefix):
                for mark in marks:
                    item.add_marker(mark)
        for fixture, mark in MARKS_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(mark)
        if "[cluster" in item.name or "_cluster" in item.name:  # parametrized on Cluster
            item.add_marker("cluster")
        if item.path.name.startswith(MODEL_FILE_PREFIX):
            item.add_marker("model")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change the server's settings."""
    return {}


@pytest.fixture
async def app(redis_url: str, settings_overrides: dict[str, Any]) -> AsyncIterator[App]:
    running = await start_app(test_settings(redis_url, **settings_overrides))
    yield running
    await running.stop(grace=0)


@pytest.fixture
async def stubs(app: App) -> AsyncIterator[Stubs]:
    async with grpc.aio.insecure_channel(app.target) as channel:
        yield Stubs(channel)


@pytest.fixture(scope="session")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One private redis-server (AOF, appendfsync everysec) for the whole session."""
    with start_redis(tmp_path_factory.mktemp("redis")) as proc:
        yield proc


@pytest.fixture
def redis_url(redis_proc: RedisProcess) -> str:
    """URL of the session redis-server, emptied (FLUSHALL) before the test."""
    if not redis_proc.is_running:  # an earlier test stopped or killed it
        redis_proc.restart()
    with redis.Redis.from_url(redis_proc.url) as r:
        r.flushall()
    return redis_proc.url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    """A 3-master local Redis Cluster for the whole session."""
    with LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture
def redis_cluster_url(redis_cluster: LocalRedisCluster) -> str:
    """URL of the session cluster, all masters emptied (FLUSHALL) before the test."""
    redis_cluster.flushall()
    return redis_cluster.url


@pytest.fixture
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSentinelGroup]:
    """A primary, a replica and three sentinels of its own for the test."""
    with LocalSentinelGroup(tmp_path_factory.mktemp("redis-sentinel")) as group:
        yield group


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server's `postgres` database (tests/helpers/postgres.py)."""
    with postgres_server_url() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A database of this test session's own, dropped at the end."""
    with own_database(postgres_server, "reservation_test") as url:
        yield url


@pytest.fixture
def sqlite_records_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'records.sqlite3'}"


@pytest.fixture
def postgres_records_url(postgres_server: str) -> Iterator[str]:
    """An empty database per test: migrations start from nothing."""
    with own_database(postgres_server, "records_test", driver="postgresql+psycopg") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def records_url(request: pytest.FixtureRequest) -> str:
    """Each records test once on SQLite (the default) and once on PostgreSQL."""
    name = f"{request.param}_records_url"
    return str(request.getfixturevalue(name))

"""The records follower as a process of its own: `reservation serve` with
RESERVATION_RECORDS_FOLLOWER=off applies nothing, and `reservation records follow`
beside it (one, or two on groups 0/2 and 1/2, killed and started again) applies every
order event exactly once. Real processes, real Redis, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from reservation.records.database import engine_for
from reservation.records.store import Records
from reservation.server.app import start_app
from reservation.storage.records import lease_key
from tests.helpers.cli import STOP_BOUND_S, Served, cli, cli_env, start_serve, stop_serve
from tests.helpers.records import all_in_store, each_event_once, order_round
from tests.helpers.server import test_settings

pytestmark = pytest.mark.slow  # real processes, killed and started again

PER_ROUND = 30


def _follow(tmp: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`reservation records follow *args`, its output in a log beside the test's files."""
    name = "-".join(a.replace("/", "_") for a in args) or "all"
    with open(tmp / f"follow-{name}.log", "a") as log:  # the child keeps its own handle
        return subprocess.Popen([sys.executable, "-m", "reservation.cli", "records",
                                 "follow", *args], env=cli_env(**env), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)


def _round(target: str, r: int) -> list[str]:
    return asyncio.run(order_round(target, f"F{r}", PER_ROUND, "PAID", r == 0))


def _env(redis_url: str, records_url: str) -> dict[str, str]:
    return {"RESERVATION_REDIS_URL": redis_url, "RESERVATION_RECORDS_URL": records_url}


def _nothing_applied(redis_url: str, records_url: str) -> None:
    """No follower ran: no lease of any group was taken, no cursor is in the store."""
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.keys(lease_key() + "*") == []
    finally:
        client.close()
    engine = engine_for(records_url)
    try:
        assert Records(engine).cursors() == {}
    finally:
        engine.dispose()


def _check_all(target: str, records_url: str, ids: list[str]) -> None:
    engine = engine_for(records_url)
    try:
        asyncio.run(all_in_store(target, Records(engine), ids))
        each_event_once(engine)
    finally:
        engine.dispose()


def _end(followers: list[subprocess.Popen[str]], served: Served) -> None:
    """Whatever a test left running: the followers (killed), then the server."""
    for f in followers:
        if f.poll() is None:
            f.kill()
            f.wait()
    stop_serve(served)


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(STOP_BOUND_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("reservation records follow did not stop on SIGTERM") from None


async def test_serve_with_the_follower_off_runs_none(redis_url: str, records_url: str) -> None:
    for setting, runs in (("off", False), ("on", True)):
        app = await start_app(test_settings(redis_url, records_url=records_url,
                                            records_follower=setting))
        try:
            assert ("records" in {t.get_name() for t in app._tasks}) is runs, setting
        finally:
            await app.stop(grace=0)


@pytest.mark.parametrize("groups", [("0/1",), ("0/2", "1/2")])
def test_the_command_beside_serve_applies_every_order_once(
        tmp_path: Path, redis_url: str, records_url: str, groups: tuple[str, ...]) -> None:
    env = _env(redis_url, records_url)
    served = start_serve(tmp_path, RESERVATION_RECORDS_FOLLOWER="off", **env)
    followers: list[subprocess.Popen[str]] = []
    try:
        ids = _round(served.target, 0)
        _nothing_applied(redis_url, records_url)  # serve followed nothing meanwhile
        followers = [_follow(tmp_path, env, "--group", g) for g in groups]
        ids += _round(served.target, 1)
        _check_all(served.target, records_url, ids)
        assert [_stop(f) for f in followers] == [0] * len(groups)  # SIGTERM: a clean stop
    finally:
        _end(followers, served)


def test_the_command_killed_and_started_again_loses_and_doubles_nothing(
        tmp_path: Path, redis_url: str, records_url: str) -> None:
    env = _env(redis_url, records_url)
    served = start_serve(tmp_path, RESERVATION_RECORDS_FOLLOWER="off", **env)
    followers: list[subprocess.Popen[str]] = []
    try:
        ids: list[str] = []
        for r in range(3):
            followers.append(_follow(tmp_path, env))
            ids += _round(served.target, r)
            followers[-1].kill()  # SIGKILL: wherever it is; its lease is left to expire
            followers[-1].wait()
        followers.append(_follow(tmp_path, env))
        _check_all(served.target, records_url, ids)
    finally:
        _end(followers, served)


def test_serve_workers_with_the_follower_off_follow_nothing(
        tmp_path: Path, redis_url: str, sqlite_records_url: str) -> None:
    env = _env(redis_url, sqlite_records_url)
    served = start_serve(tmp_path, "--workers", "2", RESERVATION_RECORDS_FOLLOWER="off",
                         **env)
    followers: list[subprocess.Popen[str]] = []
    try:
        ids = _round(served.target, 0)
        _nothing_applied(redis_url, sqlite_records_url)
        followers.append(_follow(tmp_path, env))
        _check_all(served.target, sqlite_records_url, ids)
    finally:
        _end(followers, served)


@pytest.mark.parametrize(("args", "env", "named"), [
    (("serve",), {"RESERVATION_RECORDS_FOLLOWER": "maybe"}, "RESERVATION_RECORDS_FOLLOWER="),
    (("records", "follow"), {"RESERVATION_RECORDS_FOLLOWER_GROUP": "2/2"},
     "RESERVATION_RECORDS_FOLLOWER_GROUP="),
    (("records", "follow"), {"RESERVATION_REDIS_URL": ""}, "RESERVATION_REDIS_URL"),
    (("records", "follow"), {"RESERVATION_RECORDS_URL": ""}, "RESERVATION_RECORDS_URL"),
    (("records", "follow", "--group", "1/1"), {}, "--group"),
])
def test_bad_settings_are_refused_naming_them(
        tmp_path: Path, args: tuple[str, ...], env: dict[str, str], named: str) -> None:
    base = {"RESERVATION_REDIS_URL": "redis://127.0.0.1:1/0",
            "RESERVATION_RECORDS_URL": f"sqlite:///{tmp_path / 'records.sqlite3'}",
            "RESERVATION_DATA_DIR": str(tmp_path)}
    result = cli(*args, env=cli_env(**{**base, **env}))
    assert result.returncode == 2, result
    assert named in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "records.sqlite3").exists()  # refused before anything opened

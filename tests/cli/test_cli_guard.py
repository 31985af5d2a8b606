"""`reservation safety-stock` and `reservation breaker` against a running server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Served, cli, start_serve, stop_serve
from tests.helpers.redis_servers import start_redis

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("cli-guard")
    redis_proc = start_redis(tmp / "redis", appendonly=False)
    try:
        served = start_serve(tmp, RESERVATION_REDIS_URL=redis_proc.url)
        try:
            yield served
        finally:
            stop_serve(served)
    finally:
        redis_proc.stop()


def run(server: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args, "--target", server.target)


def ok(result: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_operators_set_thresholds_force_breakers_and_read_safety_stock(server: Served) -> None:
    ok(run(server, "stock", "load", "CLI-G:WH-1:30"))
    out = ok(run(server, "safety-stock", "set", "CLI-G", "--units", "12", "--live", "on"))["guard"]
    assert (out["safetyStock"], out["override"], out["liveStream"]) == (12, 12, True)
    ok(run(server, "breaker", "set-threshold", "CLI-G", "pos", "0"))
    out = ok(run(server, "breaker", "force", "CLI-G", "jd", "open"))["guard"]
    states = {b["channel"]: (b["state"], b["threshold"]) for b in out["breakers"]}
    assert states == {"jd": ("BREAKER_STATE_OPEN", 12), "pos": ("BREAKER_STATE_CLOSED", 0)}
    listed = ok(run(server, "breaker", "list"))
    assert [(b["sku"], b["channel"]) for b in listed["breakers"]] == [("CLI-G", "jd")]
    out = ok(run(server, "breaker", "clear", "CLI-G", "jd"))["guard"]
    jd = next(b for b in out["breakers"] if b["channel"] == "jd")
    assert jd["forced"] == "BREAKER_STATE_UNSPECIFIED"


def test_bad_input_exits_1_naming_the_field(server: Served) -> None:
    ok(run(server, "stock", "load", "CLI-H:WH-1:3"))
    result = run(server, "breaker", "set-threshold", "CLI-H", "jd", "-4")
    assert result.returncode == 1
    assert "INVALID_ARGUMENT" in result.stderr and "threshold" in result.stderr
    assert run(server, "safety-stock", "get", "NO-SUCH").returncode == 1

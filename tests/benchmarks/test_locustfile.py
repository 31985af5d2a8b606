"""The load-testing page's locust command (docs/operating/load-testing.md) works as
written: each run starts a sale of its own (so a second run measures what the first
did), the flow scenario keeps stock flowing, reserved and rejected orders are separate
rows or rejections count as failures by choice, every LOADTEST_* setting is honoured or
refused, and what is missing is said in one line."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
from pathlib import Path

from reservation.server.app import App
from reservation.storage.redis_process import free_port

REPO = Path(__file__).resolve().parents[2]


async def locust(tmp: Path, host: str, *extra: str, **env: str) -> tuple[int, str]:
    """The page's command, shortened (-u 5 -t 10s: on a busy machine locust needs seconds to start its users), against `host`: (exit code, stderr).
    Run without blocking: the server under test shares this event loop."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RESERVATION_",
                                                                         "LOADTEST_"))}
    environ.update(env, PYTHONPATH=str(REPO))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "locust", "-f", str(REPO / "benchmarks" / "locustfile.py"),
        "--headless", "-u", "5", "-r", "5", "-t", "10s", "-H", host,
        "--csv", str(tmp / "out"), "--html", str(tmp / "out.html"), *extra,
        env=environ, cwd=tmp, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    return int(proc.returncode or 0), err.decode(errors="replace")


def rows(tmp: Path) -> dict[str, dict[str, str]]:
    with open(tmp / "out_stats.csv") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


async def test_a_sellout_sells_exactly_the_units_and_counts_rejections_apart(
        app: App, tmp_path: Path) -> None:
    code, stderr = await locust(tmp_path, app.target, LOADTEST_SKU="LOC-1",
                                LOADTEST_UNITS="5", LOADTEST_SCENARIO="sellout")
    assert code == 0, stderr[-2000:]
    stats = rows(tmp_path)
    assert int(stats["Reserve RESERVED"]["Request Count"]) == 5  # exactly the units loaded
    rejected = [name for name in stats if name.startswith("Reserve REJECTED")]
    assert rejected, sorted(stats)
    assert int(stats["Aggregated"]["Failure Count"]) == 0
    assert "Traceback" not in stderr

    # Run again at once with other units: a sale of its own, holding what it says.
    code, stderr = await locust(tmp_path, app.target, LOADTEST_SKU="LOC-1",
                                LOADTEST_UNITS="7", LOADTEST_SCENARIO="sellout",
                                LOADTEST_REJECTIONS="fail")
    assert code == 1, stderr[-2000:]  # locust's exit code when a request failed
    stats = rows(tmp_path)
    assert int(stats["Reserve RESERVED"]["Request Count"]) == 7
    failed = int(stats["Aggregated"]["Failure Count"])
    assert failed > 0 and failed == sum(int(r["Request Count"]) for name, r in stats.items()
                                        if name.startswith("Reserve REJECTED"))


async def test_the_flow_scenario_reserves_in_two_runs_in_a_row(app: App,
                                                               tmp_path: Path) -> None:
    for _ in range(2):
        code, stderr = await locust(tmp_path, app.target, LOADTEST_SKU="FLOW-1",
                                    LOADTEST_UNITS="3")
        assert code == 0, stderr[-2000:]
        stats = rows(tmp_path)
        # 3 units, each released or paid and restocked at once: far more than 3 reserved.
        assert int(stats["Reserve RESERVED"]["Request Count"]) > 3, stats.keys()
        assert int(stats["Release"]["Request Count"]) > 0


async def test_a_bad_setting_stops_the_run_in_one_line(app: App, tmp_path: Path) -> None:
    for env, says in (({"LOADTEST_UNIT": "5000"}, "unknown setting LOADTEST_UNIT"),
                      ({"LOADTEST_UNITS": "many"}, "LOADTEST_UNITS='many' is not a whole number"),
                      ({"LOADTEST_SCENARIO": "burst"}, "LOADTEST_SCENARIO must be one of")):
        code, stderr = await locust(tmp_path, app.target, **env)
        assert code != 0
        [line] = [ln for ln in stderr.splitlines() if ln.startswith("locustfile:")]
        assert says in line, line
        assert "Traceback" not in stderr


async def test_locust_says_in_one_line_when_no_server_listens(tmp_path: Path) -> None:
    code, stderr = await locust(tmp_path, f"127.0.0.1:{free_port()}")
    assert code != 0
    [line] = [ln for ln in stderr.splitlines() if ln.startswith("locustfile:")]
    assert "UNAVAILABLE" in line and "reservation serve" in line
    assert "Traceback" not in stderr

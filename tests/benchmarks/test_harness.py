"""Smoke runs of the benchmark harness on a tiny workload: it runs, its checks pass, and a
broken system fails the run. No timing is asserted: throughput is a benchmark, never a test.

PostgreSQL comes from the postgres_url fixture (started privately when none is running);
redis-benchmark is used where it exists, else the run names the baseline it skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import uvloop

from benchmarks import loadgen, run

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_writes_results_and_every_check_passes(tmp_path: Path, postgres_url: str) -> None:
    args = run.parse(["--quick", "--out", str(tmp_path), "--pg", postgres_url])
    assert uvloop.run(run.main(args)) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    systems = {r["system"] for r in data["rows"]}
    assert {"noop", "service", "lean", "naive", "pg"} <= systems
    # The Node.js peer runs where node and its locked packages are (.ci/run installs
    # them: make bench-deps), else the run names it as skipped.
    if shutil.which("node") and (run.NODE_PEER / "node_modules").is_dir():
        assert "node" in systems
    else:
        assert any(s.startswith("node (") for s in data["meta"]["skipped"])
    for peer in {"lean", "node"} & systems:  # held to the same checks as the service
        peer_rows = [r for r in data["rows"] if r["system"] == peer]
        assert {(r["scenario"], r["mode"]) for r in peer_rows} >= {
            ("flash", "unary"), ("flash", "batch"), ("flash", "stream"), ("broad", "batch")}
        assert all(r["check"] == "ok, oversold 0" for r in peer_rows)
        assert all(r["redis_cmds_per_order"] > 0 for r in peer_rows)
    common = data["summary"]["peers"]["common_case_redis_cmds_per_order"]
    assert common["service"] > 0 and common["lean"] > 0
    if shutil.which("redis-benchmark"):
        assert "redis-benchmark" in systems
    else:
        assert any("redis-benchmark" in s for s in data["meta"]["skipped"])
    assert data["summary"]["oversold_total"] == 0
    assert data["summary"]["checks_failed"] == 0
    assert (tmp_path / "results.md").read_text().count("| flash |") >= 8
    assert (tmp_path / "results.png").stat().st_size > 0


def test_a_service_that_oversells_by_one_fails_the_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(tmp_path),
         "--systems", "oversell-by-one"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "CHECK FAILED: flash oversell-by-one unary" in done.stderr
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert any(r["check"].startswith("FAILED") for r in rows)


def test_rpc_errors_above_the_threshold_fail_the_run() -> None:
    suite = run.Suite(run.parse(["--quick", "--max-error-rate", "0.01"]), redis_proc=None)
    tally = loadgen.Tally(calls=1000, orders=1000, reserved=990, errors=10)
    suite.record("flash", loadgen.result("service", "unary", 8, 1.0, tally), None)
    assert suite.failures == []  # 1.0%: at the threshold, not above it
    tally.errors = 11
    suite.record("flash", loadgen.result("service", "unary", 8, 1.0, tally), None)
    assert suite.failures == ["flash service unary: 11 RPC errors in 1000 calls (more than 1.0%)"]

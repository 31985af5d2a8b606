"""Smoke run of the benchmark harness on a tiny workload: it runs and its checks pass.

No timing is asserted: throughput is a benchmark, never a test.
"""

from __future__ import annotations

import json
from pathlib import Path

import uvloop

from benchmarks import run


def test_quick_run_writes_results_and_every_check_passes(tmp_path: Path) -> None:
    args = run.parse(["--quick", "--out", str(tmp_path)])
    assert uvloop.run(run.main(args)) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    systems = {r["system"] for r in data["rows"]}
    assert {"redis-benchmark", "noop", "service", "naive", "pg"} <= systems
    assert data["summary"]["oversold_total"] == 0
    assert data["summary"]["checks_failed"] == 0
    assert (tmp_path / "results.md").read_text().count("| flash |") >= 8
    assert (tmp_path / "results.png").stat().st_size > 0

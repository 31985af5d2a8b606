"""The routing kernel benchmark runs at a small size and writes its files (no timing
is asserted: speed lives in benchmarks/results)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_kernel_benchmark_writes_json_and_markdown(tmp_path: Path) -> None:
    out = tmp_path / "routing-kernel"
    subprocess.run([sys.executable, "-m", "benchmarks.routing_kernel", "--orders", "50",
                    "--warehouses", "7", "--repeats", "1", "--rounds", "2", "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    result = json.loads(out.with_suffix(".json").read_text())
    assert [r["implementation"] for r in result["rows"]] == ["numba", "numpy", "python"]
    assert len(result["rounds"]) == 2
    assert "numba is" in out.with_suffix(".md").read_text()


def test_routing_cpu_benchmark_writes_its_rows(tmp_path: Path) -> None:
    out = tmp_path / "routing-cpu"
    subprocess.run([sys.executable, "-m", "benchmarks.routing_cpu", "--orders", "200",
                    "--in-flight", "20", "--rounds", "2", "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    result = json.loads(out.with_suffix(".json").read_text())
    assert [m["mode"].split(",")[0] for m in result["modes"]] == ["over gRPC", "in process (no gRPC)"]
    for mode in result["modes"]:
        assert set(mode["rows"]) == {"Reserve (no routing)", "Reserve with destination (routed)",
                                     "Route (one order per call)",
                                     "RouteBatch (100 orders per call)"}
        assert len(mode["rounds"]) == 2

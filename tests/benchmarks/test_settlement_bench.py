"""The settlement benchmark runs at a small size and writes its files (no timing is
asserted: speed lives in benchmarks/results)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_settlement_benchmark_runs_and_writes_its_files(tmp_path: Path) -> None:
    out = tmp_path / "settlement"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.settlement", "--orders", "1200", "--runs", "2",
         "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600,
        check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["orders"] == 1200 and len(result["runs"]) == 2
    # 1 % never seen, 1 % wrong amounts, a refund per 200 orders: the same each run.
    assert {r["differences"] for r in result["runs"]} == {12 + 12 + 6}
    assert "| reconcile the same day again (no change) |" in out.with_suffix(".md").read_text()
    assert str(ROOT) not in out.with_suffix(".json").read_text()

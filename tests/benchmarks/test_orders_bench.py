"""The order hub benchmark runs at a small size, checks its own stock invariants and
writes its files (no timing is asserted: speed lives in benchmarks/results)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_orders_benchmark_runs_every_row_and_checks_them(tmp_path: Path) -> None:
    out = tmp_path / "orders"
    subprocess.run([sys.executable, "-m", "benchmarks.orders", "--orders", "60", "--batch",
                    "25", "--reserves", "40", "--audit-db", "sqlite", "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True, timeout=600)
    result = json.loads(out.with_suffix(".json").read_text())
    rows = result["results"]
    assert [r["check"] for r in rows] == ["ok"] * 5
    assert rows[0]["order_events"] == rows[1]["order_events"] == 120
    assert all(r["cpu_us_per_event"] > 0 for r in rows[:2])
    assert rows[3]["orders_synced_meanwhile"] >= 25  # the hub was at work meanwhile
    # every audit event of both sync rows and the Reserve rows' orders, once
    assert rows[4]["stored"] == rows[4]["events"]
    assert "| audit puller into sqlite |" in out.with_suffix(".md").read_text()

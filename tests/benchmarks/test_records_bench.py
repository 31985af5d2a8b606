"""The records benchmark runs at a small size and writes its files (no timing is
asserted: speed lives in benchmarks/results)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_records_benchmark_runs_and_writes_every_part(tmp_path: Path) -> None:
    out = tmp_path / "records"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.records", "--orders", "60", "--batch", "20",
         "--rate", "200", "--seconds", "0.5", "--list-rows", "500", "--sync-orders", "40", "--runs", "2",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(out.with_suffix(".json").read_text())
    m = result["memory"]
    # An evicted order keeps less in Redis than a closed one in the window.
    assert 0 < m["past_window_bytes"] < m["closed_in_window_bytes"]
    assert m["stream_entry_bytes"] > 0
    assert result["lag"]["events"] >= 100 and result["lag"]["lag_p99_ms"] >= 0
    assert [r["filter"] for r in result["list"]] == ["none", "channel", "state", "warehouse"]
    assert len(result["runs"]) == 2
    assert all(result["sync"][f"{k}_per_s"] > 0 for k in ("before", "store_only", "after"))
    # What an evicted order leaves has a time to live: nothing stays past the horizon.
    assert m["evicted_keys"] and m["evicted_keys_without_ttl"] == 0
    assert 0 < m["evicted_max_ttl_days"] <= 90
    assert "| closed, past the window (evicted) |" in out.with_suffix(".md").read_text()
    assert str(ROOT) not in out.with_suffix(".json").read_text()

"""The records benchmark's memory part alone (--memory-only LABEL) at a small size: each
label's series kept beside the others in one file (no figure asserted but what eviction
must give: less than a closed order, nothing without a TTL, nothing past the horizon)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_memory_series_are_kept_side_by_side(tmp_path: Path) -> None:
    out = tmp_path / "records-memory"
    for label in ("first", "second"):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.records", "--memory-only", label, "--orders",
             "60", "--batch", "20", "--runs", "1", "--out", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    series = json.loads(out.with_suffix(".json").read_text())["series"]
    assert list(series) == ["first", "second"]
    m = series["second"]["memory"]
    assert 0 < m["past_window_day_bytes"] < m["closed_in_window_bytes"]
    assert m["evicted_keys"] and m["evicted_keys_without_ttl"] == 0
    assert 0 < m["evicted_max_ttl_days"] <= 90
    md = out.with_suffix(".md").read_text()
    assert "| bytes per order | first | second |" in md
    assert str(ROOT) not in out.with_suffix(".json").read_text() + md

"""The records_sync benchmark runs every configuration at a small size and writes its
files (no timing is asserted: speed lives in benchmarks/results)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.records_sync import CONFIGS

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str, orders: int = 60) -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks.records_sync", "--orders", str(orders),
                           "--batch", "20", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def test_every_configuration_syncs_the_same_events_and_drains(tmp_path: Path) -> None:
    out = tmp_path / "sync"
    _bench("--runs", "2", "--out", str(out), orders=200)
    result = json.loads(out.with_suffix(".json").read_text())
    assert len(result["runs"]) == 2
    for run in result["runs"]:
        by = {r["config"]: r for r in run}
        assert set(by) == set(CONFIGS)
        # 200 new PAID orders: the same order events whatever the store's configuration.
        assert len({r["events"] for r in run}) == 1 and run[0]["events"] >= 200
        # Only the follower of its own process is measured as one.
        assert by["store, follower apart"]["drained_follower_us"] > 0
        assert all(by[c]["drained_follower_us"] == 0 for c in CONFIGS[:3])
        assert by["none"]["drained_postgres_us"] == 0  # SQLite: no server
    assert set(result["medians"]) == set(CONFIGS)
    md = out.with_suffix(".md").read_text()
    assert "| orders/s |" in md and str(ROOT) not in md + out.with_suffix(".json").read_text()


def test_profile_writes_one_file_per_configuration(tmp_path: Path) -> None:
    _bench("--profile", str(tmp_path / "p"))
    for i, config in enumerate(CONFIGS):
        text = (tmp_path / f"p-{i}.txt").read_text()
        assert text.startswith(f"# {config}") and "OrderHub.sync" in text

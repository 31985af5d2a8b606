"""The routing backtest benchmark runs end to end at a tiny size (its speed is what the
benchmark measures, not checked here): both samples hold every order, and the recorded
and uploaded runs agree on the shipping warehouses, as the same orders must."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_recorded_and_uploaded_samples_agree(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "benchmarks.routing_backtest", "--orders", "300",
                    "--runs", "1", "--out", str(tmp_path)], cwd=REPO, check=True,
                   timeout=300, capture_output=True)
    result = json.loads((tmp_path / "routing_backtest.json").read_text())
    [recorded], [uploaded] = result["runs"]["recorded"], result["runs"]["uploaded"]
    assert recorded["orders"] == uploaded["orders"] == 300
    assert 0 < result["shipped"] <= 60  # an order held at two warehouses names none
    assert recorded["vs_shipped"] == uploaded["vs_shipped"] is not None
    assert recorded["vs_recorded"] is not None and uploaded["vs_recorded"] is None
    assert "| recorded |" in (tmp_path / "routing_backtest.md").read_text()


def test_stock_sync_breaker_part_runs_on_the_shared_server(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "benchmarks.stock_sync", "--parts", "breaker",
                    "--rounds", "2", "--runs", "1", "--out", str(tmp_path)],
                   cwd=REPO, check=True,
                   timeout=300, capture_output=True)
    assert "breaker" in json.loads((tmp_path / "stock_sync.json").read_text())

"""The stock-sync benchmark runs end to end at a tiny size (its speed figures are not
checked: that is what the benchmark measures; this keeps it runnable)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_flash_sale_part_serves_every_paid_order_with_stock_sync(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "benchmarks.stock_sync", "--parts", "flash",
                    "--orders", "60", "--sale-s", "1", "--others-per-s", "10",
                    "--stock", "30", "--runs", "1", "--out", str(tmp_path)],
                   cwd=REPO, check=True,
                   timeout=300, capture_output=True)
    off, on = json.loads((tmp_path / "stock_sync.json").read_text())["flash_sale"]
    assert on["unserved_paid"] == 0, on
    assert off["unserved_paid"] > 0, off
    assert "paid orders the hub could not serve" in (tmp_path / "stock_sync.md").read_text()

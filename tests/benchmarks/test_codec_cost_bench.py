"""The codec benchmark runs and prints both figures (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_codec_cost_prints_encode_and_decode() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks.codec_cost", "--number", "50",
                           "--repeat", "1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    names = [ln.split(":")[0] for ln in done.stdout.splitlines()]
    assert names == ["encode", "decode"] and "us per document" in done.stdout

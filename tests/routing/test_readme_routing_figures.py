"""The routing performance page (docs/performance/routing.md) quotes the committed routing
results files: the kernel's ratios and what routing adds to Reserve's CPU, as the files
say (re-run, re-quote)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def routing_section() -> str:
    return (ROOT / "docs" / "performance" / "routing.md").read_text()


def test_the_kernel_ratios_are_the_results_files() -> None:
    kernel = json.loads((RESULTS / "routing-kernel.json").read_text())
    section = " ".join(routing_section().split())
    assert f"numba is {kernel['numba_vs_python']}x pure Python" in section
    assert f"{round(kernel['numba_vs_numpy'], 1)}x NumPy" in section


def test_what_routing_adds_is_the_results_files() -> None:
    cpu = json.loads((RESULTS / "routing-cpu.json").read_text())
    section = " ".join(routing_section().split())
    quoted = [float(x) for x in re.findall(r"routing adds ([\d.]+)%", section)]
    assert quoted and quoted[0] == cpu["routing_adds_percent"]
    in_process = next(m for m in cpu["modes"] if m["mode"].startswith("in process"))
    assert f"(+{in_process['routing_adds_percent']}%)" in section

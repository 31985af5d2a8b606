"""What the commit-by-commit tables (orders_levers.py, routing_levers.py) share: each
commit's results file and subject line in, one markdown table out."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def per_commit(commits: list[str], prefix: str) -> Iterator[tuple[str, str, Any]]:
    """(commit, its subject line, results/<prefix>-at-<commit>.json) for each commit."""
    for commit in commits:
        data = json.loads((RESULTS / f"{prefix}-at-{commit}.json").read_text())
        subject = subprocess.run(["git", "log", "-1", "--format=%s", commit], cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout.strip()
        yield commit, subject, data


def write(name: str, lines: list[str]) -> None:
    """results/<name> and standard output."""
    (RESULTS / name).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

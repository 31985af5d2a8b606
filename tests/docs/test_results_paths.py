"""Results files carry no absolute path of the machine they ran on, and the benchmarks
write relative ones (benchmarks/paths.py)."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks import paths

ROOT = Path(__file__).resolve().parents[2]
# A path of a machine: /work/..., /tmp/..., /home/... (not /proc, an API path in a
# code sample, or a URL).
ABSOLUTE = re.compile(r"""(^|[\s"'(`=])/(work|tmp|root|home|usr|opt|var|srv|mnt)/""",
                      re.MULTILINE)


def test_no_results_file_carries_an_absolute_path() -> None:
    found = []
    for path in sorted((ROOT / "benchmarks" / "results").rglob("*")):
        if path.is_file() and path.suffix in (".md", ".json", ".txt", ".csv", ".html"):
            for match in ABSOLUTE.finditer(path.read_text(encoding="utf-8")):
                found.append(f"{path.name}: {match.group(0).strip()}")
    assert found == []


def test_a_command_line_is_written_with_relative_paths() -> None:
    out = paths.command("benchmarks.orders", ["--orders", "8000", "--out",
                                              str(ROOT / "benchmarks" / "results" / "x"),
                                              f"--profile={ROOT / 'p.txt'}", "/tmp/elsewhere"])
    assert out == ("python -m benchmarks.orders --orders 8000 --out benchmarks/results/x "
                   "--profile=p.txt " + paths.relative("/tmp/elsewhere"))
    assert not ABSOLUTE.search(out)


def test_a_profile_header_loses_the_checkout_it_ran_in() -> None:
    text = f"Profile at {ROOT / 'benchmarks' / 'server_proc.py'}:84\n"
    assert paths.scrub(text) == "Profile at benchmarks/server_proc.py:84\n"

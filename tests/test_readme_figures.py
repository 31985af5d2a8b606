"""Every row of the performance page's table (docs/performance/service.md) is a row of the
committed results file: the docs quote measurements, they do not make them up or keep
them past a re-run."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "results.json"
PAGE = ROOT / "docs" / "performance" / "service.md"


def tables(section: str) -> list[list[list[str]]]:
    """Every Markdown table of a section: rows of cells, header row first."""
    out: list[list[list[str]]] = []
    previous = ""
    for ln in section.splitlines():
        if ln.startswith("| ") and "---" not in ln:
            if not previous.startswith("|"):
                out.append([])
            out[-1].append([c.strip() for c in ln.strip().strip("|").split("|")])
        previous = ln
    return out


def performance_table() -> list[list[str]]:
    """The table of runs (the one whose header starts with "scenario"), header dropped."""
    return next(t[1:] for t in tables(performance_section()) if t[0][0] == "scenario")


def targets_table() -> list[list[str]]:
    """The table of issue #9's targets (header starts with "target"), header dropped."""
    return next(t[1:] for t in tables(performance_section()) if t[0][0] == "target")


def performance_section() -> str:
    return PAGE.read_text()


def matches(cells: list[str], row: dict) -> bool:
    scenario, system, mode, in_flight, per_s, p50, p99, cpu, efficiency, check = cells
    rate = re.fullmatch(r"unary \(open loop (\d+)/s\)", mode)
    if rate:
        mode, in_flight = "unary", "0"
        if round(row.get("rate") or 0) != int(rate.group(1)):
            return False
    elif row.get("rate"):
        return False

    def same(value: str, got: object, digits: int) -> bool:
        return value == "" or (got is not None and round(float(got), digits) == float(value))

    return (row["scenario"], row["system"], row["mode"]) == (scenario, system, mode) \
        and int(row["concurrency"]) == int(in_flight) \
        and round(row["orders_per_s"]) == int(per_s) \
        and same(p50, row.get("p50_ms"), 1) and same(p99, row.get("p99_ms"), 1) \
        and same(cpu, row.get("cpu_us_per_order") or row.get("redis_us_per_order"), 0) \
        and same(efficiency, row.get("efficiency"), 2) \
        and row["check"] == check


def test_every_row_of_the_readme_performance_table_is_in_the_results_file() -> None:
    rows = json.loads(RESULTS.read_text())["rows"]
    table = performance_table()
    assert len(table) >= 10
    missing = [cells for cells in table if not any(matches(cells, r) for r in rows)]
    assert missing == [], f"{PAGE.name} figures not in {RESULTS.name}: {missing}"


def test_the_readme_names_the_date_of_the_run_it_quotes() -> None:
    date = json.loads(RESULTS.read_text())["meta"]["date"]
    assert f"run of {date}" in PAGE.read_text()


def test_each_target_the_readme_marks_is_marked_as_the_results_file_says() -> None:
    summary = json.loads(RESULTS.read_text())["summary"]
    rows = targets_table()
    assert {cells[0] for cells in rows} == set(summary["targets"]), \
        "the page must list every target of the run, and only those"
    for target, figures, verdict in rows:
        assert verdict in ("met", "**missed**"), verdict
        assert (verdict == "met") == summary["targets"][target], target
        quoted = re.findall(r"`(\w+)` (-?[\d.]+)", figures)
        assert quoted, f"{target}: no figure quoted"
        for key, value in quoted:
            digits = len(value.split(".")[1]) if "." in value else 0
            assert summary[key] is not None and round(float(summary[key]), digits) \
                == float(value), f"{target}: {key} is {summary[key]}, the page says {value}"

"""The order hub's speed table (docs/performance/order-hub.md) quotes
benchmarks/results/orders.json row for row: a re-run that changes the figures fails here
until the page says what the file says."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "orders.json"
PAGE = ROOT / "docs" / "performance" / "order-hub.md"


def orders_table() -> list[list[str]]:
    section = PAGE.read_text()
    header = "| mode | events | events/s |"
    assert header in section, "no speed table"
    rows = []
    for ln in section.split(header, 1)[1].splitlines()[1:]:  # the rows up to a non-row
        if not ln.startswith("|"):
            break
        if "---" not in ln:
            rows.append([c.strip() for c in ln.strip("|").split("|")])
    return rows


def test_every_row_of_the_orders_speed_table_is_in_the_results_file() -> None:
    results = json.loads(RESULTS.read_text())
    by_mode = {r["mode"]: r for r in results["results"]}
    table = orders_table()
    assert len(table) == len(by_mode)
    for mode, events, per_s, cpu, check in table:
        row = by_mode[mode]
        assert int(events) == row.get("order_events", row.get("events")), mode
        assert int(per_s) == row.get("order_events_per_s", row.get("events_per_s")), mode
        assert cpu == (str(row["cpu_us_per_event"]) if "cpu_us_per_event" in row else ""), mode
        assert check == row["check"], mode


def test_the_readme_names_the_run_it_quotes() -> None:
    meta = json.loads(RESULTS.read_text())["meta"]
    section = PAGE.read_text()
    assert f"run of {meta['when']}" in section
    assert f"load average {meta['load_average_1m_at_start']}" in section

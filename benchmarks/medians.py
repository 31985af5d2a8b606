"""Medians of several `benchmarks.run` results: `python -m benchmarks.medians NAME DIR...`.

One run on a shared 2-core box is noise; three runs of the same command, taken one after
another with nothing else running, and the median of each figure per row are the number
to quote. Writes benchmarks/results/NAME.json and NAME.md: each row's medians (rows keyed
by scenario, system, mode and in-flight), every run's load averages, the code measured
(--commit), and issue #25's targets against the peers judged on the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks import paths, report
from benchmarks.run import RESULTS, peer_targets

FIGURES = ("orders_per_s", "p50_ms", "p95_ms", "p99_ms", "cpu_us_per_order",
           "redis_us_per_order", "redis_cmds_per_order", "orders_per_script_call")
KEY = ("scenario", "system", "mode", "concurrency")


def _median(values: list[Any]) -> Any:
    xs = [v for v in values if isinstance(v, int | float)]
    return round(statistics.median(xs), 3) if xs else None


def median_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per key, in the first run's order; checks joined (any failure shows)."""
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for run in runs:
        for row in run["rows"]:
            if row.get("rate"):  # the open-loop point: its rate differs per run
                continue
            by_key.setdefault(tuple(row[k] for k in KEY), []).append(row)
    out = []
    for key, rows in by_key.items():
        row: dict[str, Any] = dict(zip(KEY, key, strict=True))
        row.update({f: _median([r.get(f) for r in rows]) for f in FIGURES})
        checks = {r.get("check", "") for r in rows}
        row["check"] = checks.pop() if len(checks) == 1 else " / ".join(sorted(checks))
        row["runs"] = len(rows)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", help="results/<name>.json and .md")
    p.add_argument("runs", nargs="+", type=Path, help="output directories of benchmarks.run")
    p.add_argument("--commit", required=True, help="the code the runs measured")
    p.add_argument("--note", default="", help="one line on what was measured")
    args = p.parse_args(argv)
    runs = [json.loads((d / "results.json").read_text()) for d in args.runs]
    rows = median_rows(runs)
    commons: dict[str, list[float]] = {}
    for run in runs:
        for system, n in run["summary"].get("peers", {}).get(
                "common_case_redis_cmds_per_order", {}).items():
            commons.setdefault(system, []).append(n)
    common = {s: _median(ns) for s, ns in commons.items()}
    peers = peer_targets(rows, common)
    meta = {"commit": args.commit, "note": args.note,
            "command": runs[0]["meta"]["command"], "machine": runs[0]["meta"]["machine"],
            "runs": [{"date": r["meta"]["date"], "load_average": r["meta"]["load_average"],
                      "skipped": r["meta"]["skipped"]} for r in runs]}
    (RESULTS / f"{args.name}.json").write_text(json.dumps(
        {"meta": meta, "peers": peers, "rows": rows}, indent=1))
    loads = "; ".join(f"{r['date']}: {r['load_average']['before']} before, "
                      f"{r['load_average']['after']} after" for r in meta["runs"])
    header = (f"Medians of {len(runs)} runs of `{meta['command']}` on {meta['machine']}, "
              f"code at {args.commit}{': ' + args.note if args.note else ''}.\n\n"
              f"Load average (1/5/15 min) per run: {loads}.\n\n"
              "Targets against the peers (issue #25), on the medians: "
              + "; ".join(f"{k}: {'met' if v else 'MISSED'}"
                          for k, v in peers["targets"].items()))
    cols = (*KEY, *FIGURES, "check", "runs")
    text = report.markdown(rows, header, cols) + "\n```\n" + json.dumps(
        {k: v for k, v in peers.items() if k != "targets"}, indent=1) + "\n```\n"
    (RESULTS / f"{args.name}.md").write_text(paths.scrub(text))
    print(text)


if __name__ == "__main__":
    main()

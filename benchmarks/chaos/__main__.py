"""`make chaos` (= python -m benchmarks.chaos): seeded fault schedules against the real
service; prints a table, writes benchmarks/results/chaos.md, exits 1 on any violation.

    python -m benchmarks.chaos --seeds 1 2 3 --faults 20          # 60 faults in all
    python -m benchmarks.chaos --seeds 7 --faults 6 --out /tmp/c.md   # a short run
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.chaos import cluster_failover, failover
from benchmarks.chaos.faults import KINDS
from benchmarks.chaos.run import Result, run_seed

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "chaos.md"


def table(results: Sequence[Result]) -> str:
    seeds = " ".join(str(r.seed) for r in results)
    lines = [(f"Seeds: {seeds}; {sum(sum(r.faults.injected.values()) for r in results)} "
             "faults in all."), "", "| fault | " + " | ".join(f"seed {r.seed}" for r in results)
             + " | total |", "|---" * (len(results) + 2) + "|"]
    for kind in KINDS:
        counts = [r.faults.injected[kind] for r in results]
        lines.append(f"| {kind} | " + " | ".join(map(str, counts)) + f" | {sum(counts)} |")
        missed = [r.faults.injected[f"{kind} missed"] for r in results]
        if any(missed):  # a saga step no order reached in time: nothing was injected
            lines.append(f"| {kind} (step not reached, none injected) | "
                         + " | ".join(map(str, missed)) + f" | {sum(missed)} |")
    lines += ["", "| check | " + " | ".join(f"seed {r.seed}" for r in results) + " |",
              "|---" * (len(results) + 1) + "|"]
    for i, check in enumerate(results[0].checks):
        cells = ["pass" if r.checks[i].ok else f"**FAIL** ({len(r.checks[i].violations)})"
                 for r in results]
        lines.append(f"| {check.name} | " + " | ".join(cells) + " |")
    lines += ["", "| orders | " + " | ".join(f"seed {r.seed}" for r in results) + " |",
              "|---" * (len(results) + 1) + "|"]
    multi = [sum(rec.multi for rec in r.traffic.records.values()) for r in results]
    lines.append("| sent (multi-shard) | " + " | ".join(
        f"{len(r.traffic.records)} ({m})" for r, m in zip(results, multi)) + " |")
    answered = [collections.Counter(a for rec in r.traffic.records.values()
                                    for a in rec.answers[:1]) for r in results]
    for state in ("RESERVED", "QUEUED", "REJECTED"):
        lines.append(f"| answered {state} | " + " | ".join(
            str(a[state]) for a in answered) + " |")
    finals = [r.final_states() for r in results]
    for state in sorted(set().union(*finals)):
        lines.append(f"| final {state} | " + " | ".join(str(f[state]) for f in finals) + " |")
    lines.append("| confirms acknowledged | " + " | ".join(
        str(sum(rec.confirm == "ok" for rec in r.traffic.records.values()))
        for r in results) + " |")
    lines.append("| seconds | " + " | ".join(f"{r.seconds:.0f}" for r in results) + " |")
    return "\n".join(lines + hub_table(results))


def hub_table(results: Sequence[Result]) -> list[str]:
    """The order hub's orders: what was sent, what adapters were told, where they ended."""
    lines = ["", "| hub orders | " + " | ".join(f"seed {r.seed}" for r in results) + " |",
             "|---" * (len(results) + 1) + "|"]
    hubs = [r.traffic.hub.values() for r in results]
    rows = {"sent (multi-shard)": [f"{len(h)} ({sum(rec.multi for rec in h)})" for h in hubs],
            "answers acknowledged": [str(sum(len(rec.told) for rec in h)) for h in hubs],
            "calls unanswered": [str(sum(rec.unanswered for rec in h)) for h in hubs],
            "calls refused": [str(sum(len(rec.refused) for rec in h)) for h in hubs]}
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows.items()]
    finals = [collections.Counter(o.state for o in r.final.hub.values()) for r in results]
    for state in sorted(set().union(*finals)):
        lines.append(f"| final {state} | " + " | ".join(str(f[state]) for f in finals) + " |")
    return lines


def violations(results: Sequence[Result]) -> str:
    out = []
    for r in results:
        for c in r.checks:
            for v in c.violations[:20]:
                out.append(f"- seed {r.seed}, {c.name}: {v}")
    return "\n".join(out)


def commit() -> str:
    """The commit the run is of (with '+changes' when the tree differs from it)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False,
                              cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    head = git("rev-parse", "--short=7", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def report(results: Sequence[Result], argv: Sequence[str],
           failovers: Sequence[failover.FailoverResult] = (),
           load_start: float | None = None) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = "" if load_start is None else (
        f"; load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    head = [f"# Chaos run of {when}, commit {commit()}", "",
            (f"`python -m benchmarks.chaos {' '.join(argv)}` on {platform.node() or 'this box'}"
             f" ({os.cpu_count()} cores, {platform.python_version()}{load}); Redis with "
             f"appendonly yes, appendfsync always; {len(results)} seed(s). Faults are described in "
             "`benchmarks/chaos/faults.py`, checks in `benchmarks/chaos/checks.py`."), ""]
    body = [table(results)] if results else []
    bad = violations(results)
    body += ["", "Violations:", "", bad] if bad else ["", "No violations."]
    if failovers:
        body += ["", "## Redis failover under load", "",
                 ("A primary with one replica and three sentinels, two `reservation serve`, "
                 "8 workers reserving and confirming (`benchmarks/chaos/failover.py`). "
                 "kill: the primary SIGKILLed (and started again as the new primary's "
                 "replica); freeze: the primary SIGSTOPped until the replica was promoted, "
                 "then let go (a partitioned primary coming back); partition: for 1 s the "
                 "replica hears nothing from the primary (a relay drops it), then kill; "
                 "cluster-kill: in a Redis Cluster of three primaries with a replica each "
                 "(`benchmarks/chaos/cluster_failover.py`), one primary SIGKILLed, the "
                 "Cluster promotes its replica, the node started again rejoins as a replica. "
                 "Lost: answered holds, acknowledged confirms and their write-back events "
                 "that are not there afterwards."), "", failover.table(failovers)]
        bad_failover = failover.violations(failovers)
        body += ["", "Failover violations:", "", bad_failover] if bad_failover else \
            ["", ("No failover violations (with the wait on nothing was lost; the service "
                 "took writes again after every failover).")]
    return "\n".join(head + body) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--faults", type=int, default=20, help="faults per seed")
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS),
                   help="fault kinds to draw from (default: all)")
    p.add_argument("--failover", choices=("on", "off", "only"), default="on",
                   help=("the Redis failover runs (Sentinel: kill, freeze, partition; "
                         "Cluster: kill; wait 0 and 1) after the seeds"))
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    load_start = os.getloadavg()[0]
    results = []
    failovers = []
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        for seed in args.seeds if args.failover != "only" else ():
            result = asyncio.run(run_seed(seed, args.faults, args.replicas, args.workers,
                                          Path(tmp), args.kinds))
            print(f"seed {seed}: {'ok' if result.ok else 'VIOLATIONS'} "
                  f"({sum(result.faults.injected.values())} faults, "
                  f"{len(result.traffic.records)} orders, {result.seconds:.0f} s)", flush=True)
            results.append(result)
        scenarios = [*failover.SCENARIOS, cluster_failover.SCENARIO]
        for scenario in scenarios if args.failover != "off" else ():
            for wait in (0, 1):
                workdir = Path(tmp) / f"failover-{scenario}-{wait}"
                one = asyncio.run(
                    cluster_failover.run_cluster_failover(workdir, wait)
                    if scenario == cluster_failover.SCENARIO
                    else failover.run_failover(workdir, scenario, wait))
                print(f"failover {scenario}, wait {wait}: {'ok' if one.ok else 'VIOLATIONS'} "
                      f"({len(one.told.held)} holds, {one.lost} lost)", flush=True)
                failovers.append(one)
    text = report(results, sys.argv[1:] if argv is None else list(argv), failovers,
                  load_start)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0 if all(r.ok for r in results) and all(f.ok for f in failovers) else 1


if __name__ == "__main__":
    sys.exit(main())

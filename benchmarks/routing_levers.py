"""The routing CPU benchmark commit by commit: one table from routing-cpu-at-<commit>.json.

    python -m benchmarks.routing_levers cc49220 5f47829 ...   (oldest first)

Each commit's file comes from `python -m benchmarks.routing_cpu --rounds 2 --out
benchmarks/results/routing-cpu-at-<commit>` run in a checkout of that commit (with this
commit's routing_cpu.py copied in, so every row is measured the same way); the table names
each commit by its subject line. Writes benchmarks/results/routing-levers.md.
"""

from __future__ import annotations

import sys

from benchmarks import levers

PLAIN, ROUTED = "Reserve (no routing)", "Reserve with destination (routed)"
ROUTE, BATCH = "Route (one order per call)", "RouteBatch (100 orders per call)"


def main(commits: list[str]) -> int:
    lines = ["# Routing CPU per order, commit by commit", "",
             ("Each row: `python -m benchmarks.routing_cpu --rounds 2` in a checkout of the "
              "commit (the same benchmark file), from `routing-cpu-at-<commit>.json`: CPU "
              "µs per order, median round; over gRPC the server process + Redis, in process "
              "Python + Redis. The box was shared (load average at each mode's end in the "
              "row) and CPU per order under load moves from run to run: read single steps "
              "with care."), "",
             ("| commit | change | load avg | gRPC: Reserve | gRPC: routed | gRPC: adds | "
              "gRPC: Route | gRPC: RouteBatch/order | in process: Reserve | in process: "
              "routed | in process: adds | in process: Route |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for commit, subject, data in levers.per_commit(commits, "routing-cpu"):
        g, i = (next(m for m in data["modes"] if m["mode"].startswith(p))
                for p in ("over gRPC", "in process"))
        loads = f"{g['load_average'][0]}/{i['load_average'][0]}"

        def cpu(m: dict, row: str) -> str:
            return f"{m['rows'][row]['cpu_us_per_order']:,.0f}"

        lines.append(
            f"| {commit} | {subject[:90]} | {loads} | {cpu(g, PLAIN)} | {cpu(g, ROUTED)} | "
            f"{g['routing_adds_percent']}% | {cpu(g, ROUTE)} | {cpu(g, BATCH)} | "
            f"{cpu(i, PLAIN)} | {cpu(i, ROUTED)} | {i['routing_adds_percent']}% | "
            f"{cpu(i, ROUTE)} |")
    levers.write("routing-levers.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The order hub benchmark commit by commit: one table from orders-at-<commit>.json.

    python -m benchmarks.orders_levers e4a9657 48d90de ...   (oldest first)

Each commit's file comes from `python -m benchmarks.orders --out
benchmarks/results/orders-at-<commit>` run in a checkout of that commit (with this
benchmark file); the table names each commit by its subject line. Writes
benchmarks/results/orders-levers.md.
"""

from __future__ import annotations

import sys

from benchmarks import levers


def main(commits: list[str]) -> int:
    lines = ["# Order hub benchmark, commit by commit", "",
             ("Each row: `python -m benchmarks.orders --orders 8000` in a checkout of the "
              "commit (the same benchmark file), from `orders-at-<commit>.json`. The box "
              "was shared: the load average is in each row, and CPU per event under load "
              "varies from run to run (no spread measured), so read single steps with care."), "",
             ("| commit | change | load avg (start/end) | in process us/event | gRPC server "
              "us/event | gRPC events/s | Reserve/s hub idle (p99 ms) | Reserve/s hub "
              "syncing (p99 ms) | audit into PostgreSQL events/s |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for commit, subject, data in levers.per_commit(commits, "orders"):
        meta, rows = data["meta"], data["results"]
        by = {r["mode"].split(" (")[0].split(",")[0]: r for r in rows}
        idle, busy = (r for r in rows if "Reserve" in r["mode"])
        grpc = by["gRPC SyncOrders"]
        lines.append(
            f"| {commit} | {subject} | {meta['load_average_1m_at_start']}/"
            f"{meta['load_average_1m_at_end']} | {by['in process']['cpu_us_per_event']} | "
            f"{grpc['cpu_us_per_event']} | {grpc['order_events_per_s']} | "
            f"{idle['events_per_s']} ({idle['p99_ms']}) | {busy['events_per_s']} "
            f"({busy['p99_ms']}) | {rows[-1]['events_per_s']} |")
    levers.write("orders-levers.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

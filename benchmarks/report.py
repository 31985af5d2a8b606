"""results.json -> a Markdown table and a PNG (throughput and p99 against concurrency)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

COLUMNS = ("scenario", "system", "mode", "concurrency", "orders_per_s", "reserved", "rejected",
           "errors", "p50_ms", "p95_ms", "p99_ms", "cpu_us_per_order", "redis_us_per_order",
           "redis_cmds_per_order", "orders_per_script_call", "efficiency", "check")
"""cpu_us_per_order: server-side CPU (service process tree + Redis, from /proc) per order;
redis_cmds_per_order: every command Redis ran (script calls and the commands inside them,
from INFO commandstats) per order; orders_per_script_call: how many orders one script call
carried; efficiency: the no-op servicer's CPU per order in the same mode over this row's."""


def markdown(rows: list[dict[str, Any]], header: str,
             columns: tuple[str, ...] = COLUMNS) -> str:
    out = [header, "", "| " + " | ".join(columns) + " |",
           "|" + "---|" * len(columns)]
    for r in rows:
        out.append("| " + " | ".join("" if r.get(c) is None else str(r[c])
                                     for c in columns) + " |")
    return "\n".join(out) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["scenario"] == "flash" and r["mode"] in ("unary", "batch", "stream") \
                and not r.get("rate"):
            lines[f"{r['system']} {r['mode']}"].append(r)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    # One colour per system and one line style per mode, so no two lines look alike
    # (the default cycle has 10 colours and repeats).
    systems = sorted({name.rsplit(" ", 1)[0] for name in lines})
    colours = {sys_: plt.get_cmap("tab10")(i % 10) for i, sys_ in enumerate(systems)}
    styles = {"unary": ("-", "o"), "batch": ("--", "s"), "stream": (":", "^")}
    for name, pts in sorted(lines.items()):
        system, mode = name.rsplit(" ", 1)
        style, marker = styles[mode]
        pts.sort(key=lambda p: p["concurrency"])
        xs = [p["concurrency"] for p in pts]
        kw = {"color": colours[system], "linestyle": style, "marker": marker, "label": name}
        ax1.plot(xs, [p["orders_per_s"] for p in pts], **kw)
        ax2.plot(xs, [p["p99_ms"] for p in pts], **kw)
    for ax, label in ((ax1, "orders/s"), (ax2, "p99 latency per call (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("orders in flight (calls x batch size, streams x window)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    ax1.set_yscale("log")  # the no-op batch line would squash every other line
    ax2.set_yscale("log")
    if lines:
        ax1.legend(fontsize=8)
    ax1.set_title("flash sale: throughput")
    ax2.set_title("flash sale: p99")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

"""What the demo prints: a run's funnel per channel with its checks (oversold = 0, every
tracking number at its channel once), and the two runs side by side."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from reservation.clients.channels.samples import CHANNELS
from reservation.clients.demo.flow import RunResult, tag
from reservation.v1 import order_service_pb2 as opb


def check(result: RunResult) -> tuple[int, bool]:
    """(oversold, every tracking number reached its channel once)."""
    at_channel: dict[str, set[tuple[str, str]]] = {c: set() for c in CHANNELS}
    pushes: Counter[str] = Counter()
    for p in result.at_channel:
        at_channel[p.channel].add((p.order_id, p.tracking_number))
        pushes[p.channel] += 1
    reached = all(at_channel[c] >= result.shipped[c] and pushes[c] == len(result.shipped[c])
                  for c in CHANNELS)
    oversold = 0
    for stock in result.stocks.values():
        loaded = sum(lv.loaded for lv in stock.levels)
        taken = sum(lv.held + lv.confirmed for lv in stock.levels)
        consistent = all(lv.loaded == lv.available + lv.held + lv.confirmed + lv.returned
                         and min(lv.available, lv.held, lv.confirmed, lv.returned) >= 0
                         for lv in stock.levels)
        oversold += max(0, taken - loaded) + (0 if consistent else 1)
    return oversold, reached


def funnel(console: Console, result: RunResult, intercepted: Counter[str]) -> int:
    """The run's table per channel; 0 when every check holds."""
    by_channel: dict[str, Counter[str]] = {c: Counter() for c in CHANNELS}
    for o in result.orders:
        by_channel[o.channel][o.state] += 1
    on_time: dict[str, tuple[float, int]] = {}
    for row in result.stats.rows:
        if row.channel and row.paid:
            rate, paid = on_time.get(row.channel, (0.0, 0))
            on_time[row.channel] = (rate + row.on_time_rate * row.paid, paid + row.paid)
    table = Table(title=f"order flow by channel (stock sync {tag(result.sync_on)})")
    for col in ("channel", "buyers", "stopped by listing", "orders", "paid", "abandoned",
                "in hub", "shipped", "held for review", "paid, no stock", "intercepted",
                "on time", "tracking at channel", "refused by adapter"):
        table.add_column(col, justify="left" if col == "channel" else "right")
    for c in CHANNELS:
        placed, states = result.placed[c], by_channel[c]
        paid = sum(s.state == "PAID" for s in placed)
        rate, n_paid = on_time.get(c, (0.0, 0))
        table.add_row(c, str(result.attempts[c]), str(result.blocked[c]), str(len(placed)),
                      str(paid), str(len(placed) - paid), str(sum(states.values())),
                      str(states["SHIPPED"]), str(states["ON_HOLD"]), str(result.unserved(c)),
                      str(intercepted[c]), f"{rate / n_paid:.0%}" if n_paid else "-",
                      str(len(result.shipped[c])), str(result.refused[c]))
    console.print(table)
    for row in result.stats.rows:
        if row.channel:
            console.print(health_line(row))
    oversold, reached = check(result)
    total = sum(len(v) for v in result.placed.values())
    console.print(f"{total} channel orders synced, shipped and pushed back in "
                  f"{result.elapsed:.1f} s; oversold = {oversold}; every tracking number "
                  f"reached its channel once: {'yes' if reached else 'NO'}")
    return 0 if oversold == 0 and reached else 1


def health_line(row: opb.FulfilmentStats) -> str:
    """One channel's order health (GetFulfilmentStats by channel): each rate with what
    it counts, "-" while nothing counts (no promise due, nothing delivered yet)."""
    def rate(value: float, n: int) -> str:
        return f"{value:.0%}" if n else "-"
    return (f"health {row.channel}: on promise {rate(row.on_promise_rate, row.promised)} "
            f"({row.promised} due), complete {rate(row.complete_rate, row.lifecycles)} "
            f"({row.lifecycles} delivered), consistent {rate(row.consistent_rate, row.paid)} "
            f"({len(row.inconsistent)} of {row.paid} paid disagree with the channel or the WMS)")


def side_by_side(console: Console, off: RunResult, on: RunResult) -> None:
    table = Table(title="the same buyers, stock sync off and on")
    for col in ("channel", "stopped by listing (off)", "paid, no stock (off)",
                "stopped by listing (on)", "paid, no stock (on)"):
        table.add_column(col, justify="left" if col == "channel" else "right")
    for c in CHANNELS:
        table.add_row(c, str(off.blocked[c]), str(off.unserved(c)), str(on.blocked[c]),
                      str(on.unserved(c)))
    table.add_row("all", str(sum(off.blocked.values())),
                  str(sum(off.unserved(c) for c in CHANNELS)), str(sum(on.blocked.values())),
                  str(sum(on.unserved(c) for c in CHANNELS)))
    console.print(table)
    console.print(f"paid orders the hub could not serve: {sum(off.unserved(c) for c in CHANNELS)}"
                  f" without stock sync, {sum(on.unserved(c) for c in CHANNELS)} with it; "
                  f"oversold = {check(off)[0]} and {check(on)[0]}")

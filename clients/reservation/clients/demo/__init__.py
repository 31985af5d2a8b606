"""`reservation-clients demo`: a flash sale's orders through the whole order flow, against
a running service (`reservation demo` runs it as its second act, on its private server).

Six fake channels (channels/fake_server.py, on 127.0.0.1, and a POS folder) take
buyers' orders against their listings; the real adapters poll them and sync them to the
hub (which reserves at arrival, confirms on payment, routes, and holds for review what
it cannot serve); buyers pay or abandon; a WMS ships every routed order; the adapters
push the tracking numbers back. It runs twice with the same buyers (flow.py): without
the stock-sync workers, then with them telling every listing what the service may sell,
and prints the two side by side: buyers a listing stopped, paid orders the hub could not
serve, oversold = 0 in both.

The service needs an order event group per adapter's feed (GROUPS, in
RESERVATION_ORDER_EVENT_GROUPS) and a write-back group per stock-sync worker
(flow.listing_groups(), in RESERVATION_WRITE_BACK_GROUPS); the interception rules in
force are the service's own (the server's demo puts the seed rules before this act).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

from rich.console import Console

from reservation.api import connection
from reservation.clients.channels.samples import CHANNELS
from reservation.clients.demo import report
from reservation.clients.demo.flow import RunResult, listing_groups, one_run
from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc

GROUPS = "audit," + ",".join(f"feed-{c}" for c in CHANNELS)
"""The order event groups the server needs for this act (one feed per adapter)."""
WRITE_BACK_GROUPS = ",".join(["wms", *listing_groups()])
"""The write-back groups it needs (the WMS's, and one per stock-sync worker)."""
MODES = {"off": (False,), "on": (True,), "both": (False, True)}

__all__ = ["CHANNELS", "GROUPS", "WRITE_BACK_GROUPS", "add_arguments", "main", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    # A demo server: plaintext, no token (the act loads stock and reads every order).
    p.add_argument("--target", default=connection.DEFAULT_TARGET, help="service address")
    p.add_argument("--per-channel", type=int, default=60, help="buyers per channel")
    p.add_argument("--seed", type=int, default=7, help="random seed of the orders")
    p.add_argument("--stock-sync", choices=sorted(MODES), default="both",
                   help="run without the stock-sync workers, with them, or both (default)")


def main(args: argparse.Namespace) -> int:
    console = Console(width=170)
    return asyncio.run(run(args.target, console, args.seed, args.per_channel,
                           args.stock_sync))


async def run(target: str, console: Console, seed: int = 7, per_channel: int = 60,
              stock_sync: str = "both") -> int:
    """The order flow against a running server; 0 when every check of every run holds."""
    results: list[RunResult] = []
    codes: list[int] = []
    for sync_on in MODES[stock_sync]:
        results.append(await one_run(target, seed, per_channel, sync_on))
        codes.append(report.funnel(console, results[-1],
                                   await _intercepted(target, results[-1])))
    if len(results) == 2:
        report.side_by_side(console, *results)
    await _interception_line(target, console)
    return max(codes)


async def _intercepted(target: str, result: RunResult) -> Counter[str]:
    shops = {o.shop for o in result.orders}
    async with connection.aio_channel(target) as channel:
        reviews = await igrpc.InterceptionServiceStub(channel).ListReviews(
            ipb.ListReviewsRequest(page_size=1000), timeout=10)
    return Counter(r.key.channel for r in reviews.reviews if r.key.shop in shops)


async def _interception_line(target: str, console: Console) -> None:
    async with connection.aio_channel(target) as channel:
        icpt = igrpc.InterceptionServiceStub(channel)
        reviews = await icpt.ListReviews(ipb.ListReviewsRequest(page_size=1000), timeout=10)
        healing = await icpt.GetReviewStats(ipb.GetReviewStatsRequest(), timeout=10)
    rules = Counter(r.rule for r in reviews.reviews)
    console.print("intercepted before printing (open reviews): " + (", ".join(
        f"{n} {rule}" for rule, n in rules.most_common()) or "none")
        + f"; {healing.closed_automatically} closed by the channel without a person "
          f"(self-healing rate {healing.self_healing_rate:.0%} of closed reviews)")

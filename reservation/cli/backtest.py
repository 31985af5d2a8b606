"""`reservation rules backtest`: a candidate rule file against orders that really happened,
the hub's recorded orders of a period (`--since 30d`) or a history file (`--orders
FILE.csv|xlsx`), printed as a report (`--json` for the reply message)."""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.api import connection, history
from reservation.cli import output
from reservation.cli.loop import run
from reservation.v1 import routing_service_pb2 as pb
from reservation.v1 import routing_service_pb2_grpc as pb_grpc

_AGO = re.compile(r"(\d+(?:\.\d+)?)(d|h|m)")


def parse_when(text: str) -> Timestamp:
    """"30d", "12h", "90m" ago, or a date/time (2026-11-01, 2026-11-01T08:00, UTC)."""
    ts = Timestamp()
    m = _AGO.fullmatch(text)
    if m:
        seconds = float(m.group(1)) * {"d": 86400, "h": 3600, "m": 60}[m.group(2)]
        ts.FromMilliseconds(int((time.time() - seconds) * 1000))
        return ts
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a time ago (30d, 12h, 90m) nor a date (2026-11-01)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    ts.FromDatetime(when)
    return ts


def requests(a: argparse.Namespace, document: Any) -> list[pb.BacktestRoutingRequest]:
    first = pb.BacktestRoutingRequest(document=document)
    if a.orders:
        try:
            found = history.read(a.orders, a.sheet)
        except history.HistoryError as exc:
            raise SystemExit(f"error: {a.orders}: {exc}") from None
        if not found.orders:
            raise SystemExit(f"error: {a.orders}: no orders in the file")
        return history.requests(first, found.orders)
    first.recorded_from.CopyFrom(a.since)
    first.recorded_to.CopyFrom(a.until or parse_when("0m"))
    return [first]


def backtest(a: argparse.Namespace, document: Any) -> int:
    todo = requests(a, document)

    async def stream() -> AsyncIterator[pb.BacktestRoutingRequest]:
        for r in todo:
            yield r

    async def go() -> int:
        async with connection.aio_channel(a.target, connection.tls(a)) as channel:
            stub = pb_grpc.RoutingAdminServiceStub(channel)
            try:
                reply = await stub.BacktestRouting(
                    stream(), metadata=connection.bearer(a.token) + connection.operator())
            except grpc.aio.AioRpcError as exc:
                output.print_error(exc.code().name, exc.details() or "")
                return 1
        if a.json:
            output.print_reply(reply)
        else:
            print(report(reply))
        return 0

    return run(go)


def _rate(t: pb.BacktestTally) -> str:
    if not t.orders:
        return "no orders to compare"
    return f"{t.matched:,} of {t.orders:,} ({100 * t.match_rate:.1f}%)"


def report(r: pb.BacktestRoutingResponse) -> str:
    out = [(f"{r.orders:,} orders ({r.distinct_orders:,} distinct decisions"
           f"{f', {r.unplaced:,} not placed' if r.unplaced else ''})"),
           f"same as the recorded decision:  {_rate(r.vs_recorded)}",
           f"same as the shipping warehouse: {_rate(r.vs_shipped)}"]
    if r.versions:
        out.append("against the recorded decisions, by the rule set version that made them:")
        out += [f"  v{v.rules_version or '?'}: {_rate(v.tally)}" for v in r.versions]
    if r.rules:
        out.append("by rule of the candidate (orders it matched):")
        out += [f"  {x.rule}: {_rate(x.tally)}" for x in r.rules]
    if r.warehouses:
        out.append("warehouse        before   after    kept")
        out += [f"  {w.warehouse_id:<14} {w.before:>6,} {w.after:>7,} {w.kept:>7,}"
                for w in r.warehouses]
    if r.moves:
        out.append("orders that move (before -> after):")
        out += [f"  {m.before} -> {m.after}: {m.orders:,} (e.g. {', '.join(m.examples)})"
                for m in r.moves]
    if not math.isclose(r.cost_before, r.cost_after) or r.mean_km_before:
        out.append(f"cost: {r.cost_before:,.2f} -> {r.cost_after:,.2f}; mean distance: "
                   f"{r.mean_km_before:,.0f} km -> {r.mean_km_after:,.0f} km")
    out += [f"note: {n}" for n in r.notes]
    return "\n".join(out)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="CANDIDATE.yaml")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--since", type=parse_when,
                        help="the hub's orders created since (30d, 12h, 2026-11-01)")
    source.add_argument("--orders", metavar="FILE",
                        help="a history file (CSV or XLSX, one row per order line)")
    p.add_argument("--until", type=parse_when, default=None, help="with --since: until "
                   "(default now)")
    p.add_argument("--sheet", default="", help="with --orders: the XLSX sheet (default "
                   "the first)")
    p.add_argument("--json", action="store_true", help="the reply message as JSON")

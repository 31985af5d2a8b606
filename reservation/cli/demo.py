"""`reservation demo`: a flash sale from preload to summary, on real Redis and real gRPC.

Starts a private redis-server and the service, preloads a sale, fires thousands of
concurrent reservations from several simulated channels (with duplicate re-sends),
confirms some holds, lets the rest expire, and prints per SKU what happened. Then the
order flow: channel orders through the adapters, the hub, a WMS and back. The adapters are
the clients distribution, so that act is `reservation-clients demo` run as a process of
its own against this demo's server, as an adapter runs against a real one.

The stock checks run twice against the live counters: at the peak (right after the
reserve phase, when most units are held and an oversell shows as a negative available)
and at the end (every unpaid hold expired). Exit code 1 if any check fails.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from reservation.api import connection
from reservation.interception.rules import SEED_DOCUMENT
from reservation.server.app import start_app
from reservation.settings import Settings
from reservation.storage.redis_process import RedisProcess
from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import admin_service_pb2_grpc as admin_grpc
from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc
from reservation.v1 import reservation_service_pb2 as rs_pb
from reservation.v1 import reservation_service_pb2_grpc as rs_grpc
from reservation.v1 import types_pb2 as pb

CHANNELS = ("taobao", "jd", "pinduoduo", "douyin", "wechat", "pos")
SALE = [("PHONE-X", "WH-SHANGHAI", 300), ("PHONE-X", "WH-BEIJING", 200),
        ("EARBUDS", "WH-SHANGHAI", 400), ("CHARGER", "WH-GUANGZHOU", 150),
        ("CHARGER", "WH-SHANGHAI", 150)]
# The order flow's channels (the clients' demo, which this server cannot import: a test
# checks the two agree): an order event group per adapter's feed, and a write-back group
# per stock-sync worker of its run with stock sync (shop flagship-on, the online channels).
ORDER_FLOW_CHANNELS = ("taobao", "jd", "pdd", "douyin", "wechat", "pos")
ORDER_FLOW_GROUPS = "audit," + ",".join(f"feed-{c}" for c in ORDER_FLOW_CHANNELS)
ORDER_FLOW_WRITE_BACK_GROUPS = ",".join(
    ["wms", *(f"listing-{c}-flagship-on" for c in ORDER_FLOW_CHANNELS if c != "pos")])
SALE_ORDERS = 3000  # SALE's quantities are for this many orders; scaled for other counts
PER_BUYER_LIMIT = 2
IN_FLIGHT = 200
RESERVED = pb.RESERVATION_STATE_RESERVED
STATE = pb.ReservationState.Name
REASON = pb.RejectReason.Name


@dataclass
class Tally:
    orders: int = 0
    reserved_units: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    confirmed_units: int = 0
    expired_units: int = 0


def make_orders(n: int, rng: random.Random) -> list[rs_pb.ReserveRequest]:
    skus = sorted({sku for sku, _, _ in SALE})
    orders = []
    for i in range(n):
        lines = [pb.OrderLine(sku=rng.choice(skus), quantity=rng.choice((1, 1, 1, 2)))]
        if rng.random() < 0.15:  # a bundle: phone + earbuds
            lines = [pb.OrderLine(sku="PHONE-X", quantity=1), pb.OrderLine(sku="EARBUDS", quantity=1)]
        orders.append(rs_pb.ReserveRequest(
            channel=rng.choice(CHANNELS), order_id=f"{i:06d}",
            buyer_id=f"buyer-{rng.randrange(n // 2)}", lines=lines))
    return orders


async def fire(stub: rs_grpc.ReservationServiceStub, orders: list[rs_pb.ReserveRequest],
               rng: random.Random, console: Console) -> dict[tuple[str, str], pb.Reservation]:
    """Reserve every order with IN_FLIGHT concurrent calls; ~5% are sent twice.
    About 60% of buyers pay right after their hold: those orders are confirmed."""
    results: dict[tuple[str, str], pb.Reservation] = {}
    sends = orders + [o for o in orders if rng.random() < 0.05]
    rng.shuffle(sends)
    gate = asyncio.Semaphore(IN_FLIGHT)
    columns = (TextColumn("reserving"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("reserve", total=len(sends))

        async def one(req: rs_pb.ReserveRequest) -> None:
            async with gate:
                reply = await stub.Reserve(req, timeout=10)
                key = (req.channel, req.order_id)
                pays = key not in results and rng.random() < 0.6
                if pays and reply.reservation.state == pb.RESERVATION_STATE_RESERVED:
                    reply = await _pay(stub, req, reply)
            if key in results and not _same_order(results[key], reply.reservation):
                raise AssertionError(f"re-send of {key} answered differently")
            if key not in results or reply.reservation.state != RESERVED:
                results[key] = reply.reservation  # keep the most advanced answer
            progress.advance(task)

        await asyncio.gather(*(one(r) for r in sends))
    return results


async def _pay(stub: rs_grpc.ReservationServiceStub, req: rs_pb.ReserveRequest,
               held: rs_pb.ReserveResponse) -> rs_pb.ReserveResponse | rs_pb.ConfirmResponse:
    """Confirm the hold; a buyer who pays after the hold expired (a slow machine, short
    holds) is refused, as in production, and the order stays as it was answered."""
    try:
        return await stub.Confirm(rs_pb.ConfirmRequest(
            channel=req.channel, order_id=req.order_id), timeout=10)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise
        return held


def _same_order(a: pb.Reservation, b: pb.Reservation) -> bool:
    """A re-send answers the same order: same id and units. The hold may have moved on
    between the two answers (paid by the first copy, or expired), nothing else."""
    moved_on = {a.state, b.state} <= {pb.RESERVATION_STATE_RESERVED,
                                      pb.RESERVATION_STATE_CONFIRMED,
                                      pb.RESERVATION_STATE_EXPIRED}
    return (a.reservation_id == b.reservation_id and list(a.allocations) == list(b.allocations)
            and (a.state == b.state or moved_on))


def sale_items(n: int) -> list[tuple[str, str, int]]:
    """SALE scaled to n orders, so a smaller run still sells out (and can oversell)."""
    return [(sku, wh, max(1, qty * n // SALE_ORDERS)) for sku, wh, qty in SALE]


async def main(orders: int = 3000, hold_ttl_s: float = 3.0) -> int:
    console = Console(width=150)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="reservation-demo-") as tmp:
        redis = RedisProcess(data_dir=Path(tmp), appendonly=True, appendfsync="everysec")
        await asyncio.to_thread(redis.start)
        try:
            # one feed per channel adapter for the order flow
            settings = Settings(redis_url=redis.url, port=0,
                                order_event_groups=ORDER_FLOW_GROUPS,
                                write_back_groups=ORDER_FLOW_WRITE_BACK_GROUPS)
            app = await start_app(settings)
            try:
                console.print(f"service on [bold]{app.target}[/], private redis on {redis.url}")
                sale = await _run(app.target, orders, hold_ttl_s, rng, console)
                console.rule("order flow: six channels -> adapters -> hub -> WMS -> channels")
                flow = await _order_flow(app.target, console)
                return sale or flow
            finally:
                await app.stop(grace=1)
        finally:
            await asyncio.to_thread(redis.stop)


async def _order_flow(target: str, console: Console) -> int:
    """The second act, with the seed interception rules in force (seed 004)."""
    if importlib.util.find_spec("reservation.clients") is None:
        console.print("order flow skipped: it runs the channel adapters, which are the clients "
                      "distribution (pip install ./clients, or make demo)")
        return 0
    async with connection.aio_channel(target) as channel:
        await igrpc.InterceptionServiceStub(channel).PutInterceptionRules(
            ipb.PutInterceptionRulesRequest(
                document_json=json.dumps(SEED_DOCUMENT, ensure_ascii=False),
                comment="seed 004", actor="demo"), timeout=10)
    sys.stdout.flush()
    # posix_spawn (close_fds=False): no fork() while gRPC's threads run in this process.
    act = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "reservation.clients", "demo", "--target", target],
        close_fds=False, check=False)
    return act.returncode


async def _run(target: str, n: int, hold_ttl_s: float, rng: random.Random,
               console: Console) -> int:
    async with connection.aio_channel(target) as channel:
        admin, rs = admin_grpc.AdminServiceStub(channel), rs_grpc.ReservationServiceStub(channel)
        await _start_sale(admin, hold_ttl_s, sale_items(n))
        orders = make_orders(n, rng)
        t0 = time.perf_counter()
        results = await fire(rs, orders, rng, console)
        elapsed = time.perf_counter() - t0
        console.print(f"{len(orders)} orders from {len(CHANNELS)} channels in {elapsed:.2f} s "
                      f"({len(orders) / elapsed:,.0f} orders/s)")
        peak_ok = _check_peak(console, results, await _stocks(rs))
        held = sum(r.state == pb.RESERVATION_STATE_RESERVED for r in results.values())
        paid = sum(r.state == pb.RESERVATION_STATE_CONFIRMED for r in results.values())
        console.print(f"{paid} orders paid (confirmed); letting {held} unpaid holds expire "
                      f"({hold_ttl_s:g} s TTL)...")
        final = await _await_expiry(rs, results, hold_ttl_s)
        end_ok = _report(console, final, await _stocks(rs))
    return verdict(console, peak_ok, end_ok)


def verdict(console: Console, peak_ok: bool, end_ok: bool) -> int:
    """The sale's last line and exit code, from both checks: a failed peak check is a
    failed run even when the counters agree again at the end (holds expired since)."""
    if peak_ok and end_ok:
        console.print("[bold green]oversold = 0, counters consistent, at the peak and at "
                      "the end[/]")
        return 0
    failed = [name for name, ok in (("at the peak", peak_ok), ("at the end", end_ok))
              if not ok]
    console.print(f"[bold red]CHECK FAILED {' and '.join(failed)} (see above)[/]")
    return 1


async def _stocks(rs: rs_grpc.ReservationServiceStub) -> dict[str, rs_pb.GetStockResponse]:
    return {sku: await rs.GetStock(rs_pb.GetStockRequest(sku=sku), timeout=10)
            for sku in sorted({s for s, _, _ in SALE})}


def _level_ok(lv: pb.StockLevel) -> bool:
    """loaded = available + held + confirmed + returned, and no counter below zero."""
    return (lv.loaded == lv.available + lv.held + lv.confirmed + lv.returned
            and min(lv.available, lv.held, lv.confirmed, lv.returned) >= 0)


def _check_peak(console: Console, results: dict[tuple[str, str], pb.Reservation],
                stocks: dict[str, rs_pb.GetStockResponse]) -> bool:
    """Right after the reserve phase, before unpaid holds expire: every counter is
    consistent and not negative, nothing is sold or held beyond what was loaded, and the
    confirmed counters equal the units the clients were told are confirmed (confirming
    ended with the reserve phase, so the two must match exactly now)."""
    told: Counter[str] = Counter()
    for r in results.values():
        if r.state == pb.RESERVATION_STATE_CONFIRMED:
            for a in r.allocations:
                told[a.sku] += a.quantity
    problems = []
    for sku, stock in stocks.items():
        bad = [lv.warehouse_id for lv in stock.levels if not _level_ok(lv)]
        loaded = sum(lv.loaded for lv in stock.levels)
        taken = sum(lv.held + lv.confirmed for lv in stock.levels)
        confirmed = sum(lv.confirmed for lv in stock.levels)
        if bad:
            problems.append(f"{sku}: counters broken in {', '.join(bad)}")
        if taken > loaded:
            problems.append(f"{sku}: {taken} units held or sold of {loaded} loaded")
        if confirmed != told[sku]:
            problems.append(f"{sku}: {confirmed} confirmed in Redis, {told[sku]} told to clients")
    for p in problems:
        console.print(f"[bold red]peak check: {p}[/]")
    if not problems:
        console.print("peak check (right after reserving): counters consistent, oversold = 0")
    return not problems


async def _start_sale(admin: admin_grpc.AdminServiceStub, hold_ttl_s: float,
                      items: list[tuple[str, str, int]]) -> None:
    starts, ends, ttl = Timestamp(), Timestamp(), Duration()
    starts.GetCurrentTime()
    ends.FromSeconds(starts.seconds + 3600)
    ttl.FromMilliseconds(int(hold_ttl_s * 1000))
    await admin.StartFlashSale(admin_pb.StartFlashSaleRequest(
        create_skus=True,  # the demo's SKUs are its own
        sale_id="demo-flash-sale", starts_at=starts, ends_at=ends, hold_ttl=ttl,
        per_buyer_limit=PER_BUYER_LIMIT,
        items=[pb.StockItem(sku=s, warehouse_id=w, quantity=q) for s, w, q in items]))


async def _await_expiry(rs: rs_grpc.ReservationServiceStub,
                        results: dict[tuple[str, str], pb.Reservation],
                        hold_ttl_s: float) -> list[pb.Reservation]:
    """Wait until no order is RESERVED any more (the sweeper expires the unpaid ones)."""
    await asyncio.sleep(hold_ttl_s)
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def get(channel: str, order_id: str) -> pb.Reservation:
        async with gate:
            reply = await rs.GetReservation(rs_pb.GetReservationRequest(
                channel=channel, order_id=order_id), timeout=10)
        return reply.reservation

    for _ in range(100):
        views = await asyncio.gather(*(get(ch, oid) for ch, oid in results))
        if not any(v.state == pb.RESERVATION_STATE_RESERVED for v in views):
            return views
        await asyncio.sleep(0.2)
    raise RuntimeError("holds did not expire in time")


def _report(console: Console, final: list[pb.Reservation],
            stocks: dict[str, rs_pb.GetStockResponse]) -> bool:
    """The summary table at the end; whether its checks held (verdict says so)."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for r in final:
        for sku in {ln.sku for ln in r.lines}:
            tallies[sku].orders += 1
        if r.state == pb.RESERVATION_STATE_REJECTED:
            tallies[r.failed_sku].rejected[REASON(r.reject_reason).removeprefix("REJECT_REASON_")] += 1
        for a in r.allocations:
            tallies[a.sku].reserved_units += a.quantity
            if r.state == pb.RESERVATION_STATE_CONFIRMED:
                tallies[a.sku].confirmed_units += a.quantity
            elif r.state == pb.RESERVATION_STATE_EXPIRED:
                tallies[a.sku].expired_units += a.quantity
    reasons = ("INSUFFICIENT_STOCK", "SOLD_OUT", "BUYER_LIMIT_EXCEEDED", "NOT_ON_SALE")
    table = Table(title="Flash sale summary: units, except orders and rejections (orders)")
    for col in ("SKU", "loaded", "orders", "reserved", "confirmed", "expired",
                "rej. insufficient", "rej. sold out", "rej. buyer limit", "rej. not on sale",
                "available", "oversold", "invariant"):
        table.add_column(col, justify="left" if col == "SKU" else "right")
    ok = True
    for sku, stock in stocks.items():
        t = tallies[sku]
        loaded = sum(lv.loaded for lv in stock.levels)
        confirmed = sum(lv.confirmed for lv in stock.levels)
        invariant = all(_level_ok(lv) for lv in stock.levels)
        # Sold beyond what was loaded, or orders claiming units the counters never held.
        oversold = max(0, confirmed - loaded) + max(0, t.confirmed_units - confirmed)
        ok = ok and invariant and oversold == 0 and t.confirmed_units == confirmed
        table.add_row(sku, str(loaded), str(t.orders), str(t.reserved_units), str(confirmed),
                      str(t.expired_units), *(str(t.rejected[r]) for r in reasons),
                      str(sum(lv.available for lv in stock.levels)), str(oversold),
                      "holds" if invariant else "BROKEN")
    console.print(table)
    states = Counter(STATE(r.state).removeprefix("RESERVATION_STATE_") for r in final)
    console.print("orders by final state: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    return ok

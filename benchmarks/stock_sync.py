"""Stock out to the channels, measured: `python -m benchmarks.stock_sync`.

Three parts against a `reservation serve` process (its own Redis, AOF everysec), the
fake channels in this process, and real `reservation-clients stock-sync` processes:

1. lag: stock changes at a set rate (LoadStock, 100 items a call) across 500 SKUs
   listed on the five channels with listings (10 SKUs an item); each worker's channel
   calls capped at --rate per second. The lag from a change to its channel listing
   holding the new quantity is the service's own histogram
   (reservation_listing_push_lag_seconds, from the workers' reports), read from /metrics
   before and after; p50/p99 interpolated within its buckets as Prometheus does.
2. breaker: a SKU's breaker forced OPEN and CLOSED again, --rounds times; the time from
   the ForceBreaker answer to the Douyin listing being offline (online again), as the
   fake channel records it.
3. flash sale: 2,300 Douyin buyers in 12 s (and a few on Taobao and JD meanwhile) for
   a SKU all three list; adapters poll every second. Without stock sync every listing
   shows the whole stock; with it (a rule: Douyin 80%, Taobao and JD 10% each, and a
   dynamic safety of 3 s of sales that closes the Douyin listing) the workers keep the
   listings told. Counted: paid orders the hub could not serve.

Writes stock_sync.{md,json} into --out (benchmarks/results); run it alone on the box.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from prometheus_client.parser import text_string_to_metric_families

from benchmarks import cpu, paths
from benchmarks.serve import Served, served
from reservation.clients.channels import adapter
from reservation.clients.channels.fake_server import FakeChannels
from reservation.clients.channels.poller import Backoff, Poller
from reservation.clients.channels.samples import Sample, build
from reservation.clients.channels.store import AdapterStore
from reservation.clients.channels.sync import GrpcSink
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import admin_service_pb2_grpc as agrpc
from reservation.v1 import guard_service_pb2 as gpb
from reservation.v1 import guard_service_pb2_grpc as ggrpc
from reservation.v1 import listing_service_pb2 as lpb
from reservation.v1 import listing_service_pb2_grpc as lgrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import types_pb2 as pb

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LISTED = ("taobao", "jd", "pdd", "douyin", "wechat")
SHOP = "bench"
WH = "WH-BENCH"
# The flash sale's hold-back: adapters poll every 1 s and a push takes up to ~1 s, so an
# order reaches the hub and the listings 2 s after the buyer paid; 3 s is the margin.
DYNAMIC_SAFETY = {"lag_s": 3, "window_s": 5, "close": ["douyin"]}


# -- the system under test ----------------------------------------------------------------

@contextmanager
def server(tmp: Path) -> Iterator[Served]:
    """(target, metrics port) of a `reservation serve` on its own Redis."""
    groups = ",".join(["wms", *(f"listing-{c}-{SHOP}" for c in LISTED)])
    with served(tmp, write_back_groups=groups, default_hold_ttl_ms="3600000",
                order_event_groups="audit") as s:
        yield s


@contextmanager
def workers(target: str, fake: FakeChannels, tmp: Path, channels: tuple[str, ...],
            mapping: dict[str, list[tuple[str, str, str]]], rate: float) -> Iterator[list[int]]:
    """One `reservation-clients stock-sync` process per channel."""
    procs = []
    for c in channels:
        table = tmp / f"{c}.csv"
        table.write_text("sku,item_id,sku_id\n" + "".join(
            f"{sku},{item},{sid}\n" for sku, item, sid in mapping[c]))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "reservation.clients", "stock-sync", "--channel", c,
             "--shop", SHOP, "--mapping", str(table), "--state", str(tmp / f"{c}.db"),
             "--target", target, "--rate", str(rate), "--wait", "0.5", "--batch", "500"],
            env={**os.environ, **fake.env(c, SHOP)}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


# -- part 1: the lag under a steady stream of changes -----------------------------------------

def lag(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    skus = [f"L{i:03d}" for i in range(args.skus)]
    mapping = {c: [(s, f"{c}-I{int(s[1:]) // 10:02d}", f"{c}-{s}") for s in skus]
               for c in LISTED}
    fake = FakeChannels().start()
    try:
        for c in LISTED:
            fake.listings.list_items(c, [(item, sid, sku, 0) for sku, item, sid in mapping[c]])
        with server(tmp / "lag") as s, grpc.insecure_channel(s.target) as channel:
            target = s.target
            admin = agrpc.AdminServiceStub(channel)
            admin.LoadStock(apb.LoadStockRequest(items=[pb.StockItem(
                sku=s, warehouse_id=WH, quantity=100) for s in skus],
                mode=apb.LOAD_MODE_ADD), timeout=30)
            with workers(target, fake, tmp / "lag", LISTED, mapping, args.rate) as pids:
                _settle(fake, channel, skus, 60)
                before = _histogram(s.metrics_port)
                calls_before = Counter(fake.listings.calls)
                parts = {"service": [s.pid], "redis": [s.redis_pid], "workers": pids,
                         "fake channels": [os.getpid()]}

                def cpu_now() -> dict[str, float]:
                    # This process alone (its children are the service and the workers).
                    return {k: cpu.process(os.getpid()) if k == "fake channels" else
                            cpu.tree(v) for k, v in parts.items()}
                cpu_before = cpu_now()
                changes, seconds = _change_stock_elsewhere(target, skus,
                                                           args.changes_per_s, args.seconds)
                _settle(fake, channel, skus, 120)
                after = _histogram(s.metrics_port)
                used = {k: v - cpu_before[k] for k, v in cpu_now().items()}
                calls = Counter(fake.listings.calls)
                calls.subtract(calls_before)
    finally:
        fake.stop()
    per_channel = {}
    for c in LISTED:
        counts = {le: after.get((c, le), 0) - before.get((c, le), 0)
                  for le in sorted({le for ch, le in after if ch == c})}
        per_channel[c] = {"pushes": int(counts.get(float("inf"), 0)),
                          "p50_s": _quantile(counts, 0.5), "p99_s": _quantile(counts, 0.99),
                          "within_1s": round(counts.get(1.0, 0) / max(1, counts.get(
                              float("inf"), 0)), 4)}
    return {"skus": args.skus, "changes": changes, "seconds": round(seconds, 1),
            "changes_per_s": round(changes / seconds), "rate_limit_per_channel": args.rate,
            # WeChat's method is its URL path: recorded without the leading slash, so a
            # results file never carries what reads as a path of this machine.
            "channel_calls_per_s": {m.lstrip("/"): round(n / seconds, 1)
                                    for m, n in calls.items() if n},
            # CPU from the start of the changes until every listing held the last one
            # (the generator's own process is not counted: it stands in for the callers).
            "cpu_us_per_change": {k: round(v / max(1, changes) * 1e6, 1)
                                  for k, v in used.items()},
            "per_channel": per_channel}


def _change_stock_elsewhere(target: str, skus: list[str], per_s: int,
                            seconds: float) -> tuple[int, float]:
    """_change_stock in a process of its own: in this one it would share one interpreter
    lock with the fake channels' HTTP server, which answers every push, and the two
    slowed each other down (257 changes/s asked 1,000 at commit 4ae5f33)."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(_generate, target, skus, per_s, seconds).result()


def _generate(target: str, skus: list[str], per_s: int, seconds: float) -> tuple[int, float]:
    with grpc.insecure_channel(target) as channel:
        return _change_stock(agrpc.AdminServiceStub(channel), skus, per_s, seconds)


def _change_stock(admin: agrpc.AdminServiceStub, skus: list[str], per_s: int,
                  seconds: float) -> tuple[int, float]:
    """per_s stock changes a second (LoadStock of 100 items a call) for `seconds`."""
    rng = random.Random(1)
    size = min(100, len(skus))  # a call names a SKU and warehouse once
    calls = max(1, per_s // size)
    t0, n = time.monotonic(), 0
    while (now := time.monotonic()) - t0 < seconds:
        for _ in range(calls):
            admin.LoadStock(apb.LoadStockRequest(items=[pb.StockItem(
                sku=sku, warehouse_id=WH, quantity=rng.randint(1, 3))
                for sku in rng.sample(skus, size)], mode=apb.LOAD_MODE_ADD), timeout=30)
            n += size
        time.sleep(max(0.0, 1.0 - (time.monotonic() - now)))
    return n, time.monotonic() - t0


def _settle(fake: FakeChannels, channel: grpc.Channel, skus: list[str],
            bound_s: float) -> None:
    """Until every listing shows what the service says (or the bound passes)."""
    listing = lgrpc.ListingServiceStub(channel)
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        want = {c: {q.sku: q.quantity for q in listing.GetListingQuantities(
            lpb.GetListingQuantitiesRequest(channel=c, shop=SHOP, skus=skus),
            timeout=30).quantities} for c in LISTED}
        if all(fake.listings.shows(c, s)[0] == want[c][s] for c in LISTED for s in skus):
            return
        time.sleep(0.5)
    raise RuntimeError("the listings did not settle")


def _histogram(port: int) -> dict[tuple[str, float], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        if family.name == "reservation_listing_push_lag_seconds":
            for s in family.samples:
                if s.name.endswith("_bucket"):
                    out[(s.labels["channel"], float(s.labels["le"]))] = s.value
    return out


def _quantile(buckets: dict[float, float], q: float) -> float | None:
    """histogram_quantile: linear within the bucket the rank falls in."""
    total = buckets.get(float("inf"), 0)
    if not total:
        return None
    rank, prev_le, prev_n = q * total, 0.0, 0.0
    for le, n in sorted(buckets.items()):
        if n >= rank:
            if le == float("inf"):
                return prev_le
            return round(prev_le + (le - prev_le) * (rank - prev_n) / max(n - prev_n, 1e-9),
                         3)
        prev_le, prev_n = le, n
    return None


# -- part 2: a breaker trips, the listing closes --------------------------------------------

def breaker(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    mapping = {"douyin": [("BRK", "douyin-BRK", "douyin-S-BRK")]}
    fake = FakeChannels().start()
    closing: list[float] = []
    opening: list[float] = []
    try:
        fake.listings.list_items("douyin", [("douyin-BRK", "douyin-S-BRK", "BRK", 0)])
        with server(tmp / "breaker") as s, grpc.insecure_channel(s.target) as channel:
            target = s.target
            agrpc.AdminServiceStub(channel).LoadStock(apb.LoadStockRequest(items=[
                pb.StockItem(sku="BRK", warehouse_id=WH, quantity=50)],
                mode=apb.LOAD_MODE_ADD), timeout=10)
            guard = ggrpc.GuardServiceStub(channel)
            with workers(target, fake, tmp / "breaker", ("douyin",), mapping, args.rate):
                _wait_online(fake, True, 60)
                for _ in range(args.rounds):
                    for state, online, out in ((gpb.BREAKER_STATE_OPEN, False, closing),
                                               (gpb.BREAKER_STATE_CLOSED, True, opening)):
                        guard.ForceBreaker(gpb.ForceBreakerRequest(
                            sku="BRK", channel="douyin", state=state), timeout=10)
                        t0 = time.monotonic()
                        _wait_online(fake, online, 30)
                        out.append(time.monotonic() - t0)
    finally:
        fake.stop()
    return {"rounds": args.rounds, "close": _spread(closing), "reopen": _spread(opening)}


def _wait_online(fake: FakeChannels, online: bool, bound_s: float) -> None:
    deadline = time.monotonic() + bound_s
    while fake.listings.shows("douyin", "BRK")[1] != online:
        if time.monotonic() > deadline:
            raise RuntimeError("the listing did not follow the breaker")
        time.sleep(0.002)


def _spread(seconds: list[float]) -> dict[str, float]:
    s = sorted(seconds)
    return {"p50_ms": round(s[len(s) // 2] * 1000, 1),
            "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1000, 1),
            "max_ms": round(s[-1] * 1000, 1)}


# -- part 3: a flash sale on one channel ---------------------------------------------------------

def flash_sale(args: argparse.Namespace, tmp: Path, sync_on: bool) -> dict[str, Any]:
    sku = f"FLASH-{'ON' if sync_on else 'OFF'}"
    channels = ("douyin", "taobao", "jd")
    mapping = {c: [(sku, f"{c}-{sku}", f"{c}-S-{sku}")] for c in channels}
    fake = FakeChannels().start()
    work = tmp / f"flash-{'on' if sync_on else 'off'}"
    work.mkdir()
    store = AdapterStore(work / "adapters.db")
    try:
        for c in channels:
            fake.listings.list_items(c, [(f"{c}-{sku}", f"{c}-S-{sku}", sku, args.stock)])
        with server(work) as s, grpc.insecure_channel(s.target) as channel:
            target = s.target
            agrpc.AdminServiceStub(channel).LoadStock(apb.LoadStockRequest(items=[
                pb.StockItem(sku=sku, warehouse_id=WH, quantity=args.stock)],
                mode=apb.LOAD_MODE_ADD), timeout=10)
            if sync_on:
                lgrpc.ListingServiceStub(channel).PutListingRules(lpb.PutListingRulesRequest(
                    document_json=json.dumps({"rules": [{
                        "name": "douyin live", "when": {"sku": [sku]},
                        "then": {"shares": {"douyin": 80, "taobao": 10, "jd": 10},
                                 "dynamic_safety": DYNAMIC_SAFETY}}]})),
                    timeout=10)
            ctx = workers(target, fake, work, channels, mapping, args.rate) if sync_on \
                else _nothing()
            with ctx:
                if sync_on:
                    _wait_told(fake, channel, sku, channels, 60)
                placed, blocked = _sale(fake, channel, store, sku, args)
            orders = _orders(channel, sku)
    finally:
        store.close()
        fake.stop()
    unserved = sum(o.paid > 0 and o.state == "ON_HOLD"
                   and not o.reservation_state.startswith(("CONFIRMED", "RESERVED"))
                   for o in orders)
    return {"stock_sync": sync_on, "stock": args.stock, "placed": placed, "blocked": blocked,
            "orders_in_hub": len(orders), "unserved_paid": unserved}


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _wait_told(fake: FakeChannels, channel: grpc.Channel, sku: str,
               channels: tuple[str, ...], bound_s: float) -> None:
    listing = lgrpc.ListingServiceStub(channel)
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        want = {c: listing.GetListingQuantities(lpb.GetListingQuantitiesRequest(
            channel=c, shop=SHOP, skus=[sku]), timeout=10).quantities[0].quantity
            for c in channels}
        if all(fake.listings.shows(c, sku)[0] == want[c] for c in channels):
            return
        time.sleep(0.2)
    raise RuntimeError("the listings were not told before the sale")


def _sale(fake: FakeChannels, channel: grpc.Channel, store: AdapterStore, sku: str,
          args: argparse.Namespace) -> tuple[dict[str, int], dict[str, int]]:
    """Buyers on each channel at their rate for the sale's length; adapters polling."""
    rates = {"douyin": args.orders / args.sale_s, "taobao": args.others_per_s,
             "jd": args.others_per_s}
    placed: Counter[str] = Counter()
    stop = threading.Event()
    sink = GrpcSink(channel, store)
    pollers = [Poller(adapter(c), fake.api(c), SHOP, store, sink, lookback_s=600,
                      backoff=Backoff(base_s=0.05)) for c in rates]

    def poll() -> None:
        while not stop.is_set():
            for p in pollers:
                p.poll_once()
            stop.wait(1.0)

    def buy(c: str) -> None:
        start, n = time.time(), 0
        while (elapsed := time.time() - start) < args.sale_s:
            due = int(elapsed * rates[c])
            while n < due:
                n += 1
                if fake.listings.take(c, sku, 1):
                    fake.put(c, build(c, Sample(f"{c[:2].upper()}-{sku}-{n}", "PAID",
                                                ((sku, 1, 9900),), f"138{n:08d}",
                                                ("浙江省", "杭州市", "西湖区", "文三路 1 号"),
                                                time.time() - 1, time.time())))
                    placed[c] += 1
            time.sleep(0.005)

    polling = threading.Thread(target=poll, daemon=True)
    polling.start()
    buyers = [threading.Thread(target=buy, args=(c,)) for c in rates]
    for t in buyers:
        t.start()
    for t in buyers:
        t.join()
    time.sleep(3)  # the last orders reach the hub
    stop.set()
    polling.join(30)
    for p in pollers:
        p.poll_once()
    return dict(placed), {c: fake.listings.blocked[c] for c in rates}


def _orders(channel: grpc.Channel, sku: str) -> list[opb.Order]:
    hub = ogrpc.OrderServiceStub(channel)
    out, token = [], ""
    while True:
        page = hub.ListOrders(opb.ListOrdersRequest(page_size=1000, page_token=token),
                              timeout=30)
        out += [o for o in page.orders if any(ln.sku == sku for ln in o.lines)]
        token = page.next_page_token
        if not token:
            return out


# -- the report ---------------------------------------------------------------------------------

def write(result: dict[str, Any], args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stock_sync.json").write_text(json.dumps(result, indent=2) + "\n")
    meta = result["meta"]
    lines = [(f"# Stock out to the channels ({meta['when']}, {meta['machine']}, load average "
              f"{meta['load_start']} at the start, {meta['load_end']} at the end)"), "",
             (f"`{meta['command']}` at commit {meta['commit']}; each figure is the median "
             f"of {len(result.get('runs', [])) or 1} runs (every run is in stock_sync.json)"), ""]
    if "lag" in result:
        lines += _lag_lines(result["lag"])
    if "breaker" in result:
        lines += _breaker_lines(result["breaker"])
    if "flash_sale" in result:
        lines += _flash_lines(result["flash_sale"], args)
    (out / "stock_sync.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _lag_lines(lag_: dict[str, Any]) -> list[str]:
    lines = [(f"## Lag: {lag_['changes']} stock changes in {lag_['seconds']} s "
              f"({lag_['changes_per_s']}/s) across {lag_['skus']} SKUs, 5 channels, "
              f"each worker at most {lag_['rate_limit_per_channel']} channel calls/s"), "",
             "| channel | pushes | p50 lag | p99 lag | within 1 s |", "|---|---|---|---|---|"]
    for c, r in lag_["per_channel"].items():
        lines.append(f"| {c} | {r['pushes']} | {r['p50_s']} s | {r['p99_s']} s | "
                     f"{r['within_1s']:.1%} |")
    calls = ", ".join(f"{m} {n}" for m, n in sorted(lag_["channel_calls_per_s"].items()))
    lines += ["", f"Channel calls per second (the fake's count): {calls}", ""]
    if "cpu_us_per_change" in lag_:
        per = lag_["cpu_us_per_change"]
        lines += ["CPU per stock change (from /proc, the changes' start until every listing "
                  "held the last one): " + ", ".join(f"{k} {v:g} µs" for k, v in per.items())
                  + f"; {sum(per.values()):g} µs in all", ""]
    return lines


def _breaker_lines(brk: dict[str, Any]) -> list[str]:
    def row(name: str, r: dict[str, float]) -> str:
        return f"| {name} | {r['p50_ms']} ms | {r['p99_ms']} ms | {r['max_ms']} ms |"

    return [f"## A breaker trips: the Douyin listing closes ({brk['rounds']} rounds)", "",
            "| | p50 | p99 | max |", "|---|---|---|---|",
            row("closed at the channel", brk["close"]), row("open again", brk["reopen"]), ""]


def _flash_lines(runs: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    lines = [(f"## A flash sale: {args.orders} Douyin buyers in {args.sale_s:g} s, "
              f"{args.others_per_s:g}/s on Taobao and JD, {args.stock} units"), "",
             ("| stock sync | orders placed (douyin, taobao, jd) | buyers stopped by a "
              "listing | paid orders the hub could not serve |"), "|---|---|---|---|"]
    for r in runs:
        placed = ", ".join(str(r["placed"].get(c, 0)) for c in ("douyin", "taobao", "jd"))
        lines.append(f"| {'on' if r['stock_sync'] else 'off'} | {placed} | "
                     f"{sum(r['blocked'].values())} | {r['unserved_paid']} |")
    return [*lines, ""]


def median_of(runs: list[Any]) -> Any:
    """The runs merged figure by figure: the median of each number (same structure in
    every run: dicts by key, lists by position), the first run's value otherwise."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: median_of([r[k] for r in runs]) for k in first}
    if isinstance(first, list):
        return [median_of([r[i] for r in runs]) for i in range(len(first))]
    if isinstance(first, (int, float)) and not isinstance(first, bool) \
            and all(isinstance(r, (int, float)) for r in runs):
        value = statistics.median(runs)
        return round(value, 4) if isinstance(value, float) else value
    return first


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stock_sync",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--skus", type=int, default=500)
    p.add_argument("--changes-per-s", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--rate", type=float, default=500, help="channel calls/s per worker")
    p.add_argument("--rounds", type=int, default=100, help="breaker open/close rounds")
    p.add_argument("--orders", type=int, default=2300, help="Douyin buyers in the sale")
    p.add_argument("--sale-s", type=float, default=12)
    p.add_argument("--others-per-s", type=float, default=20)
    p.add_argument("--stock", type=int, default=2000)
    p.add_argument("--out", default=str(RESULTS), help="folder of the results files")
    p.add_argument("--runs", type=int, default=3, help="runs; the tables show medians")
    p.add_argument("--parts", default="lag,breaker,flash",
                   help="which parts to run (comma-separated: lag, breaker, flash)")
    args = p.parse_args(argv)
    parts = set(args.parts.split(","))
    load_start = os.getloadavg()[0]
    runs: list[dict[str, Any]] = []
    for k in range(args.runs):
        one_run: dict[str, Any] = {}
        with tempfile.TemporaryDirectory(prefix="bench-stock-sync-") as tmp:
            if "lag" in parts:
                one_run["lag"] = lag(args, Path(tmp))
            if "breaker" in parts:
                one_run["breaker"] = breaker(args, Path(tmp))
            if "flash" in parts:
                one_run["flash_sale"] = [flash_sale(args, Path(tmp), on)
                                         for on in (False, True)]
        runs.append(one_run)
        print(f"run {k + 1} of {args.runs} done", file=sys.stderr)
    # The tables show the median of the runs, figure by figure; every run is in the JSON.
    result: dict[str, Any] = median_of(runs)
    result["runs"] = runs
    argv = argv if argv is not None else sys.argv[1:]
    result["meta"] = paths.run_meta("benchmarks.stock_sync", argv, load_start)
    write(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

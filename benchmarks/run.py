"""Run the whole benchmark suite: `python -m benchmarks.run [--scale S] [--seconds T]`.

Everything runs on this machine against 127.0.0.1 only: a private redis-server (AOF
everysec, as `reservation serve` runs it), each system under test in its own process,
this process as the load generator. After every run the harness checks oversold = 0 and
loaded = available + held + confirmed + returned per SKU and warehouse (via GetStock),
and that the counters agree with what the clients were told; any failure fails the
suite (exit code 1), and so do RPC errors above --max-error-rate of a point's calls.
A baseline that cannot run here (no redis-benchmark on PATH, no PostgreSQL at --pg) is
skipped and named in results.json ("skipped") and results.md, not failed.
Writes benchmarks/results/{results.json,results.md,results.png}.

--scale 1 (default) is the full workload of the issue (100k units, 50k buyers, 10k
SKUs) and takes about 5 minutes on 2 cores; --quick is the smoke run the tests use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
import redis.asyncio as aioredis
import uvloop

from benchmarks import commandstats, cpu, loadgen, paths, pg_servicer, redis_bench, report
from benchmarks.scenarios import HOT, Broad, Check, Flash
from reservation.clock import now_ms
from reservation.settings import Settings
from reservation.stock.levels import Inventory
from reservation.stock.sales import Sales
from reservation.storage import scripts
from reservation.storage.redis_process import RedisProcess, find_redis_server, free_port
from reservation.storage.store import Store, connect
from reservation.v1 import reservation_service_pb2 as pb

RESULTS = Path(__file__).parent / "results"
NODE_PEER = Path(__file__).parent / "peers" / "node"
PG_DSN = os.environ.get("BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
SYSTEMS = ("noop", "service", "lean", "node", "naive", "pg")
PEERS = ("lean", "node")
"""The lean peers (benchmarks/peers): the same job in lean Python and in Node.js, on the
service's keys; measured in every scenario the service is."""
EXTRA_SYSTEMS = ("noop-chain", "oversell-by-one")
"""Not measured by default: noop-chain (the no-op servicer behind the service's
edge, as the service builds it: what the edge costs) and the harness's own broken service."""


class Server:
    """One system under test in its own process(es) on one port."""

    def __init__(self, system: str, redis_url: str, workers: int = 1, limit: int = 0,
                 profile: str = "", pg: str = PG_DSN) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "benchmarks.server_proc", system, "--port", str(self.port),
               "--redis", redis_url, "--pg", pg, "--limit", str(limit)]
        if system == "node":
            cmd = ["node", str(NODE_PEER / "server.js"), "--port", str(self.port),
                   "--redis", redis_url]
        if profile:
            cmd += ["--profile", profile]
        self.procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                       text=True) for _ in range(workers)]
        for p in self.procs:
            line = p.stdout.readline() if p.stdout else ""
            if not line.startswith("READY"):
                self.stop()
                raise RuntimeError(f"{system} server did not start: {line!r}")

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Measure:
    """What a run point cost the server side: CPU from /proc (cpu.Meter) and, where Redis
    serves the system, the commands Redis ran (commandstats.Counter), read around the
    same load."""

    def __init__(self, meter: cpu.Meter, commands: commandstats.Counter | None) -> None:
        self.meter, self.commands = meter, commands

    async def start(self) -> None:
        if self.commands is not None:
            await self.commands.start()
        self.meter.start()

    async def stop(self) -> None:
        self.meter.stop()
        if self.commands is not None:
            await self.commands.stop()

    def per_order(self, orders: int) -> dict[str, float | None]:
        """Row fields: CPU µs per order (server tree + Redis, Redis alone), Redis commands
        per order and orders per script call."""
        row = self.meter.per_order_us(orders)
        if self.commands is not None:
            row.update(self.commands.per_order(orders))
        return row


class Suite:
    def __init__(self, args: argparse.Namespace, redis_proc: RedisProcess) -> None:
        self.args = args
        self.redis = redis_proc
        self.flash = Flash(args.scale)
        self.broad = Broad(args.scale)
        self.rows: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.skipped: list[str] = []
        self.skipped_systems: set[str] = set()
        self.common: dict[str, float] = {}
        self.tag = 0

    def log(self, msg: str) -> None:
        print(msg, flush=True)

    def measure(self, system: str, srv: Server) -> Measure:
        """CPU of the server's processes, and of Redis and its commands for the systems
        that use it."""
        redis_backed = system not in ("noop", "noop-chain", "pg")
        return Measure(cpu.Meter(srv.pids, self.redis.pid if redis_backed else None),
                       commandstats.Counter(self.redis.url) if redis_backed else None)

    def record(self, scenario: str, res: loadgen.Result, check: Check | None,
               measure: Measure | None = None) -> dict[str, Any]:
        row = {"scenario": scenario, **res.row()}
        if measure is not None:
            row.update(measure.per_order(res.orders))
        if check is None:
            row["check"] = "n/a (no state)"
        elif check.ok:
            row["check"] = "ok, oversold 0"
        else:
            row["check"] = f"FAILED: oversold {check.oversold}; {(check.broken or [])[:3]}"
            self.failures.append(f"{scenario} {res.system} {res.mode}: {row['check']}")
        row["oversold"] = None if check is None else check.oversold
        if res.calls and res.errors / res.calls > self.args.max_error_rate:
            self.failures.append(f"{scenario} {res.system} {res.mode}: {res.errors} RPC errors "
                                 f"in {res.calls} calls (more than {self.args.max_error_rate:.1%})")
            row["check"] = f"FAILED: {res.errors} RPC errors; " + row["check"]
        self.rows.append(row)
        self.log(f"  {scenario:6} {res.system:8} {res.mode:7} c={res.concurrency:<5} "
                 f"{res.orders_per_s:>9.0f} orders/s  p50 {res.p50_ms:7.2f}  p99 "
                 f"{res.p99_ms:8.2f} ms  reserved {res.reserved:6}  {row['check']}")
        return row

    def next_tag(self) -> str:
        self.tag += 1
        return f"r{self.tag}"

    # -- state ----------------------------------------------------------------------------
    async def fresh_redis(self, items_sale: bool = True, broad: bool = False) -> None:
        """FLUSHALL, then the flash sale (or the broad stock) loaded through the domain."""
        async with aioredis.Redis.from_url(self.redis.url) as r:
            await r.flushall()
        settings = Settings(redis_url=self.redis.url)
        store = Store(connect(settings, self.redis.url), settings)
        sales, inventory = Sales(store, settings), Inventory(store, settings)
        try:
            if broad:
                items = self.broad.items()
                for i in range(0, len(items), settings.max_batch):
                    await inventory.load(items[i:i + settings.max_batch], "SET")
            elif items_sale:
                await sales.start(self.flash.sale(f"sale-{self.tag}", now_ms()),
                                  create_skus=True)  # the benchmark's SKUs are its own
        finally:
            await store.close()

    async def check(self, target: loadgen.Target, skus: list[str], tally: loadgen.Tally,
                    confirmed: int = 0, released: int = 0) -> Check:
        """GetStock for every SKU; counters must match the clients' ledger exactly."""
        check = Check()
        get = target.unary(0, "GetStock", pb.GetStockResponse)
        sem = asyncio.Semaphore(64)

        async def one(sku: str) -> None:
            async with sem:
                resp = await get(pb.GetStockRequest(sku=sku).SerializeToString())
            check.add(sku, resp.levels)

        await asyncio.gather(*(one(s) for s in skus))
        check.expect("held units", check.held, tally.units_reserved - confirmed - released)
        check.expect("confirmed units", check.confirmed, confirmed)
        return check

    # -- flash sale -------------------------------------------------------------------------
    async def flash_point(self, system: str, srv: Server, mode: str, conc: int,
                          window: int = 0, batch: int = 0) -> dict[str, Any]:
        tag = self.next_tag()
        if system == "pg":
            await pg_servicer.setup(self.args.pg, [(i.sku, i.warehouse_id, i.quantity)
                                             for i in self.flash.items()])
        elif not system.startswith("noop"):
            await self.fresh_redis()
        reqs = self.flash.requests(tag, self.args.orders)
        target = loadgen.Target(srv.address, channels=min(4, conc))
        secs = self.args.seconds
        measure = self.measure(system, srv)
        try:
            await measure.start()
            if mode == "unary":
                tally, took = await loadgen.closed_unary(
                    target, loadgen.serialise_unary(reqs), conc, secs)
                inflight = conc
            elif mode == "batch":
                tally, took = await loadgen.closed_batch(
                    target, loadgen.serialise_batches(reqs, batch), conc, secs)
                inflight = conc * batch
            else:
                tally, took = await loadgen.closed_stream(
                    target, loadgen.serialise_stream(reqs), conc, window, secs)
                inflight = conc * window
            await measure.stop()
            check = None if system.startswith("noop") else await self.check(target, [HOT], tally)
        finally:
            await target.close()
        note = f"{conc} calls x {batch}" if mode == "batch" else (
            f"{conc} streams x {window}" if mode == "stream" else "")
        res = loadgen.result(system, mode, inflight, took, tally, note=note)
        return self.record("flash", res, check, measure)

    async def open_point(self, srv: Server, rate: float) -> dict[str, Any]:
        tag = self.next_tag()
        await self.fresh_redis()
        reqs = self.flash.requests(tag, self.args.orders)
        target = loadgen.Target(srv.address)
        measure = self.measure("service", srv)
        try:
            await measure.start()
            tally, took = await loadgen.open_unary(target, loadgen.serialise_unary(reqs), rate,
                                                   self.args.seconds)
            await measure.stop()
            check = await self.check(target, [HOT], tally)
        finally:
            await target.close()
        res = loadgen.result("service", "unary", 0, took, tally, rate=round(rate),
                             note=f"open loop at {rate:.0f}/s")
        return self.record("flash", res, check, measure)

    # -- broad --------------------------------------------------------------------------------
    async def broad_point(self, srv: Server, mode: str, conc: int, window: int,
                          system: str = "service") -> None:
        """`window`: orders in flight per stream, or orders per call in batch mode. The
        peers reserve only (they have no Confirm or Release): their check is of the
        reserve phase."""
        tag = self.next_tag()
        await self.fresh_redis(broad=True)
        reqs = self.broad.requests(tag, self.args.orders)
        target = loadgen.Target(srv.address, channels=4)
        measure = self.measure(system, srv)
        try:
            await measure.start()
            if mode == "unary":
                tally, took = await loadgen.closed_unary(
                    target, loadgen.serialise_unary(reqs), conc, self.args.seconds)
            elif mode == "batch":
                tally, took = await loadgen.closed_batch(
                    target, loadgen.serialise_batches(reqs, window), conc, self.args.seconds)
            else:
                tally, took = await loadgen.closed_stream(
                    target, loadgen.serialise_stream(reqs), conc, window, self.args.seconds)
            await measure.stop()
            res = loadgen.result(system, mode, conc * max(window, 1), took, tally,
                                 note="reserve phase")
            if system in PEERS:
                check = await self.check(target, self.broad.skus, tally)
                self.record("broad", res, check, measure)
                return
            # Confirm half the holds and release a quarter, concurrently.
            held = tally.held_refs
            to_confirm, to_release = held[0::2], held[1::4]
            t0 = time.perf_counter()
            done = await self.settle(target, to_confirm, to_release)
            settle_s = time.perf_counter() - t0
            check = await self.check(target, self.broad.skus, tally,
                                     confirmed=sum(u for *_, u in to_confirm),
                                     released=sum(u for *_, u in to_release))
        finally:
            await target.close()
        self.record("broad", res, check, measure)
        ops = loadgen.Result("service", "confirm+release", 64, round(settle_s, 3), done, done,
                             0, 0, 0, round(done / settle_s, 1), round(done / settle_s, 1),
                             0, 0, 0, note="after the reserve phase")
        self.record("broad", ops, check)

    async def settle(self, target: loadgen.Target, confirm: list[tuple[str, str, int]],
                     release: list[tuple[str, str, int]]) -> int:
        calls = {"Confirm": target.unary(1, "Confirm", pb.ConfirmResponse),
                 "Release": target.unary(2, "Release", pb.ReleaseResponse)}
        work = [("Confirm", c) for c in confirm] + [("Release", r) for r in release]
        sem = asyncio.Semaphore(64)

        async def one(method: str, ref: tuple[str, str, int]) -> None:
            msg = (pb.ConfirmRequest if method == "Confirm" else pb.ReleaseRequest)(
                channel=ref[0], order_id=ref[1])
            async with sem:
                await calls[method](msg.SerializeToString())

        await asyncio.gather(*(one(m, r) for m, r in work))
        return len(work)

    # -- the ceiling ----------------------------------------------------------------------------
    async def redis_ceiling(self) -> None:
        if shutil.which("redis-benchmark") is None:
            self.skip("redis-benchmark (the pipelined EVALSHA ceiling): not on PATH")
            return
        async with aioredis.Redis.from_url(self.redis.url) as r:
            await r.flushall()
        settings = Settings(redis_url=self.redis.url)
        store = Store(connect(settings, self.redis.url), settings)
        try:
            from reservation.domain.models import StockItem

            await Inventory(store, settings).load(
                [StockItem(HOT, "wh-east", settings.max_quantity)], "SET")
            await store.health()
            # Both forms loaded: redis-benchmark calls EVALSHA and FCALL.
            await store.client.script_load(scripts.source("reserve"))
            await store.client.function_load(scripts.library("reserve"), replace=True)
        finally:
            await store.close()
        n = self.args.bench_requests
        for call, fcall in (("EVALSHA", False), ("FCALL", True)):
            for label, clients, pipe in (("one at a time", 50, 1), ("pipelined x32", 50, 32)):
                meter = cpu.Meter([], self.redis.pid)
                meter.start()
                rps = await asyncio.to_thread(redis_bench.run, self.redis.port, n, clients,
                                              pipe, fcall)
                meter.stop()
                mode = label if call == "EVALSHA" else f"{call} {label}"
                row = {"scenario": "flash", "system": "redis-benchmark", "mode": mode,
                       "concurrency": clients * pipe, "orders_per_s": rps, "check": "n/a",
                       "note": f"{call} reserve, -c {clients} -P {pipe} -n {n}",
                       "redis_us_per_order": meter.per_order_us(n)["redis_us_per_order"]}
                self.rows.append(row)
                self.log(f"  redis-benchmark {mode}: {rps:.0f} reserve calls/s, Redis "
                         f"{row['redis_us_per_order']} us per call")

    def skip(self, what: str) -> None:
        self.skipped.append(what)
        self.log(f"SKIPPED {what}")

    def node_ready(self) -> bool:
        """The Node.js peer needs node and its locked packages (`make bench` installs them)."""
        if shutil.which("node") is None:
            why = "node is not on PATH"
        elif not (NODE_PEER / "node_modules").is_dir():
            why = "its packages are not installed (make bench-deps)"
        else:
            return True
        self.skipped_systems.add("node")
        self.skip(f"node (the Node.js peer): {why}")
        return False

    def pg_reachable(self) -> bool:
        try:
            psycopg.connect(self.args.pg, connect_timeout=3).close()
            return True
        except psycopg.OperationalError as exc:
            self.skip(f"pg (PostgreSQL row-lock baseline): not reachable at {self.args.pg!r}: "
                      f"{str(exc).strip().splitlines()[0]}")
            return False

    # -- the whole suite --------------------------------------------------------------------------
    async def run(self) -> None:
        a = self.args
        if "noop" in a.systems:  # the ceiling goes with the full set of baselines
            self.log("ceiling: redis-benchmark")
            await self.redis_ceiling()
        if "flash" in a.scenarios:
            await self.run_flash()
        if "broad" in a.scenarios:
            await self.run_broad()
        self.log("common case: Redis commands per order")
        self.common = await commandstats.common_case(self.redis.url)
        if a.profile:
            await self.profile()

    async def run_flash(self) -> None:
        a = self.args
        peaks: dict[str, float] = {}
        for system in a.systems:
            if system == "pg" and not self.pg_reachable():
                continue
            if system == "node" and not self.node_ready():
                continue
            self.log(f"flash sale, unary: {system}")
            srv = Server(system, self.redis.url, limit=self.flash.per_buyer_limit, pg=a.pg)
            try:
                for c in a.levels:
                    row = await self.flash_point(system, srv, "unary", c)
                    peaks[system] = max(peaks.get(system, 0), row["orders_per_s"])
                if system == "service":
                    await self.open_point(srv, peaks["service"] / 2)
                if system in ("service", "noop", "noop-chain", "pg", *PEERS):
                    self.log(f"flash sale, batch: {system}")
                    for c in a.batch_calls:
                        await self.flash_point(system, srv, "batch", c, batch=a.batch_size)
                if system in ("service", "noop", "noop-chain", *PEERS):
                    self.log(f"flash sale, stream: {system}")
                    for c in a.streams:
                        await self.flash_point(system, srv, "stream", c, window=a.window)
            finally:
                srv.stop()
        if "service" not in a.systems:
            return
        if a.workers > 1:
            self.log(f"flash sale: service with --workers {a.workers}")
            srv = Server("service", self.redis.url, workers=a.workers)
            try:
                await self.flash_point("service", srv, "unary", max(a.levels))
                await self.flash_point("service", srv, "stream", a.workers * 2, window=a.window)
            finally:
                srv.stop()
            for row in self.rows[-2:]:
                row["system"] = f"service x{a.workers}"

    async def run_broad(self) -> None:
        a = self.args
        if "service" not in a.systems:
            return
        for system in ("service", *(p for p in PEERS if p in a.systems
                                    and p not in self.skipped_systems)):
            if system == "node" and "flash" not in a.scenarios and not self.node_ready():
                continue
            self.log(f"broad: {system}")
            srv = Server(system, self.redis.url)
            try:
                await self.broad_point(srv, "unary", max(a.levels), 0, system)
                await self.broad_point(srv, "batch", max(a.batch_calls), a.batch_size, system)
                await self.broad_point(srv, "stream", 2, a.window, system)
            finally:
                srv.stop()

    async def profile(self) -> None:
        """The service under pyinstrument (figures not used: the profiler slows it), one
        profile per mode of the flash sale and the many-SKU batch, into --out."""
        a = self.args
        points: dict[str, Callable[[Server], Awaitable[Any]]] = {
            "unary": lambda srv: self.flash_point("service", srv, "unary", max(a.levels)),
            "stream": lambda srv: self.flash_point("service", srv, "stream", 2,
                                                   window=a.window),
            "batch": lambda srv: self.flash_point("service", srv, "batch",
                                                  max(a.batch_calls), batch=a.batch_size),
            "broad-batch": lambda srv: self.broad_point(srv, "batch", max(a.batch_calls),
                                                        a.batch_size),
        }
        for mode, point in points.items():
            out = a.out / f"profile-{mode}.txt"
            self.log(f"profile: service {mode} -> {out}")
            srv = Server("service", self.redis.url, profile=str(out))
            try:
                await point(srv)
            finally:
                srv.stop()
            self.rows[-1]["system"] = "service (profiled)"


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets, as ratios measured in this run."""
    def best(system: str, mode: str, scenario: str = "flash") -> dict[str, Any]:
        pts = [r for r in rows if r["system"] == system and r["mode"] == mode
               and r["scenario"] == scenario and not r.get("rate")]
        return max(pts, key=lambda r: r["orders_per_s"], default={"orders_per_s": 0})

    by_c = {(r["system"], r["concurrency"]): r for r in rows
            if r["scenario"] == "flash" and r["mode"] == "unary" and not r.get("rate")}
    ratios = {c: round(r["orders_per_s"] / by_c[("noop", c)]["orders_per_s"], 3)
              for (s, c), r in by_c.items() if s == "service" and ("noop", c) in by_c}
    ceiling = next((r["orders_per_s"] for r in rows if r["mode"] == "pipelined x32"), 0)
    open_loop = next((r for r in rows if r.get("rate")), {})
    batch_stream = max(best("service", "batch")["orders_per_s"],
                       best("service", "stream")["orders_per_s"])
    # Mode for mode (batch against unary would credit batching to Redis).
    pg = best("pg", "unary")["orders_per_s"]
    pg_batch = best("pg", "batch")["orders_per_s"]
    oversold = [r.get("oversold") for r in rows if r.get("oversold") is not None]
    out = {
        "unary_vs_noop_by_concurrency": ratios,
        "unary_vs_noop_at_peak": round(best("service", "unary")["orders_per_s"]
                                       / max(best("noop", "unary")["orders_per_s"], 1), 3),
        "unary_p99_ms_at_half_peak": open_loop.get("p99_ms"),
        "half_peak_rate": open_loop.get("rate"),
        "batch_stream_vs_pipelined_ceiling": round(batch_stream / max(ceiling, 1), 3),
        "flash_unary_vs_postgres_unary": (
            round(best("service", "unary")["orders_per_s"] / pg, 2) if pg else None),
        "flash_batch_vs_postgres_batch": (
            round(best("service", "batch")["orders_per_s"] / pg_batch, 2) if pg_batch else None),
        "oversold_total": sum(oversold),
        "checks_failed": sum(1 for r in rows if str(r.get("check", "")).startswith("FAILED")),
    }
    out.update(hot_path(rows, best))
    t = out
    out["targets"] = {
        # Issue #9, each a ratio within this one run.
        "1. unary CPU/order <= 1.25x no-op (efficiency >= 80%)":
            (t["unary_efficiency"] or 0) >= 0.8,
        "2a. batch <= 60 us CPU/order and >= 15000 orders/s":
            (t["batch_cpu_us_per_order"] or 1e9) <= 60 and t["batch_orders_per_s"] >= 15000,
        "2b. stream >= 80% of no-op stream": (t["stream_vs_noop_stream"] or 0) >= 0.8,
        "3. unary p50 at 1 in flight within 0.5 ms of no-op":
            (t["unary_p50_ms_over_noop_at_1"] if t["unary_p50_ms_over_noop_at_1"]
             is not None else 1e9) <= 0.5,
        "4. Redis CPU/order <= 40 us batch, <= 60 us unary":
            (t["batch_redis_us_per_order"] or 1e9) <= 40
            and (t["unary_redis_us_per_order"] or 1e9) <= 60,
        "5. >= 4x PostgreSQL unary, >= 10x batch":
            (out["flash_unary_vs_postgres_unary"] or 0) >= 4
            and (out["flash_batch_vs_postgres_batch"] or 0) >= 10,
        "6. oversold = 0, invariant holds":
            out["oversold_total"] == 0 and out["checks_failed"] == 0,
    }
    return out


def peer_targets(rows: list[dict[str, Any]], common: dict[str, float]) -> dict[str, Any]:
    """Issue #25's targets: the service against the lean peers, ratios within this run.
    Batch and unary in both scenarios (flash: one hot SKU; broad: many SKUs); unary at
    the highest closed-loop concurrency; p50 at 1 in flight (flash)."""
    def pick(system: str, mode: str, scenario: str, conc: int | None = None) -> dict[str, Any]:
        pts = [r for r in rows if r["system"] == system and r["mode"] == mode
               and r["scenario"] == scenario and not r.get("rate")
               and (conc is None or r["concurrency"] == conc)]
        if conc is None and mode == "unary":
            return max(pts, key=lambda r: r["concurrency"], default={})
        return max(pts, key=lambda r: r["orders_per_s"], default={})

    def ratio(a: Any, b: Any) -> float | None:
        return round(a / b, 2) if a and b else None

    figures: dict[str, Any] = {}
    for sc in ("flash", "broad"):
        svc, lean, node = (pick(s, "batch", sc) for s in ("service", "lean", "node"))
        figures[f"{sc}_batch_orders_per_s_vs_node"] = ratio(svc.get("orders_per_s"),
                                                            node.get("orders_per_s"))
        figures[f"{sc}_batch_cpu_vs_lean"] = ratio(svc.get("cpu_us_per_order"),
                                                   lean.get("cpu_us_per_order"))
        figures[f"{sc}_unary_cpu_vs_lean"] = ratio(
            pick("service", "unary", sc).get("cpu_us_per_order"),
            pick("lean", "unary", sc).get("cpu_us_per_order"))
    at1 = [pick(s, "unary", "flash", 1).get("p50_ms") for s in ("service", "lean")]
    figures["unary_p50_ms_over_lean_at_1"] = (round(at1[0] - at1[1], 3)
                                              if None not in at1 else None)
    figures["stream_cpu_vs_batch"] = ratio(pick("service", "stream", "flash").get(
        "cpu_us_per_order"), pick("service", "batch", "flash").get("cpu_us_per_order"))
    figures["common_case_redis_cmds_per_order"] = common

    def at_most(key: str, bound: float) -> bool:
        return figures[key] is not None and figures[key] <= bound

    figures["targets"] = {
        "1. batch >= the Node.js peer's orders/s and <= 1.2x lean Python's CPU/order, "
        "hot SKU and many SKUs":
            all((figures[f"{sc}_batch_orders_per_s_vs_node"] or 0) >= 1
                and at_most(f"{sc}_batch_cpu_vs_lean", 1.2) for sc in ("flash", "broad")),
        "2. unary CPU/order <= 1.1x lean Python's; p50 at 1 in flight within 0.3 ms of it":
            all(at_most(f"{sc}_unary_cpu_vs_lean", 1.1) for sc in ("flash", "broad"))
            and at_most("unary_p50_ms_over_lean_at_1", 0.3),
        "3. ReserveStream CPU/order <= 2x batch": at_most("stream_cpu_vs_batch", 2),
        "4. common case <= 8 Redis commands per order": 0 < common.get("service", 0) <= 8,
    }
    return figures


def add_efficiency(rows: list[dict[str, Any]]) -> None:
    """Each measured row's `efficiency`: the no-op servicer's CPU per order (per call in
    unary) in the same mode at the nearest concurrency, over this row's CPU per order
    (1.0 = the order costs the server no more than the gRPC call that carries it)."""
    noop = [r for r in rows if r["system"] == "noop" and r.get("cpu_us_per_order")]
    for r in rows:
        if not r.get("cpu_us_per_order"):
            continue
        same = [n for n in noop if n["mode"] == r["mode"]]
        if not same:
            continue
        ref = min(same, key=lambda n: abs(n["concurrency"] - r["concurrency"]))
        r["efficiency"] = round(ref["cpu_us_per_order"] / r["cpu_us_per_order"], 3)


def hot_path(rows: list[dict[str, Any]], best: Any) -> dict[str, Any]:
    """The figures issue #9's targets are judged on (all from this run's rows).

    Unary is judged at the highest closed-loop concurrency (the loaded service, where
    the issue measured it); batch at the service's best batch point; Redis alone from
    the same rows."""
    def flash(system: str, mode: str) -> list[dict[str, Any]]:
        return [r for r in rows if r["system"] == system and r["mode"] == mode
                and r["scenario"] == "flash" and not r.get("rate")]

    unary = max(flash("service", "unary"), key=lambda r: r["concurrency"], default={})
    batch = best("service", "batch")
    at1 = {s: next((r for r in flash(s, "unary") if r["concurrency"] == 1), None)
           for s in ("service", "noop")}
    noop_stream = best("noop", "stream")["orders_per_s"]
    return {
        "unary_concurrency_judged": unary.get("concurrency"),
        "unary_efficiency": unary.get("efficiency"),
        "unary_cpu_us_per_order": unary.get("cpu_us_per_order"),
        "unary_redis_us_per_order": unary.get("redis_us_per_order"),
        "batch_orders_per_s": batch["orders_per_s"],
        "batch_cpu_us_per_order": batch.get("cpu_us_per_order"),
        "batch_redis_us_per_order": batch.get("redis_us_per_order"),
        "stream_vs_noop_stream": (round(best("service", "stream")["orders_per_s"]
                                        / noop_stream, 3) if noop_stream else None),
        "unary_p50_ms_over_noop_at_1": (
            round(at1["service"]["p50_ms"] - at1["noop"]["p50_ms"], 3)
            if at1["service"] and at1["noop"] else None),
    }


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text()
                .splitlines() if ln.startswith("model name")), platform.processor())
    redis_v = subprocess.run([find_redis_server(), "--version"], capture_output=True,
                             text=True, check=True).stdout.split()[2]
    return (f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, Python "
            f"{platform.python_version()}, Redis {redis_v.removeprefix('v=')}")


def _loadavg() -> str:
    """`uptime`'s load averages (1, 5, 15 min): how busy the shared box was."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def write(out: Path, args: argparse.Namespace, rows: list[dict[str, Any]],
          skipped: list[str] | None = None, load_before: str = "",
          common: dict[str, float] | None = None) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(),
            "load_average": {"before": load_before, "after": _loadavg()},
            "skipped": skipped or [],
            "command": paths.command("benchmarks.run", sys.argv[1:]),
            "args": {k: paths.relative(v) if isinstance(v, Path) else v
                     for k, v in vars(args).items()}}
    add_efficiency(rows)
    summ = summary(rows)
    summ["peers"] = peer_targets(rows, common or {})
    (out / "results.json").write_text(json.dumps(
        {"meta": meta, "summary": summ, "rows": rows}, indent=1))
    header = (f"Run {meta['date']} on {meta['machine']}: `{meta['command']}`\n\n"
              f"Load average (1/5/15 min) before the run {meta['load_average']['before']}, "
              f"after {meta['load_average']['after']}.\n\n"
              f"Targets: " + "; ".join(f"{k}: {'met' if v else 'MISSED'}"
                                       for k, v in summ["targets"].items())
              + "\n\nTargets against the peers (issue #25): "
              + "; ".join(f"{k}: {'met' if v else 'MISSED'}"
                          for k, v in summ["peers"]["targets"].items()))
    if meta["skipped"]:
        header += "\n\nSkipped (could not run here): " + "; ".join(meta["skipped"])
    (out / "results.md").write_text(report.markdown(rows, header) + "\n```\n"
                                    + json.dumps(summ, indent=1) + "\n```\n")
    report.plot(rows, out / "results.png")
    return summ


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="workload size (1 = the issue's)")
    p.add_argument("--seconds", type=float, default=4.0, help="length of each measured run")
    p.add_argument("--orders", type=int, default=0, help="orders prepared per run")
    p.add_argument("--scenarios", nargs="+", choices=("flash", "broad"),
                   default=["flash", "broad"],
                   help="the workloads to run (flash: one hot SKU; broad: many SKUs)")
    p.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 128],
                   help="unary calls in flight")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--batch-calls", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--window", type=int, default=256, help="orders in flight per stream")
    p.add_argument("--workers", type=int, default=2, help="also run the service with N "
                                                          "processes (1: skip)")
    p.add_argument("--bench-requests", type=int, default=100_000)
    p.add_argument("--no-profile", dest="profile", action="store_false")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--quick", action="store_true", help="tiny smoke run (tests)")
    p.add_argument("--pg", default=PG_DSN, help="PostgreSQL for the pg baseline "
                   "(default: $BENCH_PG_DSN or the local server's database test)")
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS),
                   choices=[*SYSTEMS, *EXTRA_SYSTEMS],
                   help="systems to measure (oversell-by-one: a deliberately broken "
                        "service, for the harness's own test)")
    p.add_argument("--max-error-rate", type=float, default=0.001,
                   help="RPC errors above this share of a point's calls fail the run")
    args = p.parse_args(argv)
    if args.quick:
        args.scale, args.seconds, args.levels = 0.002, 0.3, [1, 4]
        args.batch_calls, args.streams, args.batch_size, args.window = [1], [1], 20, 16
        args.workers, args.bench_requests, args.profile = 1, 2000, False
    if not args.orders:
        args.orders = max(300, int(200_000 * args.scale))
    return args


async def main(args: argparse.Namespace) -> int:
    global RESULTS
    RESULTS = args.out
    args.out.mkdir(parents=True, exist_ok=True)  # the profiled servers write into it
    load_before = _loadavg()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp, \
            RedisProcess(data_dir=Path(tmp), appendonly=True, appendfsync="everysec") as rp:
        suite = Suite(args, rp)
        try:
            await suite.run()
        finally:
            summ = write(args.out, args, suite.rows, suite.skipped, load_before,
                         suite.common)
    print(json.dumps(summ, indent=1))
    for f in suite.failures:
        print("CHECK FAILED:", f, file=sys.stderr)
    return 1 if suite.failures else 0


if __name__ == "__main__":
    sys.exit(uvloop.run(main(parse(sys.argv[1:]))))

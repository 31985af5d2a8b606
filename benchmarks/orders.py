"""Order hub benchmark: `python -m benchmarks.orders [--orders N] [--batch 500]`.

On a private redis-server (AOF everysec, as `reservation serve` runs it), 127.0.0.1 only:

1. in process (the server side without gRPC): N orders arrive unpaid (each holds its
   stock), then the same N are paid (each confirms and routes), synced in batches of
   --batch through `OrderHub.sync`: 2N order events, each with its stock effect, its
   history and its audit event written in the same script;
2. the same through the real gRPC server (`SyncOrders`, batches of --batch) in its own
   process, the client in this one;
3. the audit puller draining the audit events into PostgreSQL (or SQLite).

Checks after each run: every order ROUTED, held 0 and confirmed N units per SKU, loaded
= available + held + confirmed + returned. Writes benchmarks/results/orders.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc

from benchmarks import paths
from reservation.ordersync import validation
from reservation.ordersync.hub import OrderHub
from reservation.ordersync.model import Address, Line, RawOrder
from reservation.settings import Settings
from reservation.storage import keys
from reservation.storage.redis_process import RedisProcess, free_port
from reservation.storage.store import Store, connect
from reservation.v1 import order_service_pb2 as pb
from reservation.v1 import order_service_pb2_grpc as pb_grpc
from reservation.v1 import reservation_service_pb2 as rs_pb
from reservation.v1 import reservation_service_pb2_grpc as rs_grpc
from reservation.v1 import types_pb2 as types_pb

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SKUS = 200
CHANNELS = ("taobao", "jd", "pdd", "douyin", "wechat", "pos")
IDLE_S = 3.0
"""How long the gRPC row first measures the idle server (background work)."""
CREATED_MS = 1_699_999_940_000
"""When the benchmark's orders were placed (the same in every sync of an order)."""


def raw_orders(n: int, state: str, modified_s: int, tag: str) -> list[RawOrder]:
    out = []
    for i in range(n):
        out.append(RawOrder(
            channel=CHANNELS[i % len(CHANNELS)], shop="shop-1", order_id=f"{tag}-{i:07d}",
            state=state, raw_status=state.lower(), modified_at_ms=modified_s * 1000,
            created_at_ms=CREATED_MS - i, receiver_phone=f"138{i:08d}",
            address=Address("Zhejiang", "Hangzhou", "Xihu", f"{i} West Lake Rd"),
            lines=(Line(f"SKU-{i % SKUS:04d}", 1, 1999),), total_cents=1999))
    return out


def to_pb(o: RawOrder) -> pb.ChannelOrder:
    m = pb.ChannelOrder(channel=o.channel, shop=o.shop, order_id=o.order_id, state=o.state,
                        raw_status=o.raw_status, receiver_phone=o.receiver_phone,
                        address=pb.Address(province=o.address.province, city=o.address.city,
                                           district=o.address.district,
                                           detail=o.address.detail),
                        lines=[pb.OrderItem(sku=ln.sku, quantity=ln.quantity,
                                            price=ln.price_cents) for ln in o.lines])
    m.modified_at.FromMilliseconds(o.modified_at_ms)
    m.created_at.FromMilliseconds(o.created_at_ms)
    return m


async def load_stock(store: Store, per_sku: int) -> None:
    by_shard: dict[int, list[tuple[str, str, int]]] = {}
    for s in range(SKUS):
        sku = f"SKU-{s:04d}"
        by_shard.setdefault(keys.shard_of(sku, store.settings.shards), []).append(
            (sku, "WH-A", per_sku))
    for shard, items in by_shard.items():
        await store.load_stock(shard, "add", items)


async def check(store: Store, n: int, before: dict[str, tuple[int, int]]) -> str:
    """held unchanged and confirmed up by n units over all SKUs; the invariant holds."""
    held = confirmed = 0
    for s in range(SKUS):
        levels, _ = await store.stock(f"SKU-{s:04d}")
        for lv in levels:
            if lv.loaded != lv.available + lv.held + lv.confirmed + lv.returned:
                return f"invariant broken for SKU-{s:04d}"
            held += lv.held
            confirmed += lv.confirmed
    want = (before["total"][0], before["total"][1] + n)
    return "ok" if (held, confirmed) == want else f"held/confirmed {(held, confirmed)} != {want}"


async def totals(store: Store) -> dict[str, tuple[int, int]]:
    held = confirmed = 0
    for s in range(SKUS):
        levels, _ = await store.stock(f"SKU-{s:04d}")
        held += sum(lv.held for lv in levels)
        confirmed += sum(lv.confirmed for lv in levels)
    return {"total": (held, confirmed)}


async def redis_cpu_s(store: Store) -> float:
    """CPU the Redis process used so far (INFO cpu: user + system, all its threads).
    (INFO commandstats would count a script's inner commands twice: once in EVALSHA's
    time and once on their own.)"""
    info = await store.client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU (user + system) of a process and its live descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
        todo += children.get(p, [])
    return total


async def profile_in_process(url: str, n: int, batch: int, prefix: Path) -> None:
    """Where the time goes, written next to the results (figures from profiled runs are
    not the benchmark's: the profiler slows the Python side):

    <prefix>-python.txt  the in-process run under pyinstrument (CPU, not waits);
    <prefix>-redis.txt   Redis's side of an in-process run: its CPU per order event with
                         the AOF on (everysec, as served) and off, split into the lookup
                         script and the rest, and INFO commandstats per command."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    await in_process(url, n, batch)
    profiler.stop()
    prefix.with_name(prefix.name + "-python.txt").write_text(
        paths.scrub(profiler.output_text(unicode=False, color=False, show_all=False)))
    lines = [(f"Redis side of `python -m benchmarks.orders --orders {n} --batch {batch}` "
              f"in process ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
              f"average {os.getloadavg()[0]:.1f}); CPU of the Redis process (INFO cpu) per "
              "order event."), ""]
    for aof in (True, False):
        lines += await _redis_split(n, batch, aof)
    prefix.with_name(prefix.name + "-redis.txt").write_text("\n".join(lines) + "\n")


async def _redis_split(n: int, batch: int, aof: bool) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisProcess(data_dir=Path(tmp), appendonly=aof, appendfsync="everysec")
        redis.start()
        try:
            settings = Settings(redis_url=redis.url)
            store = Store(connect(settings, redis.url), settings)
            await load_stock(store, per_sku=10 * n)
            hub = OrderHub(store, settings)
            await hub.start()
            await store.client.config_resetstat()
            lookup_s = 0.0
            plain_lookup = hub.orders.lookup

            async def lookup(*a: Any) -> Any:
                nonlocal lookup_s
                c0 = await redis_cpu_s(store)
                found = await plain_lookup(*a)
                lookup_s += await redis_cpu_s(store) - c0
                return found

            hub.orders.lookup = lookup  # type: ignore[method-assign]
            out = [f"## appendonly {'yes, appendfsync everysec' if aof else 'no'}", ""]
            for state, mod in (("PENDING_PAYMENT", 1_700_000_000), ("PAID", 1_700_000_001)):
                orders = [validation.channel_order(o, settings)
                          for o in raw_orders(n, state, mod, "p")]
                lookup_s = 0.0
                r0 = await redis_cpu_s(store)
                for k in range(0, n, batch):
                    await hub.sync(orders[k:k + batch])
                total = await redis_cpu_s(store) - r0
                out.append(f"- {state}: {total * 1e6 / n:.0f} us per order event, of which "
                           f"the lookup script {lookup_s * 1e6 / n:.0f} us, the order script "
                           f"and the rest {(total - lookup_s) * 1e6 / n:.0f} us")
            info = await store.client.info("commandstats")
            out += ["", ("INFO commandstats over both phases (EVALSHA's time includes "
                         "the commands the scripts call, which are also listed on their "
                         "own):"), "",
                    "| command | calls | calls per event | usec per event |",
                    "|---|---|---|---|"]
            for name, v in sorted(info.items(), key=lambda kv: -kv[1]["usec"]):
                if v["calls"] >= n // 10:
                    out.append(f"| {name.removeprefix('cmdstat_')} | {v['calls']} | "
                               f"{v['calls'] / (2 * n):.2f} | {v['usec'] / (2 * n):.1f} |")
            await store.close()
            return [*out, ""]
        finally:
            redis.stop()


async def in_process(url: str, n: int, batch: int) -> dict[str, Any]:
    settings = Settings(redis_url=url)
    store = Store(connect(settings, url), settings)
    hub = OrderHub(store, settings)
    await hub.start()
    before = await totals(store)
    redis0 = await redis_cpu_s(store)
    tag = uuid.uuid4().hex[:6]
    phases = {}
    for state, mod in (("PENDING_PAYMENT", 1_700_000_000), ("PAID", 1_700_000_001)):
        orders = [validation.channel_order(o, settings) for o in raw_orders(n, state, mod, tag)]
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        for k in range(0, n, batch):
            results = await hub.sync(orders[k:k + batch])
            assert all(r.order is not None for r in results)
        phases[state] = (time.perf_counter() - t0, time.process_time() - cpu0)
    redis_s = await redis_cpu_s(store) - redis0
    states = {r.order.state.value for r in await hub.sync(orders[:batch])}  # type: ignore[union-attr]
    status = await check(store, n, before)
    if states != {"ROUTED"}:
        status = f"states {states}"
    await store.close()
    wall = sum(w for w, _ in phases.values())
    python_s = sum(c for _, c in phases.values())
    return {"mode": "in process (OrderHub.sync)", "orders": n, "order_events": 2 * n,
            "seconds": round(wall, 2), "order_events_per_s": round(2 * n / wall),
            "python_cpu_s": round(python_s, 2), "redis_cpu_s": round(redis_s, 2),
            "cpu_us_per_event": round((python_s + redis_s) * 1e6 / (2 * n)),
            "events_per_cpu_s": round(2 * n / (python_s + redis_s)),
            "unpaid_per_s": round(n / phases["PENDING_PAYMENT"][0]),
            "paid_per_s": round(n / phases["PAID"][0]), "check": status}


def start_server(url: str, port: int, groups: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RESERVATION_REDIS_URL": url, "RESERVATION_PORT": str(port),
           "RESERVATION_ORDER_EVENT_GROUPS": groups, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "reservation.cli", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        r = subprocess.run([sys.executable, "-m", "reservation.cli", "check", "--target",
                            f"127.0.0.1:{port}"], capture_output=True, env=env, check=False)
        if r.returncode == 0:
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


async def over_grpc(url: str, n: int, batch: int) -> dict[str, Any]:
    port = free_port()
    proc = start_server(url, port, "audit")
    tag = uuid.uuid4().hex[:6]
    settings = Settings(redis_url=url)
    store = Store(connect(settings, url), settings)
    before = await totals(store)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.OrderServiceStub(channel)
            # What the server and Redis spend with no traffic at all (sweeper, pollers,
            # guard ticks): part of every figure below, not of any order.
            idle0 = tree_cpu_s(proc.pid) + await redis_cpu_s(store)
            await asyncio.sleep(IDLE_S)
            idle_per_s = (tree_cpu_s(proc.pid) + await redis_cpu_s(store) - idle0) / IDLE_S
            t0 = time.perf_counter()
            cpu0, redis0 = tree_cpu_s(proc.pid), await redis_cpu_s(store)
            for state, mod in (("PENDING_PAYMENT", 1_700_000_000), ("PAID", 1_700_000_001)):
                msgs = [to_pb(o) for o in raw_orders(n, state, mod, tag)]
                # Two batches in flight: the server works while the client encodes.
                sem = asyncio.Semaphore(2)

                async def send(part: list[pb.ChannelOrder],
                               sem: asyncio.Semaphore = sem) -> None:
                    async with sem:
                        await stub.SyncOrders(pb.SyncOrdersRequest(orders=part), timeout=120)
                await asyncio.gather(*(send(msgs[k:k + batch]) for k in range(0, n, batch)))
            wall = time.perf_counter() - t0
            python_s = tree_cpu_s(proc.pid) - cpu0
            redis_s = await redis_cpu_s(store) - redis0
        status = await check(store, n, before)
    finally:
        proc.terminate()
        proc.wait()
        await store.close()
    return {"mode": "gRPC SyncOrders (server in its own process)", "orders": n,
            "order_events": 2 * n, "seconds": round(wall, 2),
            "order_events_per_s": round(2 * n / wall),
            "python_cpu_s": round(python_s, 2), "redis_cpu_s": round(redis_s, 2),
            "cpu_us_per_event": round((python_s + redis_s) * 1e6 / (2 * n)),
            "events_per_cpu_s": round(2 * n / (python_s + redis_s)),
            "idle_cpu_s_per_s": round(idle_per_s, 3),
            "idle_cpu_us_per_event": round(idle_per_s * wall * 1e6 / (2 * n)),
            "check": status}


FLASH_SKU = "FLASH-1"


async def flash_reserve(url: str, n: int, in_flight: int, hub_active: bool,
                        batch: int) -> dict[str, Any]:
    """A flash sale's unary Reserve through gRPC (one SKU, one unit per order, `in_flight`
    calls at a time), alone or while the hub syncs orders (batches of `batch`, one in
    flight) on the same server: the Reserve path is no slower with the hub at work."""
    port = free_port()
    proc = start_server(url, port, "audit")
    tag = uuid.uuid4().hex[:6]
    settings = Settings(redis_url=url)
    store = Store(connect(settings, url), settings)
    await store.load_stock(keys.shard_of(FLASH_SKU, settings.shards), "add",
                           [(FLASH_SKU, "WH-A", n)])
    latencies: list[float] = []
    refused = 0
    synced = 0
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            rs = rs_grpc.ReservationServiceStub(channel)
            hub = pb_grpc.OrderServiceStub(channel)
            todo = iter(range(n))
            done = asyncio.Event()

            async def reserver() -> None:
                nonlocal refused
                for k in todo:
                    req = rs_pb.ReserveRequest(channel="jd", order_id=f"F-{tag}-{k}",
                                               buyer_id=f"b-{k}",
                                               lines=[types_pb.OrderLine(sku=FLASH_SKU,
                                                                         quantity=1)])
                    t = time.perf_counter()
                    reply = await rs.Reserve(req, timeout=60)
                    latencies.append(time.perf_counter() - t)
                    refused += reply.reservation.state != types_pb.RESERVATION_STATE_RESERVED

            async def syncer() -> None:
                nonlocal synced
                k = 0
                while not done.is_set():
                    msgs = [to_pb(o) for o in raw_orders(batch, "PENDING_PAYMENT",
                                                         1_700_000_000, f"{tag}-{k}")]
                    await hub.SyncOrders(pb.SyncOrdersRequest(orders=msgs), timeout=120)
                    synced += batch
                    k += 1

            background = asyncio.ensure_future(syncer()) if hub_active else None
            if background is not None:
                while synced == 0:  # the hub is at work before the first Reserve
                    await asyncio.sleep(0.01)
            t0 = time.perf_counter()
            await asyncio.gather(*(reserver() for _ in range(in_flight)))
            wall = time.perf_counter() - t0
            done.set()
            if background is not None:
                await background
        levels, _ = await store.stock(FLASH_SKU)
        lv = levels[0]
        ok = lv.loaded == lv.available + lv.held + lv.confirmed + lv.returned
        status = "ok" if ok and refused == 0 and lv.held >= n else (
            f"refused {refused}, held {lv.held} of {n}, invariant {ok}")
    finally:
        proc.terminate()
        proc.wait()
        await store.close()
    latencies.sort()
    return {"mode": (f"unary Reserve of one hot SKU (flash-sale shape), {in_flight} in flight, "
                     + ("while the hub syncs orders" if hub_active else "hub idle")),
            "events": n, "seconds": round(wall, 2), "events_per_s": round(n / wall),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
            "orders_synced_meanwhile": synced, "check": status}


def audit_drain(url: str, db: str) -> dict[str, Any]:
    from reservation.clients.audit.puller import EventPuller
    from reservation.clients.audit.store import AuditStore

    port = free_port()
    proc = start_server(url, port, "audit")
    store = AuditStore(db)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            puller = EventPuller(channel, store.apply, max_events=1000, wait_s=0.5)
            t0 = time.perf_counter()
            pulled = 0
            while True:
                got = puller.step()
                if not got:
                    break
                pulled += got
            wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait()
    count = store.count()
    store.close()
    return {"mode": f"audit puller into {db.split(':')[0]}", "events": pulled,
            "stored": count, "seconds": round(wall, 2),
            "events_per_s": round(pulled / wall) if wall else 0,
            "check": "ok" if count == pulled else f"stored {count} of {pulled}"}


def pg_database() -> tuple[str, Any]:
    import psycopg

    name = f"bench_audit_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:5432/{name}", (admin, name)


def write(results: list[dict[str, Any]], args: argparse.Namespace, load_start: float) -> None:
    RESULTS.mkdir(exist_ok=True)
    meta = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_average_1m_at_start": round(load_start, 1),
            "load_average_1m_at_end": round(os.getloadavg()[0], 1),
            "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
            "python": platform.python_version(), "batch": args.batch, "orders": args.orders,
            "command": paths.command("benchmarks.orders", sys.argv[1:]),
            "commit": args.commit or subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                text=True, check=False).stdout.strip()}
    stem = Path(args.out)
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "results": results},
                                                    indent=2) + "\n")
    lines = [(f"# Order hub benchmark ({meta['when']}, {meta['machine']}, Python "
             f"{meta['python']}, batches of {args.batch}, load average "
             f"{meta['load_average_1m_at_start']} at the start and "
             f"{meta['load_average_1m_at_end']} at the end: the box was shared)"), "",
             f"`{meta['command']}` at commit {meta['commit']}", "",
             ("| mode | events | seconds | events/s | service CPU s | Redis CPU s | "
              "CPU us/event | events per CPU-second | check |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        cpu = (f"{r['python_cpu_s']} | {r['redis_cpu_s']} | {r['cpu_us_per_event']} | "
               f"{r['events_per_cpu_s']}" if "cpu_us_per_event" in r else " | | | ")
        check = r["check"]
        if "p50_ms" in r:
            check += (f"; p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                      f"{r['orders_synced_meanwhile']} orders synced meanwhile")
        lines.append(f"| {r['mode']} | {r.get('order_events', r.get('events'))} | "
                     f"{r['seconds']} | {r.get('order_events_per_s', r.get('events_per_s'))} "
                     f"| {cpu} | {check} |")
    lines += ["", ("CPU is the service's (in process: this process while it syncs; through "
                   "gRPC: the server's process tree from /proc) plus the Redis process's "
                   "(INFO cpu), over the timed window only. Events/s is wall time, with the "
                   "client on the same 2 cores.")]
    for r in results:
        if "idle_cpu_s_per_s" in r:
            lines += ["", (f"{r['mode']}: the idle server and Redis used "
                           f"{r['idle_cpu_s_per_s']} CPU-s per second before the run "
                           f"(background work), about {r['idle_cpu_us_per_event']} us of "
                           "the CPU per event above.")]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisProcess(data_dir=Path(tmp), appendonly=True, appendfsync="everysec")
        redis.start()
        try:
            settings = Settings(redis_url=redis.url)
            store = Store(connect(settings, redis.url), settings)
            await load_stock(store, per_sku=10 * args.orders)
            await store.close()
            if args.profile:
                await profile_in_process(redis.url, args.orders, args.batch,
                                         RESULTS / args.profile)
                return []
            results = [await in_process(redis.url, args.orders, args.batch),
                       await over_grpc(redis.url, args.orders, args.batch)]
            for hub_active in (False, True):
                results.append(await flash_reserve(redis.url, args.reserves, 32, hub_active,
                                                   args.batch))
            if args.audit_db == "postgresql":
                db, (admin, name) = pg_database()
                try:
                    results.append(await asyncio.to_thread(audit_drain, redis.url, db))
                finally:
                    admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
                    admin.close()
            else:
                results.append(await asyncio.to_thread(
                    audit_drain, redis.url, f"sqlite:///{tmp}/audit.db"))
            return results
        finally:
            redis.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.orders", description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--audit-db", choices=("postgresql", "sqlite"), default="postgresql")
    p.add_argument("--out", default=str(RESULTS / "orders"), metavar="STEM",
                   help="results files STEM.json and STEM.md")
    p.add_argument("--commit", default="",
                   help="the commit measured, for the results (default: git rev-parse HEAD)")
    p.add_argument("--reserves", type=int, default=5_000,
                   help="flash-sale Reserve calls per Reserve row")
    p.add_argument("--profile", default="", metavar="NAME",
                   help="only profile: results/NAME-python.txt (pyinstrument, in process) "
                        "and results/NAME-redis.txt (Redis CPU split, commandstats)")
    args = p.parse_args(argv)
    load_start = os.getloadavg()[0]
    results = asyncio.run(main_async(args))
    if args.profile:
        return 0
    write(results, args, load_start)
    return 0 if all(r["check"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

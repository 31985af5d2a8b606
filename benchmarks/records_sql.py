"""The records store in SQL at scale: how far the read model lags behind the order event
streams at a given rate, and how fast ListOrders and FindOrders answer from 1,000,000
orders in PostgreSQL.

    python -m benchmarks.records_sql lag --db postgresql://... [--rate 5000] [--seconds 10]
                                         [--source stream|hub] [--followers N] [--runs 3]
    python -m benchmarks.records_sql list --db postgresql://... [--rows 1000000] [--runs 3]
    python -m benchmarks.records_sql hot --db postgresql://... [--hot 50000] [--runs 3]

Each run has a private redis-server and a database of its own on the PostgreSQL server
--db names (created for the run, dropped after).

lag: the follower runs alone in a child process (as in `reservation serve`, its own
event loop and connections), so its CPU is its own and the producer's is not in it.
With `--source stream` the producer writes order events straight into the shards'
order event streams at --rate events/s (what a hub of several replicas would write:
one hub process on 2 cores beside PostgreSQL cannot produce 5,000/s); each event is a
copy of a real audit event of one of --orders orders the hub synced first (new entry,
new event id), so the follower reads a real order from the hub and writes its rows for
each, as it does for the hub's own. With `--source hub` SyncOrders batches are paced at
--rate events/s through the hub in this process (the rate the hub can reach is what it
measures). The lag of a written entry is the time from its XADD until the store's
cursor for its shard has passed it (polled every 5 ms): p50, p99, the events per second
reached, the follower's CPU seconds per 1,000 events (its process, user + system), and the
share of a core each process sharing the machine used meanwhile (the follower, the
PostgreSQL server, Redis, and this process: the producer and the watch). With
--followers N, N follower processes each own a group of the shards (shard % N), as
followers partitioned by shard would (records/follower.py); their CPU is summed.

list: --rows orders bulk-loaded into the read model with COPY (6 channels, skewed; 20
warehouses, Zipf-like; 200,000 buyers; created over 90 days; older than the 7-day hot
window mostly CLOSED and evicted, the rest spread over the open states; 1-3 lines and,
once shipped, a shipment with a tracking number), then ANALYZE; Redis is empty, as for
orders that left it. Per filter, --calls calls of the first page (random parameters) and
--calls of a deep page (a keyset token at a random row), each through OrderReads as the
servicer calls it (reservation/records/reads.py): p50, p99; the EXPLAIN (ANALYZE,
BUFFERS) of the store's query for the slowest call of each filter goes to the .json.

hot: ListOrders' Redis side: --hot PAID orders synced through the hub (open: all in
Redis, none in the store), then per filter --calls calls of the first page and of a deep
page (a token at a random hot order), through OrderReads: p50, p99. A state no hot order
is in (SHIPPED) walks every hot order to answer an empty page: it gets --calls // 40
calls. The hub routes the synced orders, so few stay PAID: that filter walks them too.

Writes benchmarks/results/records-sql-<part>.{json,md} (or --out STEM). Run it through
/work/b.sh (alone on the CPU): the figures are times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks import cpu as cpu_meter
from benchmarks import paths
from benchmarks.records import CHANNELS, SKUS, _p99, database, raw
from reservation import clock
from reservation.domain.models import StockItem
from reservation.ordersync import finding, listing, validation
from reservation.ordersync.model import Address, Line, Order, Shipment
from reservation.ordersync.states import OrderState
from reservation.records import store as store_sql
from reservation.records.database import engine_for
from reservation.records.follower import Follower
from reservation.records.reads import OrderReads
from reservation.records.store import START, Filter, Records
from reservation.server.app import App, freeze_startup_objects, start_app
from reservation.settings import Settings
from reservation.storage import keys
from reservation.storage.orders import order_ref
from reservation.storage.redis_process import RedisProcess
from reservation.storage.startup import open_store

RESULTS = paths.ROOT / "benchmarks" / "results" / "records-sql"
DAY_MS = 24 * 3600 * 1000
HOT_DAYS = 7


def _ms(x: float) -> float:
    return round(x * 1000, 1)


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _settings(redis_url: str, db: str) -> Settings:
    return Settings(redis_url=redis_url, records_url=db, port=0, order_event_groups="")


# -- lag ------------------------------------------------------------------------------------
def _follow(redis_url: str, db: str, ready: Any, batch: int,
            group: tuple[int, int] = (0, 1)) -> None:
    """The child process: the follower alone, as `reservation serve` runs it (with
    --followers N, the follower of one group of the shards)."""
    async def go() -> None:
        from reservation.ordersync.hub import OrderHub

        settings = _settings(redis_url, db)
        store = await open_store(settings, redis_url)
        hub = OrderHub(store, settings)
        follower = Follower(hub, Records(engine_for(db)), group=group,
                            **({"batch": batch} if batch else {}))
        await follower.start()
        await follower.catch_up()
        ready.set()
        await follower.run()

    asyncio.run(go())


class Watch:
    """Entries written and when; resolved when the store's cursor passes them."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self.pending: dict[int, list[tuple[tuple[int, int], float]]] = {}
        self.lags: list[float] = []

    def wrote(self, shard: int, entry_id: str, at: float) -> None:
        self.pending.setdefault(shard, []).append((_id(entry_id), at))

    async def poll(self) -> None:
        cursors = await asyncio.to_thread(self.records.cursors)
        now = time.perf_counter()
        for shard, waiting in self.pending.items():
            cur = _id(cursors.get(shard, START))
            k = 0
            while k < len(waiting) and waiting[k][0] <= cur:
                self.lags.append(now - waiting[k][1])
                k += 1
            del waiting[:k]

    def left(self) -> int:
        return sum(len(w) for w in self.pending.values())

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.poll()
            await asyncio.sleep(0.005)


async def _templates(app: App, orders: int) -> list[tuple[int, str]]:
    """Sync `orders` PAID orders through the hub; the audit entries it wrote (shard,
    payload), to copy."""
    hub = app.orders
    assert hub is not None
    cos = [validation.channel_order(o, app.settings)
           for o in raw(orders, uuid.uuid4().hex[:6], "PAID")]
    for k in range(0, len(cos), 100):
        await hub.sync(cos[k:k + 100])
    out = []
    client = app.store.client
    for shard in range(app.settings.shards):
        for _, fields in await client.xrange(keys.write_back(shard, keys.ORDER_EVENTS)):
            if fields.get("g") == "audit":
                out.append((shard, fields["e"]))
    random.Random(3).shuffle(out)
    return out


async def _produce_stream(app: App, watch: Watch, templates: list[tuple[int, str]],
                          rate: int, seconds: float) -> int:
    """XADD copies of the templates at `rate` per second, in 10 ms ticks."""
    client = app.store.client
    start = time.perf_counter()
    sent = 0
    total = int(rate * seconds)
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        if due > sent:
            picks = [templates[(sent + i) % len(templates)] for i in range(due - sent)]
            async with client.pipeline(transaction=False) as pipe:
                for shard, payload in picks:
                    pipe.xadd(keys.write_back(shard, keys.ORDER_EVENTS),
                              {"g": "audit", "e": payload})
                ids = await pipe.execute()
            at = time.perf_counter()
            for (shard, _), entry_id in zip(picks, ids, strict=True):
                watch.wrote(shard, str(entry_id), at)
            sent = due
        await asyncio.sleep(0.01)
    return sent


async def _produce_hub(app: App, watch: Watch, rate: int, seconds: float) -> int:
    """SyncOrders batches of 100 new PAID orders paced at `rate` events per second; after
    each, every shard's newest entry is what the store must pass."""
    hub = app.orders
    assert hub is not None
    client = app.store.client
    shards = app.settings.shards
    streams = [keys.write_back(s, keys.ORDER_EVENTS) for s in range(shards)]
    lengths = [int(await client.xlen(s)) for s in streams]
    n = max(100, int(rate * seconds / 2))  # about two events per PAID order synced
    cos = [validation.channel_order(o, app.settings)
           for o in raw(n, uuid.uuid4().hex[:6], "PAID")]
    start = time.perf_counter()
    events = 0
    for k in range(0, n, 100):
        await hub.sync(cos[k:k + 100])
        at = time.perf_counter()
        async with client.pipeline(transaction=False) as pipe:
            for s in streams:
                pipe.xrevrange(s, count=1)
                pipe.xlen(s)
            got = await pipe.execute()
        now_len = [int(x) for x in got[1::2]]
        events = sum(now_len) - sum(lengths)
        for shard, newest in enumerate(got[0::2]):
            if newest:
                watch.wrote(shard, str(newest[0][0]), at)
        if time.perf_counter() - start > seconds:
            break
        ahead = start + events / rate - time.perf_counter()
        if ahead > 0:
            await asyncio.sleep(ahead)
    return events


def _postmaster(records: Records) -> int:
    """The PostgreSQL server's main process: the parent of this connection's backend."""
    with records.engine.connect() as c:
        backend = int(c.execute(text("SELECT pg_backend_pid()")).scalar_one())
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def lag_run(args: argparse.Namespace, redis_url: str, db: str,
                  redis_pid: int | None = None) -> dict[str, Any]:
    settings = _settings(redis_url, db)
    app = await start_app(settings, background=False)
    children: list[Any] = []
    try:
        assert app.records is not None and app.follower is not None
        await app.inventory.load([StockItem(f"SKU-{i:04d}", "WH-A", 1_000_000)
                                  for i in range(SKUS)], "SET")
        templates = await _templates(app, args.orders) if args.source == "stream" else []
        await app.follower.catch_up()
        ctx = multiprocessing.get_context("spawn")
        n = args.followers
        readies = [ctx.Event() for _ in range(n)]
        children = [ctx.Process(target=_follow, args=(redis_url, db, readies[i], args.batch,
                                                      (i, n)), daemon=True)
                    for i in range(n)]
        for child in children:
            child.start()
        for ready in readies:
            if not await asyncio.to_thread(ready.wait, 60):
                raise RuntimeError("a follower process did not start")
        pids = [c.pid for c in children if c.pid is not None]
        watch = Watch(Records(app.records))
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch.watch(stop))
        # What else shares the 2 cores: the server and Redis, and this process (the
        # producer and the watch).
        beside = {"postgres": [_postmaster(Records(app.records))],
                  "redis": [redis_pid] if redis_pid else []}
        beside0 = {k: cpu_meter.tree(v) for k, v in beside.items()}
        own0 = cpu_meter.process(os.getpid())  # not its children: the follower, Redis
        cpu0 = sum(cpu_meter.process(pid) for pid in pids)
        t0 = time.perf_counter()
        if args.source == "stream":
            events = await _produce_stream(app, watch, templates, args.rate, args.seconds)
        else:
            events = await _produce_hub(app, watch, args.rate, args.seconds)
        produced = time.perf_counter() - t0
        deadline = time.perf_counter() + 120
        while watch.left() and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        took = time.perf_counter() - t0
        cpu1 = sum(cpu_meter.process(pid) for pid in pids)
        shares = {f"{k}_cpu_share": round((cpu_meter.tree(v) - beside0[k]) / took, 2)
                  for k, v in beside.items()}
        shares["producer_cpu_share"] = round((cpu_meter.process(os.getpid()) - own0) / took, 2)
        stop.set()
        await watcher
        if watch.left():
            raise RuntimeError(f"{watch.left()} entries not applied after 120 s")
        cpu = cpu1 - cpu0
        return {"source": args.source, "followers": n, "events": events,
                "events_per_s": round(events / produced),
                "drained_s": round(took, 2),
                "lag_p50_ms": _ms(statistics.median(watch.lags)),
                "lag_p99_ms": _ms(_p99(watch.lags)),
                "lag_max_ms": _ms(max(watch.lags)),
                "follower_cpu_ms_per_1000_events": round(cpu / events * 1e6, 1),
                "follower_cpu_share": round(cpu / took, 2), **shares}
    finally:
        for child in children:
            child.kill()
            child.join()
        await app.stop(grace=0)


# -- list -----------------------------------------------------------------------------------
CHANNEL_WEIGHTS = (35, 25, 20, 12, 5, 3)
WAREHOUSES = [f"WH-{k:02d}" for k in range(1, 21)]
WAREHOUSE_WEIGHTS = [1 / k for k in range(1, 21)]
BUYERS = 200_000
OPEN_STATES = (OrderState.PAID, OrderState.ROUTED, OrderState.ALLOCATED, OrderState.PRINTED,
               OrderState.SHIPPED, OrderState.DELIVERED, OrderState.ON_HOLD,
               OrderState.REFUND_REQUESTED, OrderState.CANCELLED, OrderState.REFUNDED)
SHIPPED = {OrderState.SHIPPED, OrderState.DELIVERED, OrderState.CLOSED,
           OrderState.REFUND_REQUESTED, OrderState.REFUNDED}
ORDER_COLS = ("ref", "channel", "shop", "order_id", "state", "version", "buyer_hash",
              "total_cents", "paid_cents", "warehouse", "warehouses", "reservation_state",
              "review_state", "created_at_ms", "updated_at_ms", "closed_at_ms",
              "evicted_at_ms", "events", "doc")
LINE_COLS = ("ref", "line_no", "sku", "quantity", "price_cents", "brand", "category",
             "warehouse_id", "gift_of")
SHIP_COLS = ("ref", "seq", "carrier", "tracking_number", "shipped_at_ms", "warehouse_id")


def _orders(rows: int, now: int) -> Iterator[tuple[Order, str, bool]]:
    """The loaded orders, each with its ref and whether it left Redis."""
    rnd = random.Random(7)
    channels = rnd.choices(CHANNELS, CHANNEL_WEIGHTS, k=rows)
    for i in range(rows):
        created = now - rnd.randrange(90 * DAY_MS)
        old = now - created > HOT_DAYS * DAY_MS
        state = (OrderState.CLOSED if old and rnd.random() < 0.97 else rnd.choice(OPEN_STATES))
        channel = channels[i]
        order_id = f"L{i:08d}"
        whs = tuple(sorted(set(rnd.choices(WAREHOUSES, WAREHOUSE_WEIGHTS,
                                           k=1 if rnd.random() < 0.9 else 2))))
        lines = tuple(Line(f"SKU-{rnd.randrange(5000):05d}", rnd.randint(1, 3), 1999,
                           warehouse_id=whs[0]) for _ in range(rnd.randint(1, 3)))
        total = sum(line.quantity * line.price_cents for line in lines)
        shipments = ((Shipment("SF", f"SF{i:012d}", created + DAY_MS, whs[0]),)
                     if state in SHIPPED else ())
        o = Order(channel=channel, shop=f"shop-{i % 4}", order_id=order_id, state=state,
                  version=6, channel_state=state, raw_status=state.value.lower(),
                  modified_at_ms=created, created_at_ms=created,
                  buyer_hash=f"b{rnd.randrange(BUYERS):06d}",
                  address=Address("Zhejiang", "Hangzhou", "Xihu", f"{i} West Lake Rd"),
                  lines=lines, total_cents=total, paid_cents=total, paid_at_ms=created + 1,
                  updated_at_ms=created + 2 * DAY_MS, shipments=shipments, warehouses=whs,
                  routed_warehouses=whs)
        yield o, order_ref(channel, o.shop, order_id), old and state == OrderState.CLOSED


def fill(url: str, rows: int) -> dict[str, Any]:
    """COPY `rows` orders, their lines and shipments into the read model; ANALYZE."""
    import psycopg

    from reservation.records import rows as to_rows

    now = clock.now_ms()
    t0 = time.perf_counter()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as c, tempfile.TemporaryFile("w+") as lines, \
            tempfile.TemporaryFile("w+") as ships, tempfile.TemporaryFile("w+") as held:
        # The orders first (the lines and shipments refer to them), their children kept
        # meanwhile as COPY text (plain values: no tab, newline or backslash in them).
        with c.cursor().copy(f"COPY orders ({', '.join(ORDER_COLS)}) FROM STDIN") as copy:
            for o, ref, evicted in _orders(rows, now):
                row = to_rows.order_row(ref, o, 6)
                row["evicted_at_ms"] = now if evicted else None
                copy.write_row([row[k] for k in ORDER_COLS])
                for line in to_rows.line_rows(ref, o):
                    lines.write("\t".join(str(line[k]) for k in LINE_COLS) + "\n")
                for s in to_rows.shipment_rows(ref, o):
                    ships.write("\t".join(str(s[k]) for k in SHIP_COLS) + "\n")
                for w in to_rows.warehouse_rows(ref, o):
                    closed = "\\N" if w["closed_at_ms"] is None else w["closed_at_ms"]
                    held.write(f"{ref}\t{w['warehouse']}\t{w['created_at_ms']}\t{closed}\n")
        for table, cols, f in (("order_lines", LINE_COLS, lines),
                               ("order_shipments", SHIP_COLS, ships),
                               ("order_warehouses",
                                ("ref", "warehouse", "created_at_ms", "closed_at_ms"), held)):
            f.seek(0)
            with c.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
        c.commit()
        loaded = time.perf_counter() - t0
        c.autocommit = True
        c.execute("ANALYZE")
        size = c.execute("SELECT pg_database_size(current_database())").fetchone()
    return {"rows": rows, "load_s": round(loaded, 1),
            "analyze_s": round(time.perf_counter() - t0 - loaded, 1),
            "db_mb": round((size[0] if size else 0) / 2**20)}


def _list_cases(rnd: random.Random, now: int) -> dict[str, Any]:
    """Per filter, a maker of a random query's arguments."""
    def day() -> tuple[int, int]:
        frm = now - rnd.randrange(90 * DAY_MS)
        return frm, frm + DAY_MS

    return {
        "channel+time (1 day)": lambda: dict(zip(("created_from_ms", "created_to_ms"), day(),
                                                  strict=True))
        | {"channel": rnd.choices(CHANNELS, CHANNEL_WEIGHTS)[0]},
        "channel": lambda: {"channel": rnd.choice(CHANNELS)},
        "state CLOSED": lambda: {"state": OrderState.CLOSED},
        "state (open)": lambda: {"state": rnd.choice(OPEN_STATES)},
        "warehouse": lambda: {"warehouse_id": rnd.choice(WAREHOUSES)},
        "none": dict,
    }


async def _time(calls: int, one: Any) -> tuple[list[float], Any]:
    times: list[float] = []
    slowest = None
    for _ in range(calls):
        t0 = time.perf_counter()
        arg = await one()
        dt = time.perf_counter() - t0
        if not times or dt > max(times):
            slowest = arg
        times.append(dt)
    return times, slowest


def _row(name: str, page: str, times: list[float]) -> dict[str, Any]:
    return {"filter": name, "page": page, "calls": len(times),
            "p50_ms": _ms(statistics.median(times)), "p99_ms": _ms(_p99(times))}


def _explain(records: Records, stmt: Any) -> str:
    sql = str(stmt.compile(records.engine, compile_kwargs={"literal_binds": True}))
    with records.engine.connect() as c:
        return "\n".join(r[0] for r in c.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")))


async def list_run(args: argparse.Namespace, redis_url: str, db: str) -> dict[str, Any]:
    app = await start_app(_settings(redis_url, db), background=False)
    try:
        assert app.records is not None and app.orders is not None
        loaded = await asyncio.to_thread(fill, db, args.rows)
        if not args.no_freeze:  # as `reservation serve` does once it serves
            freeze_startup_objects()
        records = Records(app.records)
        reads = OrderReads(app.orders, records)
        now = clock.now_ms()
        rnd = random.Random(11)
        with app.records.connect() as c:
            positions = [(int(r[0]), str(r[1])) for r in c.execute(text(
                "SELECT created_at_ms, ref FROM orders TABLESAMPLE SYSTEM (1) LIMIT 2000"))]
        out: list[dict[str, Any]] = []
        plans: dict[str, str] = {}
        for name, make in _list_cases(rnd, now).items():
            for page in ("first", "deep"):
                async def one(make: Any = make, page: str = page) -> Any:
                    kw = make()
                    if page == "deep":
                        kw["page_token"] = listing.token(rnd.choice(positions))
                    q = listing.Query(page_size=100, **kw)
                    await reads.list_orders(q)
                    return q
                times, slowest = await _time(args.calls, one)
                out.append(_row(name, page, times))
                plans[f"{name} {page}"] = await asyncio.to_thread(
                    _explain, records, _sql_of_list(slowest))
        with app.records.connect() as c:
            buyers = [str(r[0]) for r in c.execute(text(
                "SELECT buyer_hash FROM orders TABLESAMPLE SYSTEM (1) LIMIT 2000"))]
            tracking = [str(r[0]) for r in c.execute(text(
                "SELECT tracking_number FROM order_shipments TABLESAMPLE SYSTEM (1) LIMIT 2000"))]
        for name, kind, values in (("buyer hash", finding.BUYER, buyers),
                                   ("tracking number", finding.TRACKING, tracking)):
            async def find(kind: str = kind, values: list[str] = values) -> Any:
                ask = finding.Ask(kind, rnd.choice(values), finding.PAGE_DEFAULT)
                await reads.find(ask)
                return ask
            times, slowest = await _time(args.calls, find)
            out.append(_row(name, "FindOrders", times))
            plans[f"{name} FindOrders"] = await asyncio.to_thread(
                _explain, records, store_sql.find_query(slowest))
        return {"load": loaded, "calls": out, "plans": plans}
    finally:
        await app.stop(grace=0)


def _sql_of_list(q: listing.Query) -> Any:
    """The store's query for ListOrders' closed orders, as OrderReads asks it."""
    where = Filter(channel=q.channel, state=q.state.value if q.state else "",
                   warehouse=q.warehouse_id, created_from_ms=q.created_from_ms,
                   created_to_ms=(q.created_to_ms - 1 if q.created_to_ms
                                  else listing.FOREVER_MS))
    return store_sql.closed_query(where, listing.cursor(q.page_token),
                                  q.page_size or listing.PAGE_DEFAULT)


# -- hot ------------------------------------------------------------------------------------
async def hot_run(args: argparse.Namespace, redis_url: str, db: str) -> dict[str, Any]:
    app = await start_app(_settings(redis_url, db), background=False)
    try:
        hub = app.orders
        assert app.records is not None and hub is not None
        await app.inventory.load([StockItem(f"SKU-{i:04d}", "WH-A", 1_000_000)
                                  for i in range(SKUS)], "SET")
        cos = [validation.channel_order(o, app.settings)
               for o in raw(args.hot, uuid.uuid4().hex[:6], "PAID")]
        t0 = time.perf_counter()
        for k in range(0, len(cos), 100):
            await hub.sync(cos[k:k + 100])
        synced = time.perf_counter() - t0
        if not args.no_freeze:
            freeze_startup_objects()
        reads = OrderReads(hub, Records(app.records))
        rnd = random.Random(13)
        positions = [(co.created_at_ms, order_ref(*co.key)) for co in rnd.sample(cos, 2000)]
        sample = await hub.get_many([ref for _, ref in positions[:1000]])
        states = Counter(o.state.value for o in sample if o is not None)
        cases = {"none": dict, "channel": lambda: {"channel": rnd.choice(CHANNELS)},
                 "state PAID": lambda: {"state": OrderState.PAID},
                 "warehouse": lambda: {"warehouse_id": "WH-A"},
                 "state SHIPPED": lambda: {"state": OrderState.SHIPPED}}
        out: list[dict[str, Any]] = []
        for name, make in cases.items():
            calls = args.calls // 40 if "SHIPPED" in name else args.calls
            for page in ("first", "deep"):
                async def one(make: Any = make, page: str = page) -> Any:
                    kw = make()
                    if page == "deep":
                        kw["page_token"] = listing.token(rnd.choice(positions))
                    await reads.list_orders(listing.Query(page_size=100, **kw))
                times, _ = await _time(max(1, calls), one)
                out.append(_row(name, page, times))
        return {"load": {"hot": args.hot, "sync_s": round(synced, 1),
                         "states_of_1000": dict(states.most_common())}, "calls": out}
    finally:
        await app.stop(grace=0)


# -- runs -----------------------------------------------------------------------------------
def one_run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, \
            RedisProcess(data_dir=Path(tmp), appendonly=False) as proc, \
            database(args.db, Path(tmp)) as db:
        db = db.replace("postgresql://", "postgresql+psycopg://", 1)
        if args.part == "lag":
            return asyncio.run(lag_run(args, proc.url, db, proc.pid))
        if args.part == "hot":
            return asyncio.run(hot_run(args, proc.url, db))
        return asyncio.run(list_run(args, proc.url, db))


def _median(values: list[Any]) -> Any:
    if all(isinstance(v, (int, float)) for v in values):
        m = statistics.median(values)
        return round(m) if all(isinstance(v, int) for v in values) else round(m, 1)
    return values[0]


def medians(runs: list[dict[str, Any]], part: str) -> dict[str, Any]:
    if part == "lag":
        return {k: _median([r[k] for r in runs]) for k in runs[0]}
    return {"load": {k: _median([r["load"][k] for r in runs]) for k in runs[0]["load"]},
            "calls": [{k: _median([r["calls"][i][k] for r in runs]) for k in row}
                      for i, row in enumerate(runs[0]["calls"])]}


def write(result: dict[str, Any], stem: Path, part: str) -> None:
    meta = result["meta"]
    head = (f"`{meta['command']}` on commit {meta['commit']} ({meta['when']}, "
            f"{meta['machine']}, load {meta['load_start']} -> {meta['load_end']}); "
            f"PostgreSQL. Medians of {len(result['runs'])} runs (each run in the .json).")
    m = result["median"]
    if part == "lag":
        processes = m.get("followers", 1)
        title = m["source"] + ("" if processes == 1 else
                               f", {processes} follower processes on disjoint shard groups")
        lines = [f"# Read model lag ({title})", "", head, "",
                 ("| events | events/s | lag p50 ms | lag p99 ms | lag max ms | "
                 "follower CPU ms / 1000 events | CPU share: follower, postgres, redis, "
                 "producer |"),
                 "|---|---|---|---|---|---|---|",
                 (f"| {m['events']} | {m['events_per_s']} | {m['lag_p50_ms']} | "
                 f"{m['lag_p99_ms']} | {m['lag_max_ms']} | "
                 f"{m['follower_cpu_ms_per_1000_events']} | {m['follower_cpu_share']}, "
                 f"{m.get('postgres_cpu_share', '')}, {m.get('redis_cpu_share', '')}, "
                 f"{m.get('producer_cpu_share', '')} |")]
    else:
        ld = m["load"]
        if part == "hot":
            title = "# ListOrders from Redis (hot orders)"
            loaded = (f"{ld['hot']} PAID orders synced through the hub in {ld['sync_s']} s; "
                      f"the states of 1,000 of them: {ld.get('states_of_1000', '')}.")
        else:
            title = "# ListOrders and FindOrders on the records store"
            loaded = (f"{ld['rows']} orders loaded by COPY in {ld['load_s']} s, ANALYZE "
                      f"{ld['analyze_s']} s, database {ld['db_mb']} MB.")
        lines = [title, "", head, "", loaded, "",
                 "| filter | page | calls | p50 ms | p99 ms |", "|---|---|---|---|---|"]
        lines += [f"| {r['filter']} | {r['page']} | {r['calls']} | {r['p50_ms']} | "
                  f"{r['p99_ms']} |" for r in m["calls"]]
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.records_sql",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("part", choices=("lag", "list", "hot"))
    p.add_argument("--db", required=True, help="a PostgreSQL server's URL: each run gets "
                   "a database of its own there")
    p.add_argument("--rate", type=int, default=5000, help="lag: order events per second")
    p.add_argument("--seconds", type=float, default=10, help="lag: how long it produces")
    p.add_argument("--source", choices=("stream", "hub"), default="stream")
    p.add_argument("--orders", type=int, default=5000,
                   help="lag --source stream: orders synced whose events are copied")
    p.add_argument("--batch", type=int, default=0,
                   help="lag: the follower's entries per pull (0: its default)")
    p.add_argument("--followers", type=int, default=1,
                   help="lag: follower processes, each on its own group of the shards")
    p.add_argument("--rows", type=int, default=1_000_000, help="list: orders loaded")
    p.add_argument("--hot", type=int, default=50_000, help="hot: orders synced into Redis")
    p.add_argument("--calls", type=int, default=200, help="list: calls per filter and page")
    p.add_argument("--no-freeze", action="store_true",
                   help="list, hot: skip gc.freeze() after startup (the service's serve does it)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="results files STEM.json/.md")
    args = p.parse_args(argv)
    stem = args.out or RESULTS.with_name(f"records-sql-{args.part}")
    load_start = os.getloadavg()[0]
    runs: list[dict[str, Any]] = []
    for _ in range(args.runs):
        runs.append(one_run(args))
        result: dict[str, Any] = {"median": medians(runs, args.part), "runs": runs}
        result["meta"] = paths.run_meta("benchmarks.records_sql",
                                        sys.argv[1:] if argv is None else argv, load_start)
        write(result, stem, args.part)
    print(stem.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

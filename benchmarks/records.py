"""The orders of record: what an order costs Redis by age, how far the records store
lags behind the hub, and how fast ListOrders pages orders that live only in SQL.

    python -m benchmarks.records [--orders 100000] [--rate 5000] [--seconds 20]
                                 [--list-rows 1000000] [--db postgresql://...] [--runs 3]

Four parts, each run on a private redis-server (and, with --db postgresql://..., a
database of its own on that server, created for the run and dropped after) and the
service in-process (no gRPC: the figures are the store's, not the transport's); the
results are the medians of --runs runs, each run's figures beside them:

1. Redis bytes per order by age: `used_memory` growth per order while open (PAID),
   once closed within the hot window, and once evicted past it (the evictor's clock
   moved 8 days on); and bytes per order event stream entry (MEMORY USAGE of the streams
   over their entries, before the follower trims them).
2. Read model lag: SyncOrders batches paced at `--rate` events per second for
   `--seconds`, the follower running as in `serve`; per batch the time from the sync's
   answer until the store has its last order at that version (p50, p99).
3. ListOrders over `--list-rows` closed orders that live only in the store, for each
   filter it takes (none, channel, state, warehouse), 200 pages each at random
   positions: p50 and p99 per filter. The rows are written by bulk inserts
   (executemany), not through the hub.
4. SyncOrders throughput before and after the records store, in the same run: orders
   per second the hub syncs (batches of --batch, one at a time) and CPU per order (this
   process and Redis) with no records store (as before it existed), with one and its
   follower stopped (the sync path's own cost) and with its follower running in this
   process, alternated (benchmarks.records_sync splits the follower's CPU further).

Writes benchmarks/results/records.{json,md} (or --out STEM). Run it alone (the CPU lock,
exclusively): the figures are times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from benchmarks import paths
from reservation import clock
from reservation.domain.models import StockItem
from reservation.ordersync import codec, listing, validation
from reservation.ordersync.model import Address, Line, Order, RawOrder
from reservation.ordersync.states import OrderState
from reservation.records.eviction import Evictor
from reservation.records.reads import OrderReads
from reservation.records.schema import orders as orders_table
from reservation.records.store import Records
from reservation.server.app import App, start_app
from reservation.settings import Settings
from reservation.storage import keys
from reservation.storage.orders import order_ref
from reservation.storage.redis_process import RedisProcess

RESULTS = paths.ROOT / "benchmarks" / "results" / "records"
CHANNELS = ("taobao", "jd", "pdd", "douyin", "wechat", "pos")
SKUS = 64
DAY_MS = 24 * 3600 * 1000


def raw(n: int, tag: str, state: str) -> list[RawOrder]:
    now = clock.now_ms()
    return [RawOrder(channel=CHANNELS[i % len(CHANNELS)], shop="shop-1",
                     order_id=f"{tag}-{i:07d}", state=state, raw_status=state.lower(),
                     modified_at_ms=now - 1000, created_at_ms=now - 60_000 + i % 50_000,
                     receiver_phone=f"139{i:08d}",
                     address=Address("Zhejiang", "Hangzhou", "Xihu", f"{i} West Lake Rd"),
                     lines=(Line(f"SKU-{i % SKUS:04d}", 1, 1999),), total_cents=1999)
            for i in range(n)]


async def _used(app: App) -> int:
    return int((await app.store.client.info("memory"))["used_memory"])


async def _streams(app: App) -> int:
    """MEMORY USAGE of every shard's write-back and order event stream."""
    client, total = app.store.client, 0
    for shard in range(app.settings.shards):
        for stream in (keys.write_back(shard), keys.write_back(shard, keys.ORDER_EVENTS)):
            total += int(await client.memory_usage(stream, samples=0) or 0)
    return total


async def _expire_within(app: App, ms: int) -> int:
    """Delete every key whose time to live ends within `ms`: what Redis will have
    expired by then (the benchmark cannot wait a day). How many it deleted."""
    client, gone = app.store.client, 0
    async for key in client.scan_iter(count=10_000):
        if 0 <= int(await client.pttl(key)) <= ms:
            gone += int(await client.delete(key))
    return gone


async def memory(app: App, n: int, batch: int) -> dict[str, Any]:
    hub, follower = app.orders, app.follower
    assert hub is not None and follower is not None and app.records is not None
    base, streams_base = await _used(app), await _streams(app)
    tag = uuid.uuid4().hex[:6]
    cos = [validation.channel_order(o, app.settings) for o in raw(n, tag, "PAID")]
    for k in range(0, n, batch):
        await hub.sync(cos[k:k + batch])
    open_b = (await _used(app) - base) / n
    for to in (OrderState.CANCELLED, OrderState.CLOSED):
        for k in range(0, n, batch):
            await asyncio.gather(*(hub.transition(co.channel, co.shop, co.order_id, to,
                                                  "operator:bench", "bench")
                                   for co in cos[k:k + batch]))
    entries = sizes = 0
    for shard in range(app.settings.shards):
        stream = follower.streams.stream(shard)
        entries += int(await app.store.client.xlen(stream))
        sizes += int(await app.store.client.memory_usage(stream, samples=0) or 0)
    await follower.catch_up()
    closed_b = (await _used(app) - base) / n
    later = Evictor(hub, Records(app.records), clock=lambda: clock.now_ms() + 8 * DAY_MS)
    await later.evict_all()
    used, streams = await _used(app), await _streams(app) - streams_base
    left = await leftovers(app, cos[:200])
    # A day after eviction: the record's grace and the duplicate-suspicion entries (4 h)
    # are over; only the keys that live out the resend horizon remain.
    await _expire_within(app, DAY_MS)
    day = await _used(app) - base - (await _streams(app) - streams_base)
    return {"orders": n, "open_bytes": round(open_b), "closed_in_window_bytes": round(closed_b),
            "past_window_bytes": round((used - base) / n),
            "past_window_keys_bytes": round((used - base - streams) / n),
            "past_window_day_bytes": round(day / n),
            "streams_per_order_bytes": round(streams / n),
            "stream_entry_bytes": round(sizes / entries) if entries else 0, **left}


async def leftovers(app: App, sample: list[Any]) -> dict[str, Any]:
    """What evicted orders still have in Redis: the kinds of key left of a sample of them
    (their ids in the key) plus the duplicate-suspicion entries, and the longest time
    any of them has to live. Every key having a TTL within the resend horizon is what
    makes an evicted order cost 0 bytes after it."""
    client = app.store.client
    ids = {co.order_id for co in sample}
    found: list[str] = []
    dups: list[str] = []
    shared: list[str] = []  # the evicted orders' locator buckets, every order's fields
    async for key in client.scan_iter(count=10_000):
        if key.rsplit("/", 1)[-1].rsplit(":", 1)[-1] in ids:
            found.append(key)
        elif ":odup:" in key and len(dups) < len(ids):
            dups.append(key)
        elif ":ogone:" in key:
            shared.append(key)
    found += dups
    kinds = sorted({_kind(k) for k in found + shared})
    ttls = [int(await client.pttl(k)) for k in found + shared]
    per_kind = dict.fromkeys(kinds, 0.0)
    for k in found:
        per_kind[_kind(k)] += int(await client.memory_usage(k, samples=0) or 0) / len(ids)
    fields = sum([int(await client.hlen(k)) for k in shared])
    for k in shared:  # per field: one per evicted order
        per_kind[_kind(k)] += int(await client.memory_usage(k, samples=0) or 0) / fields
    return {"evicted_keys": kinds,
            "evicted_bytes_by_key": {k: round(v) for k, v in per_kind.items()},
            "streams_bytes_after": await _streams(app),
            "evicted_max_ttl_days": round(max(ttls) / DAY_MS, 1) if ttls else 0,
            "evicted_keys_without_ttl": sum(1 for t in ttls if t < 0)}


MEMORY_RESULTS = paths.ROOT / "benchmarks" / "results" / "records-memory"


async def memory_only(args: argparse.Namespace, redis_url: str, db: str) -> dict[str, Any]:
    settings = Settings(redis_url=redis_url, records_url=db, port=0, order_event_groups="")
    app = await start_app(settings, background=False)
    try:
        await app.inventory.load([StockItem(f"SKU-{i:04d}", "WH-A", 1_000_000)
                                  for i in range(SKUS)], "SET")
        return await memory(app, args.orders, args.batch)
    finally:
        await app.stop(grace=0)


def memory_series(args: argparse.Namespace, argv: list[str]) -> int:
    """--memory-only LABEL: the memory part alone, --runs times; its medians are kept
    under LABEL in MEMORY_RESULTS (.json), beside the labels run before (on other
    commits), and the .md tabulates them all."""
    load_start = os.getloadavg()[0]
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp, \
                RedisProcess(data_dir=Path(tmp), appendonly=False) as proc, \
                database(args.db, Path(tmp)) as db:
            runs.append(asyncio.run(memory_only(args, proc.url, db)))
    stem = args.out if args.out != RESULTS else MEMORY_RESULTS
    path = stem.with_suffix(".json")
    series = json.loads(path.read_text())["series"] if path.exists() else {}
    series[args.memory_only] = {
        "memory": {k: _median([r[k] for r in runs]) for k in runs[0]}, "runs": runs,
        "meta": paths.run_meta("benchmarks.records", argv, load_start),
        "db": "postgresql" if args.db else "sqlite"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"series": series}, indent=2) + "\n")
    rows = [("open (PAID)", "open_bytes"), ("closed, within the hot window",
                                           "closed_in_window_bytes"),
            ("evicted, right after (all of Redis)", "past_window_bytes"),
            ("evicted, right after, without the streams", "past_window_keys_bytes"),
            (("evicted, a day after (the keys due within a day expired), without the "
             "streams"), "past_window_day_bytes"),
            ("the streams' share after eviction", "streams_per_order_bytes"),
            ("per order event stream entry", "stream_entry_bytes")]
    labels = list(series)
    lines = ["# Redis memory per order past the hot window", "",
             ("Medians of each series' runs (every run in the .json); bytes per order of "
             "`used_memory` growth over the orders of a run, except the stream entry "
             "(MEMORY USAGE over entries)."), ""]
    lines += [f"- **{label}**: `{m['meta']['command']}` on commit {m['meta']['commit']} "
              f"({m['meta']['when']}, {m['meta']['machine']}, load {m['meta']['load_start']}"
              f" -> {m['meta']['load_end']}); records store: {m['db']}, "
              f"{m['memory']['orders']} orders, {len(m['runs'])} runs"
              for label, m in series.items()]
    lines += ["", "| bytes per order | " + " | ".join(labels) + " |",
              "|---|" + "---|" * len(labels)]
    lines += [f"| {name} | " + " | ".join(str(series[label]["memory"].get(field, "-"))
                                          for label in labels) + " |"
              for name, field in rows]
    lines += ["", ("What an evicted order's keys still hold right after eviction, MEMORY "
              "USAGE by kind per evicted order (odup, ogone: shared keys, per order):"), ""]
    lines += [f"- {label}: {series[label]['memory']['evicted_bytes_by_key']}; longest TTL "
              f"{series[label]['memory']['evicted_max_ttl_days']} days, "
              f"{series[label]['memory']['evicted_keys_without_ttl']} keys without one"
              for label in labels]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(stem.with_suffix(".md").read_text())
    return 0


def _kind(key: str) -> str:
    """`rsv:{N}:<kind>:...` -> kind."""
    return key.split(":", 2)[2].split(":", 1)[0]


async def lag(app: App, rate: int, seconds: float, batch: int) -> dict[str, Any]:
    hub, follower = app.orders, app.follower
    assert hub is not None and follower is not None and app.records is not None
    records = Records(app.records)
    task = asyncio.create_task(follower.run())
    tag = uuid.uuid4().hex[:6]
    n = max(batch, int(rate * seconds))
    cos = [validation.channel_order(o, app.settings) for o in raw(n, tag, "PAID")]
    lags: list[float] = []
    events = 0
    start = time.perf_counter()
    try:
        for k in range(0, n, batch):
            results = await hub.sync(cos[k:k + batch])
            done = time.perf_counter()
            last = results[-1].order
            assert last is not None
            events += sum(r.order.version for r in results if r.order is not None)
            ref = order_ref(*last.key)
            while True:
                row = await asyncio.to_thread(records.get, ref)
                if row is not None and row[0].version >= last.version:
                    break
                await asyncio.sleep(0.002)
            lags.append(time.perf_counter() - done)
            ahead = start + events / rate - time.perf_counter()
            if ahead > 0:
                await asyncio.sleep(ahead)
    finally:
        task.cancel()
    took = time.perf_counter() - start
    return {"events": events, "events_per_s": round(events / took),
            "lag_p50_ms": round(statistics.median(lags) * 1000, 1),
            "lag_p99_ms": round(_p99(lags) * 1000, 1), "batches": len(lags)}


async def throughput(app: App, plain: App, n: int, batch: int,
                     where: tuple[str, str, int | None]) -> dict[str, Any]:
    """SyncOrders without a records store (`plain`, as before it), with one and its
    follower stopped (the sync path's own cost) and with its follower running in this
    process (as `serve` runs it), alternated in three rounds: the medians of orders/s and
    of CPU per order over the sync (this process and Redis; benchmarks.records_sync)."""
    from benchmarks.records_sync import Run, measure

    run = Run(plain, app, *where)  # where: the run's Redis URL, store URL, Redis pid
    out: dict[str, Any] = {"orders": n}
    configs = {"before": "none", "store_only": "store, no follower",
               "after": "store, follower in process"}
    rounds = [{k: await measure(run, c, n, batch) for k, c in configs.items()}
              for _ in range(3)]
    for k in configs:
        out[f"{k}_per_s"] = round(statistics.median(r[k]["orders_per_s"] for r in rounds))
        out[f"{k}_cpu_us"] = round(statistics.median(r[k]["sync_cpu_us"] for r in rounds))
    return out


def _p99(xs: list[float]) -> float:
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * 0.99))]


def fill(records: Records, rows: int) -> None:
    """`rows` closed orders that left Redis, created over 30 days, in the store only."""
    now = clock.now_ms()
    rnd = random.Random(7)
    states = (OrderState.CLOSED,)
    chunk = []
    for i in range(rows):
        created = now - rnd.randrange(30 * DAY_MS)
        channel = CHANNELS[i % len(CHANNELS)]
        wh = f"WH-{rnd.randrange(20):02d}"
        o = Order(channel=channel, shop="shop-1", order_id=f"L-{i:08d}", state=states[0],
                  version=4, channel_state=states[0], raw_status="closed",
                  modified_at_ms=created, created_at_ms=created, buyer_hash=f"b{i % 50_000}",
                  address=Address("Zhejiang", "Hangzhou", "Xihu", f"{i} Rd"),
                  lines=(Line(f"SKU-{i % SKUS:04d}", 1, 1999),), total_cents=1999,
                  paid_cents=1999, updated_at_ms=created + 1, warehouses=(wh,))
        chunk.append({"ref": order_ref(channel, "shop-1", o.order_id), "channel": channel,
                      "shop": "shop-1", "order_id": o.order_id, "state": "CLOSED",
                      "version": 4, "buyer_hash": o.buyer_hash, "total_cents": 1999,
                      "paid_cents": 1999, "warehouse": wh, "warehouses": wh,
                      "reservation_state": "RELEASED", "review_state": "",
                      "created_at_ms": created, "updated_at_ms": created + 1,
                      "closed_at_ms": created + 1, "evicted_at_ms": now, "events": 4,
                      "doc": codec.encode(o)})
        if len(chunk) == 5000 or i == rows - 1:
            with records.engine.begin() as c:
                c.execute(insert(orders_table), chunk)
            chunk = []


async def list_pages(app: App, rows: int, pages: int = 200) -> list[dict[str, Any]]:
    hub = app.orders
    assert hub is not None and app.records is not None
    records = Records(app.records)
    await asyncio.to_thread(fill, records, rows)
    reads = OrderReads(hub, records)
    now = clock.now_ms()
    out = []
    rnd = random.Random(11)
    for name, where in (("none", {}), ("channel", {"channel": "jd"}),
                        ("state", {"state": OrderState.CLOSED}),
                        ("warehouse", {"warehouse_id": "WH-07"})):
        times = []
        for _ in range(pages):
            frm = now - rnd.randrange(30 * DAY_MS)
            t0 = time.perf_counter()
            page = await reads.list_orders(listing.Query(created_from_ms=frm,
                                                         page_size=100, **where))
            times.append(time.perf_counter() - t0)
            assert page.orders or not page.next_token
        out.append({"filter": name, "rows": rows, "p50_ms": round(statistics.median(times)
                                                                 * 1000, 1),
                    "p99_ms": round(_p99(times) * 1000, 1)})
    return out


async def main_async(args: argparse.Namespace, redis_url: str, db: str,
                     redis_pid: int | None = None) -> dict[str, Any]:
    settings = Settings(redis_url=redis_url, records_url=db, port=0, order_event_groups="")
    app = await start_app(settings, background=False)
    plain = None
    try:
        assert app.records is not None
        await app.inventory.load([StockItem(f"SKU-{i:04d}", "WH-A", 1_000_000)
                                  for i in range(SKUS)], "SET")
        result: dict[str, Any] = {"memory": await memory(app, args.orders, args.batch),
                  "lag": await lag(app, args.rate, args.seconds, args.batch)}
        plain = await start_app(Settings(redis_url=redis_url, port=0, order_event_groups=""),
                                background=False)
        result["sync"] = await throughput(app, plain, args.sync_orders, args.batch,
                                          (redis_url, db, redis_pid))
        result["list"] = await list_pages(app, args.list_rows) if args.list_rows else []
        return result
    finally:
        if plain is not None:
            await plain.stop(grace=0)
        await app.stop(grace=0)


@contextmanager
def database(url: str, tmp: Path) -> Iterator[str]:
    """The run's records store: SQLite in `tmp`, or a new database on the PostgreSQL
    server `url` names, dropped after the run."""
    if not url:
        yield f"sqlite:///{tmp / 'records.sqlite3'}"
        return
    import psycopg

    name = f"bench_records_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(f"DROP DATABASE {name} WITH (FORCE)")


def one_run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, \
            RedisProcess(data_dir=Path(tmp), appendonly=False) as proc, \
            database(args.db, Path(tmp)) as db:
        return asyncio.run(main_async(args, proc.url, db, proc.pid))


def _median(values: list[Any]) -> Any:
    if all(isinstance(v, dict) for v in values):
        return {k: _median([v.get(k, 0) for v in values]) for k in values[0]}
    if all(isinstance(v, (int, float)) for v in values):
        m = statistics.median(values)
        return round(m, 1) if isinstance(m, float) and not m.is_integer() else round(m)
    return values[0]


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over the runs (lists of per-filter rows likewise)."""
    out: dict[str, Any] = {}
    for part in ("memory", "lag", "sync"):
        out[part] = {k: _median([r[part][k] for r in runs]) for k in runs[0][part]}
    out["list"] = [{k: _median([r["list"][i][k] for r in runs]) for k in row}
                   for i, row in enumerate(runs[0]["list"])]
    return out


def write(result: dict[str, Any], stem: Path) -> None:
    m, lg, sy = result["memory"], result["lag"], result["sync"]
    meta = result["meta"]
    runs = result["runs"]
    header = (f"`{meta['command']}` on commit {meta['commit']} ({meta['when']}, "
              f"{meta['machine']}, load {meta['load_start']} -> {meta['load_end']}); "
              f"records store: {result['db']}. Medians of {len(runs)} runs "
              f"(each run's figures in the .json).")
    lag_line = (f"Read model lag at {lg['events_per_s']} order events/s ({lg['events']} "
                f"events, {lg['batches']} batches): p50 {lg['lag_p50_ms']} ms, p99 "
                f"{lg['lag_p99_ms']} ms.")
    lines = ["# Orders of record", "", header, "",
             "| Redis bytes per order | value |", "|---|---|",
             f"| open (PAID) | {m['open_bytes']} |",
             f"| closed, within the hot window | {m['closed_in_window_bytes']} |",
             f"| closed, past the window (evicted) | {m['past_window_bytes']} |",
             f"| per order event stream entry | {m['stream_entry_bytes']} |", "",
             (f"An evicted order's keys in Redis: {', '.join(m['evicted_keys'])}; the "
              f"longest time to live among them {m['evicted_max_ttl_days']} days, "
              f"{m['evicted_keys_without_ttl']} without one. MEMORY USAGE of those keys "
              f"per evicted order, by kind: {m['evicted_bytes_by_key']} (odup: per "
              f"order of the sample; all streams after eviction: "
              f"{m['streams_bytes_after']} B)."), "",
             lag_line, "",
             (f"SyncOrders ({sy['orders']} orders per round, batches of one call at a "
              f"time; server CPU per order over the sync, this process and Redis): "
              f"{sy['before_per_s']} orders/s and {sy['before_cpu_us']} us without a "
              f"records store, {sy['store_only_per_s']} orders/s and "
              f"{sy['store_only_cpu_us']} us with one and its follower stopped (the "
              f"sync path's own cost), {sy['after_per_s']} orders/s and "
              f"{sy['after_cpu_us']} us with its follower running in this process."), "",
             "| ListOrders filter | orders in the store | p50 ms | p99 ms |", "|---|---|---|---|"]
    lines += [f"| {r['filter']} | {r['rows']} | {r['p50_ms']} | {r['p99_ms']} |"
              for r in result["list"]]
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.records",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--rate", type=int, default=5000, help="order events per second")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--list-rows", type=int, default=1_000_000,
                   help="orders in the store for the ListOrders part; 0: no such part")
    p.add_argument("--sync-orders", type=int, default=10_000,
                   help="orders per SyncOrders throughput round")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--db", default="", help="a PostgreSQL server's URL: each run gets a "
                   "database of its own there (default: SQLite in a temporary directory)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results files STEM.json/.md")
    p.add_argument("--memory-only", metavar="LABEL", default="", help="only the memory "
                   "part, kept under LABEL in records-memory.json (or --out) beside other "
                   "labels")
    args = p.parse_args(argv)
    if args.memory_only:
        return memory_series(args, sys.argv[1:] if argv is None else argv)
    load_start = os.getloadavg()[0]
    runs: list[dict[str, Any]] = []
    for _ in range(args.runs):
        runs.append(one_run(args))
        # Written after every run: an interrupted series keeps the runs it finished.
        result = {**medians(runs), "runs": runs}
        result["meta"] = paths.run_meta("benchmarks.records",
                                        sys.argv[1:] if argv is None else argv, load_start)
        result["db"] = "postgresql" if args.db else "sqlite"
        write(result, args.out)
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

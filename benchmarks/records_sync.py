"""What SyncOrders costs with and without a records store, and where the difference goes.

    python -m benchmarks.records_sync [--db postgresql://...] [--orders 3000] [--runs 3]
                                      [--profile STEM]

benchmarks.records part 4 times SyncOrders with a records store and its follower running
in the same process as the hub, on the 2 cores the follower, PostgreSQL and Redis share
with it, so its ratio mixes two things: (a) what a configured store adds to the sync
path itself (the order event stream's entries the follower reads) and (b) the follower's
own work competing for the CPU. This benchmark separates them. Each run has one
redis-server (and one database of its own on the --db server, or SQLite) and alternates
four configurations, each syncing --orders new PAID orders in batches of --batch
(OrderHub.sync in process, one call at a time):

- `none`: no records store (as before it existed);
- `store, no follower`: a store configured, its follower stopped: the sync path's own
  cost (the stream entries written, nothing reading them; the follower then catches up
  outside the measured window);
- `store, follower in process`: the follower as `serve` runs it, a task of the hub's
  process (benchmarks.records' configuration);
- `store, follower apart`: the follower alone in a process of its own (as
  benchmarks.records_sql's lag part runs it).

Per configuration: orders/s over the sync, the server-side CPU per order over the sync
(this process, which is the hub and with the in-process follower the follower too, plus
Redis, from /proc), and until the store has every entry (drained): CPU per order of this
process, Redis, the follower process and PostgreSQL (the server's process tree; 0 with
SQLite, which runs in the follower's process). Results: STEM.{json,md} (default
benchmarks/results/records-sync-cpu), medians of the runs, each run in the .json.
With --profile STEM, one extra run per configuration under pyinstrument (the hub's
process; figures from it are not the benchmark's) written to STEM-<config>.txt.
Run it alone (the exclusive benchmark gate): the figures are times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks import cpu as cpu_meter
from benchmarks import paths
from benchmarks.records import SKUS, database, raw
from benchmarks.records_sql import _follow, _postmaster
from reservation.domain.models import StockItem
from reservation.ordersync import validation
from reservation.ordersync.model import ChannelOrder
from reservation.records.store import START, Records
from reservation.server.app import App, start_app
from reservation.settings import Settings
from reservation.storage.records import lease_key
from reservation.storage.redis_process import RedisProcess

RESULTS = paths.ROOT / "benchmarks" / "results" / "records-sync-cpu"
CONFIGS = ("none", "store, no follower", "store, follower in process",
           "store, follower apart")


def _entry(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Run:
    """One run's Redis, store and the two apps: `plain` without a store, `app` with one."""

    def __init__(self, plain: App, app: App, redis_url: str, db: str,
                 redis_pid: int | None) -> None:
        self.plain, self.app, self.redis_url, self.db = plain, app, redis_url, db
        assert app.records is not None and app.follower is not None
        self.records = Records(app.records)
        self.follower = app.follower
        self.redis = [redis_pid] if redis_pid else []
        self.postgres = [_postmaster(self.records)] if db.startswith("postgresql") else []

    async def _heads(self) -> dict[int, str]:
        """The newest entry of every shard's order event stream."""
        client, out = self.app.store.client, {}
        for shard in self.follower.shards:
            last = await client.xrevrange(self.follower.streams.stream(shard), count=1)
            if last:
                out[shard] = last[0][0]
        return out

    async def drained(self) -> None:
        """Wait until the store's cursors reach the streams' heads as they are now (one
        SQL query per poll: the wait itself costs this process little)."""
        heads = await self._heads()
        while True:
            have = await asyncio.to_thread(self.records.cursors)
            if all(_entry(have.get(s, START)) >= _entry(h) for s, h in heads.items()):
                return
            await asyncio.sleep(0.01)

    def cpu(self) -> dict[str, float]:
        return {"service": cpu_meter.process(os.getpid()),
                "redis": cpu_meter.tree(self.redis), "postgres": cpu_meter.tree(self.postgres)}


def _orders(app: App, n: int) -> list[ChannelOrder]:
    """`n` new PAID orders, as SyncOrders has them after validation."""
    return [validation.channel_order(o, app.settings)
            for o in raw(n, uuid.uuid4().hex[:6], "PAID")]


async def _sync(app: App, cos: list[ChannelOrder], batch: int) -> tuple[int, float]:
    """Sync the orders in batches, one call at a time: (order events, seconds)."""
    hub = app.orders
    assert hub is not None
    events = 0
    start = time.perf_counter()
    for k in range(0, len(cos), batch):
        results = await hub.sync(cos[k:k + batch])
        events += sum(r.order.version for r in results if r.order is not None)
    return events, time.perf_counter() - start


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel the follower's task until it ends. One cancel ends Follower.run now; in
    one run before it did not (it went on renewing its lease): Python 3.11's wait_for,
    around redis-py's every send, drops a cancel that arrives as the send finishes
    (Follower.run now checks Task.cancelling(); tests/records/test_follower_cancel.py).
    The loop stays as a guard: a benchmark must not hang on what it does not measure."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=1)


async def measure(run: Run, config: str, n: int, batch: int,
                  around: Callable[[Awaitable[Any]], Awaitable[Any]] | None = None
                  ) -> dict[str, Any]:
    """One configuration's figures (see the module's doc)."""
    app = run.plain if config == "none" else run.app
    task = child = None
    if config == "store, follower in process":
        task = asyncio.create_task(run.follower.run())
    elif config == "store, follower apart":
        ready = multiprocessing.get_context("spawn").Event()
        child = multiprocessing.get_context("spawn").Process(
            target=_follow, args=(run.redis_url, run.db, ready, 0), daemon=True)
        child.start()
        if not await asyncio.to_thread(ready.wait, 60):
            raise RuntimeError("the follower process did not start")
    pid = child.pid if child is not None and child.pid is not None else 0
    cos = _orders(app, n)  # made before the window: the channels' adapters' work
    try:
        c0, f0 = run.cpu(), cpu_meter.process(pid) if pid else 0.0
        work = _sync(app, cos, batch)
        events, took = await (around(work) if around else work)
        c1 = run.cpu()
        if task is not None or child is not None:
            await run.drained()
        c2, f2 = run.cpu(), cpu_meter.process(pid) if pid else 0.0
    finally:
        if task is not None:
            await _stop(task)
        if child is not None:
            child.kill()
            child.join()
        # A stopped follower's lease would keep the next one waiting LEASE_MS.
        await run.app.store.client.delete(lease_key())
    if config == "store, no follower":
        await run.follower.catch_up()  # outside the window: the next starts drained

    def us(seconds: float) -> float:
        return round(seconds / n * 1e6, 1)

    return {"config": config, "orders": n, "events": events,
            "orders_per_s": round(n / took),
            "sync_service_us": us(c1["service"] - c0["service"]),
            "sync_redis_us": us(c1["redis"] - c0["redis"]),
            "sync_cpu_us": us(c1["service"] - c0["service"] + c1["redis"] - c0["redis"]),
            "drained_service_us": us(c2["service"] - c0["service"]),
            "drained_redis_us": us(c2["redis"] - c0["redis"]),
            "drained_follower_us": us(f2 - f0),
            "drained_postgres_us": us(c2["postgres"] - c0["postgres"]),
            "drained_cpu_us": us(sum(c2[k] - c0[k] for k in c2) + f2 - f0)}


async def with_apps(redis_url: str, db: str, redis_pid: int | None,
                    body: Callable[[Run], Awaitable[Any]]) -> Any:
    app = await start_app(Settings(redis_url=redis_url, records_url=db, port=0,
                                   order_event_groups=""), background=False)
    plain = None
    try:
        await app.inventory.load([StockItem(f"SKU-{i:04d}", "WH-A", 1_000_000)
                                  for i in range(SKUS)], "SET")
        plain = await start_app(Settings(redis_url=redis_url, port=0, order_event_groups=""),
                                background=False)
        run = Run(plain, app, redis_url, db, redis_pid)
        await _sync(app, _orders(app, 200), 100)  # warm: scripts loaded, the store's tables in cache
        await run.follower.catch_up()
        return await body(run)
    finally:
        if plain is not None:
            await plain.stop(grace=0)
        await app.stop(grace=0)


def one_run(args: argparse.Namespace, order: list[str],
            body: Callable[[Run], Awaitable[Any]] | None = None) -> Any:
    async def configs(run: Run) -> list[dict[str, Any]]:
        return [await measure(run, c, args.orders, args.batch) for c in order]

    with tempfile.TemporaryDirectory() as tmp, \
            RedisProcess(data_dir=Path(tmp), appendonly=False) as proc, \
            database(args.db, Path(tmp)) as db:
        return asyncio.run(with_apps(proc.url, db, proc.pid, body or configs))


def _profiled(args: argparse.Namespace, config: str) -> str:
    """One run of `config` with pyinstrument around its sync; the profile's text."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")

    async def around(work: Awaitable[Any]) -> Any:
        profiler.start()
        try:
            return await work
        finally:
            profiler.stop()

    async def body(run: Run) -> dict[str, Any]:
        return await measure(run, config, args.orders, args.batch, around)

    one_run(args, [], body)
    return paths.scrub(profiler.output_text(unicode=False, color=False, show_all=False))


def profile(args: argparse.Namespace) -> None:
    """One run per configuration under pyinstrument, STEM-<n>.txt each (n: the
    configuration's position in CONFIGS)."""
    for i, config in enumerate(CONFIGS):
        out = args.profile.parent / f"{args.profile.name}-{i}.txt"
        out.write_text(f"# {config}\n\n" + _profiled(args, config))


FIELDS = (("orders/s", "orders_per_s"), ("sync: CPU us/order (hub process + Redis)",
                                         "sync_cpu_us"),
          ("sync: hub process", "sync_service_us"), ("sync: Redis", "sync_redis_us"),
          ("until drained: all CPU us/order", "drained_cpu_us"),
          ("until drained: hub process", "drained_service_us"),
          ("until drained: Redis", "drained_redis_us"),
          ("until drained: follower process", "drained_follower_us"),
          ("until drained: PostgreSQL", "drained_postgres_us"))


def write(result: dict[str, Any], stem: Path) -> None:
    meta, med = result["meta"], result["medians"]
    lines = ["# SyncOrders with and without a records store: throughput and CPU per order",
             "", (f"`{meta['command']}` on commit {meta['commit']} ({meta['when']}, "
                  f"{meta['machine']}, load {meta['load_start']} -> {meta['load_end']}); "
                  f"records store: {result['db']}. Medians of {len(result['runs'])} runs, "
                  "the configurations alternated in each (each run in the .json). CPU in "
                  "us per order synced, from /proc; `sync`: over the sync alone; `until "
                  "drained`: until the store has every entry."), "",
             "| figure | " + " | ".join(CONFIGS) + " |", "|---|" + "---|" * len(CONFIGS)]
    lines += [f"| {name} | " + " | ".join(str(med[c][key]) for c in CONFIGS) + " |"
              for name, key in FIELDS]
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.records_sync",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=3000, help="orders per configuration")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--db", default="", help="a PostgreSQL server's URL: each run gets a "
                   "database of its own there (default: SQLite in a temporary directory)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results files STEM.json/.md")
    p.add_argument("--profile", type=Path, default=None, metavar="STEM",
                   help="profile each configuration instead (STEM-<n>.txt)")
    args = p.parse_args(argv)
    if args.profile is not None:
        profile(args)
        return 0
    load_start = os.getloadavg()[0]
    runs: list[list[dict[str, Any]]] = []
    for k in range(args.runs):
        order = list(CONFIGS[k % len(CONFIGS):] + CONFIGS[:k % len(CONFIGS)])
        runs.append(one_run(args, order))
        by = [{r["config"]: r for r in run} for run in runs]
        medians = {c: {key: statistics.median(b[c][key] for b in by) for _, key in FIELDS}
                   for c in CONFIGS}
        write({"medians": medians, "runs": runs, "db": "postgresql" if args.db else "sqlite",
               "meta": paths.run_meta("benchmarks.records_sync",
                                      sys.argv[1:] if argv is None else argv, load_start)},
              args.out)
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

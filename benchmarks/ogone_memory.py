"""Redis bytes per evicted order at steady state: the `ogone` locator buckets as full as
the channels' resend horizon keeps them.

    python -m benchmarks.ogone_memory [--per-day 50000,100000,150000]
                                      [--listpack-entries 128,512] [--sample-shards 2]
                                      [--runs 3] [--out STEM]

Past the hot window an evicted order keeps one field in a shared hash,
`rsv:{H}:ogone:<bucket>` (_oloc.lua), until its locator would have expired. At steady
state a bucket holds every order evicted into it over the field's life, the order
retention less the hot window (83 days by default), so at 100,000 evictions a day about
100,000 x 83 / (64 shards x 1024 buckets) = 127 fields: around Redis's
`hash-max-listpack-entries` (128 by default), past which a bucket is a hashtable. A
one-day measurement (benchmarks.records) sees about 1.5 fields a bucket.

For each evictions-a-day figure and each `hash-max-listpack-entries` (CONFIG SET on a
private redis-server) this fills the buckets of `--sample-shards` of the shards with
what the horizon holds, through the service's own code: each order's locator string
(`rsv:{H}:oloc:<ref>`, TTL the field's life) and then OrderStore.evict_locator, the
script eviction runs (order_locator.lua). The number of fields a bucket holds depends
only on the orders a day, the shard count and the bucket count, not on how many shards
are filled, so a sample of shards is each bucket's steady state at a fraction of the
time. Refs are as channels send them (19-digit order ids). Measured: `used_memory`
growth per field, and per bucket OBJECT ENCODING, HLEN and MEMORY USAGE (SAMPLES 0),
bytes per field by encoding. Memory is a count, not a time: run it under the test gate.

Writes benchmarks/results/ogone-memory.{json,md} (or --out STEM): medians of --runs runs.
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
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from benchmarks import paths
from benchmarks.records import CHANNELS, DAY_MS
from reservation.settings import Settings
from reservation.storage import keys
from reservation.storage.orders import OrderStore, locator, order_ref
from reservation.storage.redis_process import RedisProcess
from reservation.storage.store import Store

RESULTS = paths.ROOT / "benchmarks" / "results" / "ogone-memory"
BUCKETS = 1024  # _oloc.lua OGONE_BUCKETS
CHUNK = 2000  # evictions in flight at once (the coalescer pipelines them)


def field_life_ms(settings: Settings) -> int:
    """How long an evicted order's field lives: its locator's TTL, renewed by the
    order's last change (its close), less the hot window it stayed in Redis after."""
    return settings.order_retention_ms - settings.order_hot_window_ms


def refs_in_sample(per_day: int, settings: Settings, sample: int, seed: int) -> list[str]:
    """The refs of the orders the horizon holds (per_day times the field's life in
    days) whose home shard is one of the first `sample` shards."""
    rng = random.Random(seed)
    total = round(per_day * field_life_ms(settings) / DAY_MS)
    out = []
    for i in range(total):
        ref = order_ref(CHANNELS[i % len(CHANNELS)], f"shop-{i % 50}",
                        str(rng.randrange(10**18, 10**19)))
        if keys.shard_of(ref, settings.shards) < sample:
            out.append(ref)
    return out


async def fill(orders: OrderStore, client: aioredis.Redis, refs: list[str]) -> None:
    """Each order's locator, then its eviction into its bucket, as the evictor does
    (the record's shard is the home shard: it does not change the field's size)."""
    settings = orders.settings
    life = field_life_ms(settings)
    for start in range(0, len(refs), CHUNK):
        chunk = refs[start:start + CHUNK]
        async with client.pipeline(transaction=False) as pipe:
            for ref in chunk:
                pipe.set(locator(ref, settings.shards), keys.shard_of(ref, settings.shards),
                         px=life)
            await pipe.execute()
        moved = await asyncio.gather(*(orders.evict_locator(
            ref, keys.shard_of(ref, settings.shards)) for ref in chunk))
        if any(m != "moved" for m in moved):
            raise RuntimeError(f"evict_locator did not move every locator: {set(moved)}")


async def buckets(client: aioredis.Redis, sample: int) -> dict[str, dict[str, int]]:
    """Per encoding: buckets, fields and MEMORY USAGE bytes of the sample's buckets."""
    names = []
    for shard in range(sample):
        names += [name async for name in client.scan_iter(
            match=f"{keys.prefix(shard)}ogone:*", count=1000)]
    async with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.object("encoding", name)
            pipe.hlen(name)
            pipe.memory_usage(name, samples=0)
        replies = await pipe.execute()
    out: dict[str, dict[str, int]] = {}
    for i in range(0, len(replies), 3):
        enc, n, size = replies[i:i + 3]
        row = out.setdefault(enc, {"buckets": 0, "fields": 0, "bytes": 0})
        row["buckets"] += 1
        row["fields"] += n
        row["bytes"] += size
    return out


async def point(url: str, per_day: int, entries: int, sample: int,
                seed: int) -> dict[str, Any]:
    """One steady state: a flushed Redis, the listpack limit set, the buckets filled."""
    settings = Settings(redis_url=url, port=0)
    client = aioredis.Redis.from_url(url, decode_responses=True)
    store = Store(client, settings)
    try:
        await client.flushall()
        await client.config_set("hash-max-listpack-entries", entries)
        refs = refs_in_sample(per_day, settings, sample, seed)
        before = (await client.info("memory"))["used_memory"]
        started = time.monotonic()
        await fill(OrderStore(store), client, refs)
        seconds = time.monotonic() - started
        after = (await client.info("memory"))["used_memory"]
        left = await client.dbsize()
        by_encoding = await buckets(client, sample)
    finally:
        await store.close()
    fields = sum(row["fields"] for row in by_encoding.values())
    if fields != len(refs) or left != sum(r["buckets"] for r in by_encoding.values()):
        raise RuntimeError(f"{len(refs)} evicted, {fields} fields, {left} keys")
    bucket_count = sample * BUCKETS
    return {
        "per_day": per_day, "listpack_entries": entries, "fields": fields,
        "fields_per_bucket": round(fields / bucket_count, 1),
        "bytes_per_order": round((after - before) / fields, 1),
        "fill_s": round(seconds, 1),
        "hashtable_bucket_share": round(  # of the buckets that hold a field
            by_encoding.get("hashtable", {}).get("buckets", 0) / left, 3),
        "by_encoding": {enc: {**row, "bytes_per_field": round(row["bytes"] / row["fields"], 1)}
                        for enc, row in sorted(by_encoding.items())},
    }


async def one_run(args: argparse.Namespace, url: str, seed: int) -> list[dict[str, Any]]:
    return [await point(url, per_day, entries, args.sample_shards, seed)
            for entries in args.listpack_entries for per_day in args.per_day]


def _median(values: list[Any]) -> Any:
    xs = [v for v in values if isinstance(v, int | float)]
    return round(statistics.median(xs), 3) if xs else None


def medians(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per point, the median of each figure over the runs (encodings' figures too)."""
    out = []
    for points in zip(*runs, strict=True):
        first = points[0]
        row = {k: _median([p[k] for p in points]) if k != "by_encoding" else None
               for k in first}
        encodings = sorted({enc for p in points for enc in p["by_encoding"]})
        row["by_encoding"] = {enc: {k: _median([p["by_encoding"].get(enc, {}).get(k)
                                                for p in points])
                                    for k in ("buckets", "fields", "bytes_per_field")}
                              for enc in encodings}
        out.append(row)
    return out


def write(result: dict[str, Any], stem: Path) -> None:
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    s = result["settings"]
    lines = [
        "# Redis bytes per evicted order at steady state (the `ogone` buckets)", "",
        (f"`{result['command']}`; medians of {len(result['runs'])} runs (each in the .json); "
        f"{s['shards']} shards x {BUCKETS} buckets, a field lives {s['field_life_days']} days "
        f"(order retention {s['retention_days']} less the hot window {s['hot_window_days']}); "
        f"{s['sample_shards']} shards' buckets filled; Redis {result['redis_version']}; "
        f"{result['when']}, {result['machine']}, load {result['load_start']} -> "
        f"{result['load_end']}; commit {result['commit']}."), "",
        ("| evictions a day | hash-max-listpack-entries | fields a bucket | hashtable buckets "
        "| bytes per evicted order (used_memory) | bytes per field, listpack buckets "
        "| bytes per field, hashtable buckets |"),
        "|---|---|---|---|---|---|---|"]
    for p in result["medians"]:
        enc = p["by_encoding"]
        per_field = [enc.get(e, {}).get("bytes_per_field") for e in ("listpack", "hashtable")]
        lines.append(
            f"| {p['per_day']:,} | {p['listpack_entries']} | {p['fields_per_bucket']} "
            f"| {p['hashtable_bucket_share']:.1%} | {p['bytes_per_order']} "
            f"| {per_field[0] if per_field[0] is not None else '-'} "
            f"| {per_field[1] if per_field[1] is not None else '-'} |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


def _ints(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ogone_memory",
                                description=__doc__.split("\n")[0])
    p.add_argument("--per-day", type=_ints, default=[50_000, 100_000, 150_000],
                   help="evictions a day, comma-separated")
    p.add_argument("--listpack-entries", type=_ints, default=[128, 512],
                   help="hash-max-listpack-entries values, comma-separated (128: Redis's)")
    p.add_argument("--sample-shards", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--commit", default="", help="the commit measured, as main knows it")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    load_start = os.getloadavg()[0]
    runs = []
    with tempfile.TemporaryDirectory() as tmp, \
            RedisProcess(data_dir=Path(tmp), appendonly=False) as proc:
        for run in range(args.runs):
            runs.append(asyncio.run(one_run(args, proc.url, seed=run)))
            print(f"run {run + 1}: {json.dumps(runs[-1])}", flush=True)
        with redis.Redis.from_url(proc.url) as client:
            version = client.info("server")["redis_version"]
    settings = Settings()
    argv = sys.argv[1:] if argv is None else argv
    result: dict[str, Any] = {**paths.run_meta("benchmarks.ogone_memory", argv, load_start),
                              "redis_version": version}
    if args.commit:
        result["commit"] = args.commit
    result |= {
        "settings": {"shards": settings.shards, "sample_shards": args.sample_shards,
                     "retention_days": settings.order_retention_ms / DAY_MS,
                     "hot_window_days": settings.order_hot_window_ms / DAY_MS,
                     "field_life_days": field_life_ms(settings) / DAY_MS},
        "medians": medians(runs), "runs": runs}
    write(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What a burst of rejected orders costs Redis, and for how long.

    python -m benchmarks.rejected_memory [--orders 5000]

Starts a private redis-server and the service in-process, loads one unit, holds it, then
sends `--orders` single-line orders that are all REJECTED (INSUFFICIENT_STOCK), and
measures Redis memory before and after, the keys a rejected order leaves and their TTLs.
Writes benchmarks/results/rejected_memory.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import redis.asyncio as aioredis

from reservation.domain.models import OrderLine, ReserveCommand, State, StockItem
from reservation.server.app import start_app
from reservation.settings import Settings
from reservation.storage import keys
from reservation.storage.redis_process import RedisProcess

OUT = Path(__file__).resolve().parent / "results" / "rejected_memory.md"


async def measure(orders: int, url: str) -> str:
    settings = Settings(redis_url=url, port=0)
    app = await start_app(settings, background=False)
    r = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        await app.inventory.load([StockItem("HOT", "W1", 1)], "SET")
        first = await app.reservations.reserve(
            ReserveCommand("jd", "held", "b0", (OrderLine("HOT", 1),)))
        assert first.state == State.RESERVED
        before = (await r.info("memory"))["used_memory"]
        outcomes = await asyncio.gather(*(app.reservations.reserve(ReserveCommand(
            "jd", f"r-{i:07d}", f"buyer-{i}", (OrderLine("HOT", 1),))) for i in range(orders)))
        assert all(o.state == State.REJECTED for o in outcomes)
        after = (await r.info("memory"))["used_memory"]
        ref = "jd:r-0000000"
        home = keys.order_home(ref, settings.shards)
        part = keys.hold(keys.shard_of("HOT", settings.shards), ref)
        sizes = [await r.memory_usage(home), await r.memory_usage(part)]
        ttls = [await r.pttl(home), await r.pttl(part)]
    finally:
        await r.aclose()
        await app.stop(grace=0)
    per_order = (after - before) / orders
    return "\n".join([
        "# Rejected orders: memory and lifetime", "",
        (f"`python -m benchmarks.rejected_memory --orders {orders}`: one unit held, then "
        f"{orders} orders REJECTED (INSUFFICIENT_STOCK); Redis 7 `INFO memory` and "
        "`MEMORY USAGE`."), "",
        "| what | value |", "|---|---|",
        f"| used_memory growth per rejected order | {per_order:.0f} bytes |",
        f"| identity key (`rsv:{{H}}:order:...`) | {sizes[0]} bytes, TTL {ttls[0]} ms |",
        f"| part record (`rsv:{{N}}:hold:...`) | {sizes[1]} bytes, TTL {ttls[1]} ms |",
        f"| kept for (RESERVATION_REJECTED_RETENTION_MS) | {settings.rejected_retention_ms} ms |",
        "", (f"So a burst of R rejects per second holds about R x {per_order:.0f} bytes x "
        f"{settings.rejected_retention_ms // 1000} s at its peak (e.g. 10,000/s: "
        f"{10_000 * per_order * settings.rejected_retention_ms / 1000 / 2**20:.0f} MiB), "
        "and it is gone one retention later."), ""])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.rejected_memory")
    p.add_argument("--orders", type=int, default=5000)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, \
            RedisProcess(data_dir=Path(tmp), appendonly=False) as proc:
        text = asyncio.run(measure(args.orders, proc.url))
    print(text)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The reserve path without gRPC: `python -m benchmarks.reserve_path [--orders N] ...`.

Drives `Reservations.reserve` (the domain and storage layers a Reserve runs through)
from this process against a private Redis loaded with the flash sale, `--concurrency`
orders in flight, and prints CPU µs per order of this process and of Redis (from
/proc). On a shared 2-core box this is steadier than a gRPC run: no load generator, no
gRPC core; it is how each hot-path lever was measured before the full `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import uvloop

from benchmarks import cpu
from benchmarks.scenarios import Flash
from reservation.clock import now_ms
from reservation.reserving.reservations import Reservations
from reservation.server import convert
from reservation.settings import Settings
from reservation.stock.sales import Sales
from reservation.storage.redis_process import RedisProcess
from reservation.storage.store import Store, connect


async def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp, \
            RedisProcess(data_dir=Path(tmp), appendonly=True, appendfsync="everysec") as rp:
        settings = Settings(redis_url=rp.url, default_hold_ttl_ms=3_600_000,
                            redis_functions=args.functions == "auto")
        store = Store(connect(settings, rp.url), settings)
        flash = Flash(args.scale)
        await Sales(store, settings).start(flash.sale("sale-1", now_ms()))
        reservations = Reservations(store, settings)
        reqs = flash.requests("p", args.orders)
        it = iter(reqs)

        async def worker() -> None:
            for req in it:
                convert.reservation(await reservations.reserve(convert.reserve_command(req)))

        await asyncio.gather(*(worker() for _ in range(8)))  # warm-up: scripts loaded
        it = iter(flash.requests("q", args.orders))
        stats0 = dict(store._coalescer.stats)
        meter = cpu.Meter([], rp.pid)
        t0, p0 = time.perf_counter(), time.process_time()
        meter.start()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        meter.stop()
        took, py = time.perf_counter() - t0, time.process_time() - p0
        stats = {k: v - stats0[k] for k, v in store._coalescer.stats.items()}
        await store.close()
    n = args.orders
    return {"orders": n, "concurrency": args.concurrency, "orders_per_s": round(n / took),
            "python_us_per_order": round(py / n * 1e6, 1),
            "redis_us_per_order": round(meter.redis_s / n * 1e6, 1),
            "functions": args.functions, "coalescer": stats}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=20_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--functions", default="auto", choices=["auto", "off"])
    print(json.dumps(uvloop.run(run(p.parse_args()))))


if __name__ == "__main__":
    main()

"""Server-side CPU per order: Reserve with routing against plain Reserve, and Route unary
against RouteBatch. In-process (no gRPC: the same for every row), on a private
redis-server; CPU = this process's CPU time + Redis's (INFO cpu) over the run.

    python -m benchmarks.routing_cpu      # writes benchmarks/results/routing-cpu.{json,md}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from reservation.domain.models import OrderLine, ReserveCommand, StockItem
from reservation.reserving.reservations import Reservations
from reservation.reserving.routed import reserve_routed
from reservation.routing.matching import Destination, RouteLine, RouteOrder
from reservation.routing.service import Routing
from reservation.routing.warehouses import Warehouse
from reservation.settings import Settings
from reservation.stock.levels import Inventory
from reservation.storage.redis_process import RedisProcess
from reservation.storage.store import Store, connect

RESULTS = Path(__file__).resolve().parent / "results"
CITIES = ("杭州", "上海", "南京", "北京", "广州", "成都", "武汉", "西安", "沈阳", "深圳")
WAREHOUSES = [Warehouse(f"WH-{i}", f"仓{i}", city=c, daily_capacity=1_000_000)
              for i, c in enumerate(CITIES)]
SKUS = [f"SKU-{i}" for i in range(50)]
RULES = {"rules": [
    {"name": "east first", "when": {"region": ["华东"]}, "then": {"prefer": ["WH-0"]}},
    {"name": "cold", "when": {"category": ["冷链"]}, "then": {"require": ["COLD_CHAIN"]}},
]}


async def redis_cpu(client: aioredis.Redis) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def measure(client: aioredis.Redis, n: int,
                  work: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    r0, p0, w0 = await redis_cpu(client), time.process_time(), time.perf_counter()
    await work()
    p1, w1 = time.process_time(), time.perf_counter()
    r1 = await redis_cpu(client)
    return {"orders": n, "python_cpu_us_per_order": round((p1 - p0) / n * 1e6, 1),
            "redis_cpu_us_per_order": round((r1 - r0) / n * 1e6, 1),
            "cpu_us_per_order": round(((p1 - p0) + (r1 - r0)) / n * 1e6, 1),
            "wall_s": round(w1 - w0, 3)}


def command(i: int, prefix: str) -> ReserveCommand:
    return ReserveCommand("bench", f"{prefix}-{i}", f"buyer-{i}",
                          (OrderLine(SKUS[i % len(SKUS)], 1),))


def route_order(i: int) -> RouteOrder:
    return RouteOrder((RouteLine(SKUS[i % len(SKUS)], 1),),
                      Destination(city=CITIES[i % len(CITIES)]), order_id=f"R-{i}")


async def in_flight(n: int, width: int, one: Callable[[int], Awaitable[Any]]) -> None:
    gate = asyncio.Semaphore(width)

    async def go(i: int) -> None:
        async with gate:
            await one(i)

    await asyncio.gather(*(go(i) for i in range(n)))


async def run(n: int, width: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        proc = RedisProcess(data_dir=Path(tmp), appendonly=False)
        proc.start()
        try:
            settings = Settings(redis_url=proc.url, default_hold_ttl_ms=3_600_000,
                                log_level="WARNING")
            store = Store(connect(settings, proc.url), settings)
            raw = aioredis.Redis.from_url(proc.url)
            reservations = Reservations(store, settings)
            routing = Routing(store, settings)
            for wh in WAREHOUSES:
                await routing.put_warehouse(wh)
            await routing.put_rules(RULES)
            await Inventory(store, settings).load(
                [StockItem(s, w.warehouse_id, 1_000_000) for s in SKUS for w in WAREHOUSES],
                "ADD")
            await routing.route([route_order(0)], remember=False)  # warm caches
            rows = {}
            rows["Reserve (no routing)"] = await measure(raw, n, lambda: in_flight(
                n, width, lambda i: reservations.reserve(command(i, "plain"))))
            rows["Reserve with destination (routed)"] = await measure(raw, n, lambda: in_flight(
                n, width, lambda i: reserve_routed(
                    reservations, routing, replace(command(i, "routed")),
                    route_order(i))))
            rows["Route (one order per call)"] = await measure(raw, n, lambda: in_flight(
                n, width, lambda i: routing.route([route_order(i)])))
            batch = 100
            rows[f"RouteBatch ({batch} orders per call)"] = await measure(
                raw, n, lambda: in_flight(n // batch, max(1, width // batch) or 1,
                                          lambda k: routing.route(
                                              [route_order(k * batch + j)
                                               for j in range(batch)])))
            await raw.aclose()
            await store.close()
        finally:
            proc.stop()
    plain = rows["Reserve (no routing)"]["cpu_us_per_order"]
    routed = rows["Reserve with destination (routed)"]["cpu_us_per_order"]
    return {"benchmark": "routing CPU per order", "orders": n, "in_flight": width,
            "warehouses": len(WAREHOUSES), "skus": len(SKUS), "rows": rows,
            "routing_adds_percent": round((routed - plain) / plain * 100, 1),
            "goal": "routing adds at most 15% server-side CPU per order",
            "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores", "load_average":
                [round(x, 2) for x in os.getloadavg()]}


def markdown(r: dict[str, Any]) -> str:
    out = [(f"Routing CPU per order, {r['orders']:,} single-line orders, {r['in_flight']} in "
           f"flight, {r['warehouses']} warehouses, {r['skus']} SKUs, in-process (no gRPC), "
           f"{r['when']}; {r['machine']}, load average {r['load_average']}."), "",
           "| path | CPU µs/order (Python + Redis) | Python µs | Redis µs | wall s |",
           "|---|---|---|---|---|"]
    out += [f"| {k} | {v['cpu_us_per_order']} | {v['python_cpu_us_per_order']} | "
            f"{v['redis_cpu_us_per_order']} | {v['wall_s']} |" for k, v in r["rows"].items()]
    met = r["routing_adds_percent"] <= 15
    out += ["", (f"Reserve with routing costs {r['routing_adds_percent']}% more CPU per order "
            f"than plain Reserve (goal at most 15%: {'met' if met else 'missed'}).")]
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=2000)
    p.add_argument("--in-flight", type=int, default=50)
    p.add_argument("--out", default=str(RESULTS / "routing-cpu"))
    a = p.parse_args()
    result = asyncio.run(run(a.orders, a.in_flight))
    Path(f"{a.out}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    Path(f"{a.out}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

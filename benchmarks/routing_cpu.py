"""Server-side CPU per order: Reserve with routing against plain Reserve, and Route unary
against RouteBatch, on a private redis-server, two ways:

- over gRPC (the judged figure): the service in its own process
  (benchmarks/server_proc.py), this process the client; CPU = the server process's
  utime + stime from /proc/<pid>/stat + Redis's (INFO cpu) over the run;
- in process (no gRPC, the service's Python called directly): CPU = this process's CPU
  time + Redis's.

    python -m benchmarks.routing_cpu      # writes benchmarks/results/routing-cpu.{json,md}
    python -m benchmarks.routing_cpu --profile benchmarks/results/routing-profile-after.txt
        # and a pyinstrument profile of the routed Reserve row (its whole run)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import grpc
import redis.asyncio as aioredis

from benchmarks import paths
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
from reservation.v1 import reservation_service_pb2 as rs_pb
from reservation.v1 import reservation_service_pb2_grpc as rs_grpc
from reservation.v1 import routing_service_pb2 as pb
from reservation.v1 import routing_service_pb2_grpc as pb_grpc
from reservation.v1 import types_pb2

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


class Profiled:
    """A pyinstrument profile of one row's run (every sample of this thread: the event
    loop, the service code and redis-py), written as text; nothing when no path."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.profiler: Any = None

    def __enter__(self) -> Self:
        if self.path:
            from pyinstrument import Profiler

            self.profiler = Profiler(interval=0.0005, async_mode="disabled")
            self.profiler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.profiler is not None:
            self.profiler.stop()
            Path(self.path).write_text(paths.scrub(self.profiler.output_text(
                unicode=False, color=False, show_all=False,
                processor_options={"filter_threshold": 0.002})))  # frames down to 0.2%


async def setup(store: Store, settings: Settings) -> Routing:
    routing = Routing(store, settings)
    for wh in WAREHOUSES:
        await routing.put_warehouse(wh)
    await routing.put_rules(RULES)
    await Inventory(store, settings).load(
        [StockItem(s, w.warehouse_id, 1_000_000) for s in SKUS for w in WAREHOUSES], "ADD")
    return routing


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure_server(client: aioredis.Redis, pid: int, n: int,
                         work: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    r0, p0, w0 = await redis_cpu(client), proc_cpu_s(pid), time.perf_counter()
    await work()
    p1, w1 = proc_cpu_s(pid), time.perf_counter()
    r1 = await redis_cpu(client)
    return {"orders": n, "python_cpu_us_per_order": round((p1 - p0) / n * 1e6, 1),
            "redis_cpu_us_per_order": round((r1 - r0) / n * 1e6, 1),
            "cpu_us_per_order": round(((p1 - p0) + (r1 - r0)) / n * 1e6, 1),
            "wall_s": round(w1 - w0, 3)}


def reserve_request(i: int, prefix: str, routed: bool) -> rs_pb.ReserveRequest:
    req = rs_pb.ReserveRequest(channel="bench", order_id=f"{prefix}-{i}",
                               buyer_id=f"buyer-{i}",
                               lines=[types_pb2.OrderLine(sku=SKUS[i % len(SKUS)], quantity=1)])
    if routed:
        req.destination.city = CITIES[i % len(CITIES)]
    return req


def route_request(i: int) -> pb.RouteRequest:
    return pb.RouteRequest(order_id=f"R-{i}", lines=[pb.RouteLine(sku=SKUS[i % len(SKUS)],
                                                                  quantity=1)],
                           destination=pb.Destination(city=CITIES[i % len(CITIES)]))


def start_server(url: str, profile: str) -> tuple[subprocess.Popen[str], int]:
    cmd = [sys.executable, "-m", "benchmarks.server_proc", "service", "--redis", url]
    if profile:
        cmd += ["--profile", profile]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parent.parent)
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("READY"):
        server.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return server, int(line.split()[1])


BATCH = 100
PLAIN, ROUTED = "Reserve (no routing)", "Reserve with destination (routed)"
ROUTE, ROUTE_BATCH = "Route (one order per call)", f"RouteBatch ({BATCH} orders per call)"


async def rows_in_turn(rounds: int, n: int, width: int,
                       measure_: Callable[[int, Callable[[], Awaitable[Any]]],
                                          Awaitable[dict[str, float]]],
                       calls: dict[str, Callable[[int], Awaitable[Any]]],
                       batch_call: Callable[[int], Awaitable[Any]],
                       profiled: Callable[[int, str], Profiled]) -> list[dict[str, Any]]:
    """Every row once per round, in turn (plain Reserve right before the routed one), so
    a change in the machine's load hits both alike; order ids differ per round."""
    def orders(call: Callable[[int], Awaitable[Any]], first: int
               ) -> Callable[[], Awaitable[None]]:
        return lambda: in_flight(n, width, lambda i: call(first + i))

    def batches(first: int) -> Callable[[], Awaitable[None]]:
        return lambda: in_flight(n // BATCH, max(1, width // BATCH),
                                 lambda k: batch_call(first + k * BATCH))

    out = []
    for r in range(rounds):
        rows = {}
        for row, call in calls.items():
            with profiled(r, row):
                rows[row] = await measure_(n, orders(call, r * n))
        rows[ROUTE_BATCH] = await measure_(n, batches(r * n))
        out.append(rows)
    return out


async def run_grpc(n: int, width: int, rounds: int, profile: str = "") -> list[dict[str, Any]]:
    """The rows over gRPC, the service in its own process; `profile`: a pyinstrument
    profile of the server over the whole run (every row)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = RedisProcess(data_dir=Path(tmp), appendonly=False)
        proc.start()
        server = None
        try:
            settings = Settings(redis_url=proc.url, log_level="WARNING")
            store = Store(connect(settings, proc.url), settings)
            await setup(store, settings)
            raw = aioredis.Redis.from_url(proc.url)
            server, port = start_server(proc.url, profile)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                rs, routing = rs_grpc.ReservationServiceStub(channel), \
                    pb_grpc.RoutingServiceStub(channel)
                await routing.Route(route_request(0))  # warm caches
                await rs.Reserve(reserve_request(0, "warm", True))
                pid = server.pid
                out = await rows_in_turn(
                    rounds, n, width,
                    lambda k, work: measure_server(raw, pid, k, work),
                    {PLAIN: lambda i: rs.Reserve(reserve_request(i, "plain", False)),
                     ROUTED: lambda i: rs.Reserve(reserve_request(i, "routed", True)),
                     ROUTE: lambda i: routing.Route(route_request(i))},
                    lambda first: routing.RouteBatch(pb.RouteBatchRequest(
                        requests=[route_request(first + j) for j in range(BATCH)])),
                    lambda r, row: Profiled(""))
            await raw.aclose()
            await store.close()
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=60)
            proc.stop()
    return out


async def run(n: int, width: int, rounds: int, profile: str = "") -> list[dict[str, Any]]:
    """The rows in process; `profile`: a profile of the first round's routed row."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = RedisProcess(data_dir=Path(tmp), appendonly=False)
        proc.start()
        try:
            settings = Settings(redis_url=proc.url, default_hold_ttl_ms=3_600_000,
                                log_level="WARNING")
            store = Store(connect(settings, proc.url), settings)
            raw = aioredis.Redis.from_url(proc.url)
            reservations = Reservations(store, settings)
            routing = await setup(store, settings)
            await routing.route([route_order(0)], remember=False)  # warm caches
            out = await rows_in_turn(
                rounds, n, width, lambda k, work: measure(raw, k, work),
                {PLAIN: lambda i: reservations.reserve(command(i, "plain")),
                 ROUTED: lambda i: reserve_routed(reservations, routing,
                                                  command(i, "routed"), route_order(i)),
                 ROUTE: lambda i: routing.route([route_order(i)])},
                lambda first: routing.route([route_order(first + j) for j in range(BATCH)]),
                lambda r, row: Profiled(profile if (r, row) == (0, ROUTED) else ""))
            await raw.aclose()
            await store.close()
        finally:
            proc.stop()
    return out


def adds(rows: dict[str, Any]) -> float:
    plain = rows[PLAIN]["cpu_us_per_order"]
    routed = rows[ROUTED]["cpu_us_per_order"]
    return round((routed - plain) / plain * 100, 1)


def result(n: int, width: int, rounds: list[dict[str, Any]], where: str,
           start: list[float]) -> dict[str, Any]:
    """The median round (by what routing adds) is the headline; every round is kept."""
    median = sorted(rounds, key=adds)[len(rounds) // 2]
    return {"mode": where, "rows": median, "routing_adds_percent": adds(median),
            "rounds": [{"routing_adds_percent": adds(r),
                        "cpu_us_per_order": {k: v["cpu_us_per_order"] for k, v in r.items()}}
                       for r in rounds],
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "load_average_at_start": start}


def markdown(r: dict[str, Any]) -> str:
    out = [(f"Routing CPU per order, {r['orders']:,} single-line orders, {r['in_flight']} in "
           f"flight, {r['warehouses']} warehouses (all with a daily capacity), {r['skus']} "
           f"SKUs, {r['when']}; {r['machine']}.")]
    for m in r["modes"]:
        out += ["", (f"**{m['mode']}** (median of {len(m['rounds'])} rounds by what "
                f"routing adds; load average {m.get('load_average_at_start')} at its start, "
                f"{m['load_average']} at its end):"), "",
                "| path | CPU µs/order | service µs | Redis µs | wall s |",
                "|---|---|---|---|---|"]
        out += [f"| {k} | {v['cpu_us_per_order']} | {v['python_cpu_us_per_order']} | "
                f"{v['redis_cpu_us_per_order']} | {v['wall_s']} |" for k, v in m["rows"].items()]
        met = m["routing_adds_percent"] <= 15
        every = ", ".join(f"{x['routing_adds_percent']}%" for x in m["rounds"])
        out += ["", (f"Reserve with routing costs {m['routing_adds_percent']}% more CPU per "
                f"order than plain Reserve (goal at most 15%: {'met' if met else 'missed'}); "
                f"every round: {every}.")]
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=2000)
    p.add_argument("--in-flight", type=int, default=50)
    p.add_argument("--out", default=str(RESULTS / "routing-cpu"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--modes", default="grpc,in-process")
    p.add_argument("--profile", default="",
                   help="in process: a profile of the routed row; over gRPC: of the server "
                        "(every row)")
    a = p.parse_args()
    modes = []
    for mode in a.modes.split(","):
        start = [round(x, 2) for x in os.getloadavg()]
        rounds = asyncio.run(run_grpc(a.orders, a.in_flight, a.rounds, a.profile)
                             if mode == "grpc"
                             else run(a.orders, a.in_flight, a.rounds, a.profile))
        modes.append(result(a.orders, a.in_flight, rounds,
                            "over gRPC, server process + Redis" if mode == "grpc"
                            else "in process (no gRPC), Python + Redis", start))
    out = {"benchmark": "routing CPU per order", "orders": a.orders, "in_flight": a.in_flight,
           "warehouses": len(WAREHOUSES), "skus": len(SKUS), "modes": modes,
           "routing_adds_percent": modes[0]["routing_adds_percent"],
           "goal": "routing adds at most 15% server-side CPU per order",
           "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": f"{os.cpu_count()} cores"}
    Path(f"{a.out}.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    Path(f"{a.out}.md").write_text(markdown(out))
    print(markdown(out))


if __name__ == "__main__":
    main()

"""One system under test in its own process: `python -m benchmarks.server_proc SYSTEM ...`.

Runs on uvloop until SIGTERM; prints "READY <port>" once it listens. --profile writes a
pyinstrument report of the serving time (text, and HTML beside it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import grpc
import uvloop
from grpc_health.v1 import health

from benchmarks import paths
from benchmarks.baselines import NaiveStore, NoopServicer, OversellByOne
from benchmarks.peers.lean import LeanServicer
from benchmarks.pg_servicer import PgServicer
from reservation.queueing.sweeper import Sweeper
from reservation.reserving.reservations import Reservations
from reservation.server.app import (
    build_server,
    freeze_startup_objects,
    interceptors,
    start_app,
)
from reservation.settings import Settings
from reservation.stock.levels import Inventory
from reservation.stock.sales import Sales
from reservation.storage.store import Store, connect
from reservation.v1 import reservation_service_pb2_grpc as pb_grpc

SYSTEMS = ("service", "naive", "lean", "noop", "noop-chain", "pg", "oversell-by-one")


def bench_settings(redis_url: str, port: int, metrics_port: int = 0,
                   wait_replicas: int = 0) -> Settings:
    # Long holds and a long retention: nothing expires during a run, so the client's
    # ledger can be checked against the counters exactly. Several processes of one system
    # share the port on purpose (the x2 runs).
    return Settings(redis_url=redis_url, port=port, log_level="WARNING",
                    default_hold_ttl_ms=3_600_000, reuse_port=True, metrics_port=metrics_port,
                    redis_wait_replicas=wait_replicas)


async def start(args: argparse.Namespace) -> tuple[grpc.aio.Server, int, list[object]]:
    """The server of the chosen system; also what must be stopped with it."""
    if args.system == "service":
        app = await start_app(bench_settings(args.redis, args.port, args.metrics_port,
                                             args.wait_replicas))
        freeze_startup_objects()  # as `reservation serve` does after start-up
        return app.server, app.port, [app]
    if args.system in ("naive", "oversell-by-one"):
        settings = bench_settings(args.redis, args.port)
        naive = args.system == "naive"
        store = (NaiveStore if naive else Store)(connect(settings, args.redis), settings)
        reservations = (Reservations if naive else OversellByOne)(store, settings)
        sales = Sales(store, settings)
        inventory = Inventory(store, settings)
        server = build_server(settings, reservations, sales, inventory,
                              health.aio.HealthServicer())
        sweeper = Sweeper(store)
        sweeper.start()
        port = server.add_insecure_port(f"127.0.0.1:{args.port}")
        await server.start()
        return server, port, [sweeper]
    # noop-chain: the no-op servicer behind the service's own edge (the interceptors
    # app.interceptors gives the service with the same settings), to price the edge alone.
    chain = interceptors(bench_settings(args.redis, args.port)) \
        if args.system == "noop-chain" else None
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1)], interceptors=chain)
    if args.system in ("noop", "noop-chain"):
        pb_grpc.add_ReservationServiceServicer_to_server(NoopServicer(), server)
    elif args.system == "lean":
        lean = LeanServicer(args.redis)
        pb_grpc.add_ReservationServiceServicer_to_server(lean, server)
        port = server.add_insecure_port(f"127.0.0.1:{args.port}")
        await server.start()
        return server, port, [lean]
    else:
        servicer = PgServicer(args.pg, args.limit)
        await servicer.open()
        pb_grpc.add_ReservationServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    await server.start()
    return server, port, []


async def main(args: argparse.Namespace) -> None:
    server, port, extras = await start(args)
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
    print(f"READY {port}", flush=True)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await stopping.wait()
    if profiler is not None:
        profiler.stop()
        out = Path(args.profile)
        # Frames down to 0.2% of the run (pyinstrument's default hides those under 1%,
        # where a per-order path's smaller parts are).
        out.write_text(paths.scrub(profiler.output_text(
            unicode=False, color=False, show_all=False,
            processor_options={"filter_threshold": 0.002})))
        out.with_suffix(".html").write_text(paths.scrub(profiler.output_html()))
    for extra in extras:
        await extra.stop(0) if hasattr(extra, "server") else await extra.stop()  # type: ignore[attr-defined]
    await server.stop(0)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("system", choices=SYSTEMS)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--redis", default="")
    p.add_argument("--pg", default="")
    p.add_argument("--limit", type=int, default=0, help="per-buyer limit (pg)")
    p.add_argument("--profile", default="")
    p.add_argument("--metrics-port", type=int, default=0, help="service: /metrics on this port")
    p.add_argument("--wait-replicas", type=int, default=0,
                   help="service: RESERVATION_REDIS_WAIT_REPLICAS")
    return p.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    uvloop.run(main(parse(sys.argv[1:])))

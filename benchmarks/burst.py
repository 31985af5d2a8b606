"""Load shedding under a burst: 10x the in-flight cap arrives at once.

    python -m benchmarks.burst [--cap 100] [--factor 10] [--rounds 5]

Starts a redis-server and `reservation serve` (its own process) twice: with
RESERVATION_MAX_IN_FLIGHT=cap, and with no cap (0) for comparison. Each round fires
`factor * cap` Reserve calls at once from `--clients` processes that start at the same
instant (distinct orders for one well-stocked SKU, 5 s deadline each) and records every call's code and latency; a round of exactly `cap`
calls first gives the undisturbed latency. Writes benchmarks/results/burst.json and
burst.md. Latencies are client-observed and include the client's own work: the client
shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.loadgen import percentile
from reservation.storage.redis_process import RedisProcess
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import admin_service_pb2_grpc as apb_grpc
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import types_pb2

RESULTS = Path(__file__).parent / "results"
SKU = "BURST-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    def __init__(self, redis_url: str, cap: int) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESERVATION_")}
        env.update(RESERVATION_REDIS_URL=redis_url, RESERVATION_PORT=str(self.port),
                   RESERVATION_MAX_IN_FLIGHT=str(cap), RESERVATION_LOG_LEVEL="WARNING",
                   RESERVATION_DEFAULT_HOLD_TTL_MS="3600000")
        self.proc = subprocess.Popen([sys.executable, "-m", "reservation.cli", "serve"],
                                     env=env)
        self.target = f"127.0.0.1:{self.port}"

    async def ready(self) -> None:
        for _ in range(600):
            try:
                async with grpc.aio.insecure_channel(self.target) as ch:
                    r = await health_pb2_grpc.HealthStub(ch).Check(
                        health_pb2.HealthCheckRequest(), timeout=2)
                    if r.status == health_pb2.HealthCheckResponse.SERVING:
                        return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError("service never became SERVING")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


async def burst(channels: list[grpc.aio.Channel], n: int, tag: str) -> list[tuple[str, float]]:
    """n Reserve calls at once; (code, seconds) of each."""
    requests = [pb.ReserveRequest(channel="jd", order_id=f"{tag}-{i}", buyer_id=f"b{i}",
                                  lines=[types_pb2.OrderLine(sku=SKU, quantity=1)]
                                  ).SerializeToString() for i in range(n)]
    calls = [ch.unary_unary("/reservation.v1.ReservationService/Reserve") for ch in channels]

    async def one(i: int) -> tuple[str, float]:
        start = time.perf_counter()
        try:
            await calls[i % len(calls)](requests[i], timeout=5)
            code = "OK"
        except grpc.aio.AioRpcError as exc:
            code = exc.code().name
        return code, time.perf_counter() - start

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _worker(target: str, n: int, tag: str, start_at: float) -> None:
    """One client process of a burst: waits for the shared start instant, fires n calls,
    prints its samples as JSON."""
    channels = [grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(2)]
    for ch in channels:
        await ch.channel_ready()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    samples = await burst(channels, n, tag)
    print(json.dumps(samples))


async def spread_burst(target: str, n: int, tag: str, clients: int) -> list[tuple[str, float]]:
    """A burst of n calls from `clients` processes at the same instant (one Python client
    cannot start 1000 calls at once: it would be the bottleneck, not the server)."""
    start_at = time.time() + 1.5
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.burst", "--worker", target, str(n // clients),
        f"{tag}-c{i}", str(start_at), stdout=asyncio.subprocess.PIPE)
        for i in range(clients)]
    out: list[tuple[str, float]] = []
    for proc in procs:
        stdout, _ = await proc.communicate()
        out += [tuple(x) for x in json.loads(stdout.decode().strip().splitlines()[-1])]
    return out


def summarise(samples: list[tuple[str, float]]) -> dict[str, Any]:
    ok = sorted(t for c, t in samples if c == "OK")
    shed = sorted(t for c, t in samples if c == "RESOURCE_EXHAUSTED")
    codes: dict[str, int] = {}
    for c, _ in samples:
        codes[c] = codes.get(c, 0) + 1
    ms = lambda xs, q: round(percentile(xs, q), 1) if xs else None
    return {"calls": len(samples), "codes": codes,
            "admitted_p50_ms": ms(ok, 0.50), "admitted_p99_ms": ms(ok, 0.99),
            "admitted_max_ms": round(ok[-1] * 1000, 1) if ok else None,
            "shed_p99_ms": ms(shed, 0.99)}


async def measure(redis_url: str, cap: int, n: int, rounds: int, label: str,
                  calibrate: int, clients: int) -> dict[str, Any]:
    service = Service(redis_url, cap)
    try:
        await service.ready()
        channels = [grpc.aio.insecure_channel(service.target,
                                              options=[("grpc.use_local_subchannel_pool", 1)])
                    for _ in range(4)]
        await apb_grpc.AdminServiceStub(channels[0]).LoadStock(apb.LoadStockRequest(
            mode=apb.LOAD_MODE_SET, items=[types_pb2.StockItem(
                sku=SKU, warehouse_id="W1", quantity=1_000_000)]))
        await burst(channels, 50, f"{label}-warm")  # connections up, scripts loaded
        at_cap: list[tuple[str, float]] = []
        for r in range(rounds):
            at_cap += await burst(channels, calibrate, f"{label}-cap{r}")
        samples: list[tuple[str, float]] = []
        for r in range(rounds):
            samples += await spread_burst(service.target, n, f"{label}-{r}", clients)
            await asyncio.sleep(0.5)
        for ch in channels:
            await ch.close()
        return {"label": label, "max_in_flight": cap, "burst": n, "rounds": rounds,
                "at_cap": summarise(at_cap), "burst_result": summarise(samples)}
    finally:
        service.stop()


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [(f"# Burst of {args.factor}x the in-flight cap ({args.cap}), {args.rounds} rounds, "
             f"{args.clients} client processes"),
             "", (f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}; client and server share the cores; "
             f"load average before the run {args.load_before}."), "",
             ("| server | calls | OK | RESOURCE_EXHAUSTED | other | admitted p50 ms | "
             "admitted p99 ms | admitted max ms | shed p99 ms | p99 of a burst of exactly "
             "cap calls, ms |"), "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        b, c = row["burst_result"], row["at_cap"]
        other = {k: v for k, v in b["codes"].items() if k not in ("OK", "RESOURCE_EXHAUSTED")}
        lines.append(f"| {row['label']} | {b['calls']} | {b['codes'].get('OK', 0)} | "
                     f"{b['codes'].get('RESOURCE_EXHAUSTED', 0)} | {other or '-'} | "
                     f"{b['admitted_p50_ms']} | {b['admitted_p99_ms']} | "
                     f"{b['admitted_max_ms']} | {b['shed_p99_ms']} | {c['admitted_p99_ms']} |")
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> None:
    args.load_before = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    n = args.cap * args.factor
    with tempfile.TemporaryDirectory() as tmp, RedisProcess(data_dir=Path(tmp)) as redis_proc:
        rows = [await measure(redis_proc.url, args.cap, n, args.rounds,
                              f"max_in_flight={args.cap}", args.cap, args.clients),
                await measure(redis_proc.url, 0, n, args.rounds, "no cap (0)", args.cap,
                              args.clients)]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "burst.json").write_text(json.dumps({"args": vars(args), "rows": rows},
                                                   indent=2))
    (RESULTS / "burst.md").write_text(markdown(rows, args))
    print(markdown(rows, args))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        target, n, tag, start_at = sys.argv[2:6]
        asyncio.run(_worker(target, int(n), tag, float(start_at)))
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cap", type=int, default=100)
    p.add_argument("--factor", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--clients", type=int, default=4, help="client processes per burst")
    asyncio.run(main(p.parse_args()))

"""Load shedding under a burst: 10x the in-flight cap arrives at once.

    python -m benchmarks.burst [--cap 100] [--factor 10] [--rounds 5]

Starts a redis-server and `reservation serve` (its own process) once per row: with
RESERVATION_MAX_IN_FLIGHT=cap and RESERVATION_MAX_PENDING=each --pending value, with the
cap alone, and with no cap (0) for comparison. Each round fires `factor * cap` Reserve
calls at once from `--clients` processes that start at the same instant (distinct orders
for one well-stocked SKU, 5 s deadline each) and records every call's code and latency;
a round of exactly `cap` calls first gives the undisturbed latency. The server's own
/metrics give its side: calls it shed and its handling time. Writes
benchmarks/results/burst.json and burst.md. Latencies are client-observed and include the
client's own work: the client shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.loadgen import percentile
from reservation.storage.redis_process import RedisProcess
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import admin_service_pb2_grpc as apb_grpc
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import types_pb2

RESULTS = Path(__file__).parent / "results"
SKU = "BURST-1"
REFUSED = ("RESOURCE_EXHAUSTED", "CANCELLED")
"""Refused calls: shed by the service (RESOURCE_EXHAUSTED, with a retry delay) or by gRPC
core's backlog limit (CANCELLED: core's refusal carries no status of ours)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    def __init__(self, redis_url: str, cap: int, pending: int = 0) -> None:
        self.port = _free_port()
        self.metrics_port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESERVATION_")}
        env.update(RESERVATION_REDIS_URL=redis_url, RESERVATION_PORT=str(self.port),
                   RESERVATION_MAX_IN_FLIGHT=str(cap), RESERVATION_LOG_LEVEL="WARNING",
                   RESERVATION_MAX_PENDING=str(pending),
                   RESERVATION_METRICS_PORT=str(self.metrics_port),
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

    def scrape(self) -> tuple[dict[float, float], dict[str, int]]:
        """Reserve's handling-time buckets and answers by code from the server's /metrics."""
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                      timeout=10).read().decode()
        buckets: dict[float, float] = {}
        codes: dict[str, int] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.labels.get("grpc_method") != "Reserve":
                    continue
                if sample.name == "grpc_server_handling_seconds_bucket":
                    buckets[float(sample.labels["le"])] = sample.value
                elif sample.name == "grpc_server_handled_total":
                    codes[sample.labels["grpc_code"]] = int(sample.value)
        return buckets, codes

    def server_side(self, before: tuple[dict[float, float], dict[str, int]]
                    ) -> dict[str, Any]:
        """Reserve calls as the server saw them (its /metrics): how many it shed, and its
        handling time from accepting a call to answering it (histogram bucket bounds, all
        Reserve calls of the bursts, shed ones included). Beside the client's figures this says where a call waited:
        inside the handler, or before the server accepted it."""
        after_buckets, after_codes = self.scrape()
        buckets = sorted((le, n - before[0].get(le, 0.0)) for le, n in after_buckets.items())
        codes = {c: n - before[1].get(c, 0) for c, n in after_codes.items()
                 if n - before[1].get(c, 0)}
        total = buckets[-1][1] if buckets else 0.0

        def bound_ms(q: float) -> float | None:
            for le, count in buckets:
                if total and count >= q * total:
                    return le * 1000
            return None
        return {"codes": codes, "handling_p50_ms_at_most": bound_ms(0.50),
                "handling_p99_ms_at_most": bound_ms(0.99)}

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


def _worker(target: str, n: int, tag: str, start_at: float) -> None:
    """One client process of a burst: waits for the shared start instant, fires n calls,
    prints its samples as JSON. grpc's synchronous futures, not asyncio: each call costs
    the client only a C-core submission, so 125 calls leave in a few ms and the burst
    reaches the server at once instead of at the pace of a Python event loop."""
    channels = [grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(2)]
    for ch in channels:
        grpc.channel_ready_future(ch).result(timeout=30)
    calls = [ch.unary_unary("/reservation.v1.ReservationService/Reserve") for ch in channels]
    requests = [pb.ReserveRequest(channel="jd", order_id=f"{tag}-{i}", buyer_id=f"b{i}",
                                  lines=[types_pb2.OrderLine(sku=SKU, quantity=1)]
                                  ).SerializeToString() for i in range(n)]
    samples: list[tuple[str, float]] = [("", 0.0)] * n

    def record(i: int, start: float) -> Any:
        def done(future: Any) -> None:
            try:
                future.result()
                code = "OK"
            except grpc.RpcError as exc:
                code = exc.code().name
            samples[i] = (code, time.perf_counter() - start)
        return done

    time.sleep(max(0.0, start_at - time.time()))
    futures = []
    for i in range(n):
        future = calls[i % len(calls)].future(requests[i], timeout=5)
        future.add_done_callback(record(i, time.perf_counter()))
        futures.append(future)
    for future in futures:
        with contextlib.suppress(grpc.RpcError):
            future.result()
    time.sleep(0.05)  # the last done-callbacks run on grpc's threads
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
    shed = sorted(t for c, t in samples if c in REFUSED)
    codes: dict[str, int] = {}
    for c, _ in samples:
        codes[c] = codes.get(c, 0) + 1
    ms = lambda xs, q: round(percentile(xs, q), 1) if xs else None
    return {"calls": len(samples), "codes": codes,
            "admitted_p50_ms": ms(ok, 0.50), "admitted_p99_ms": ms(ok, 0.99),
            "admitted_max_ms": round(ok[-1] * 1000, 1) if ok else None,
            "refused_p99_ms": ms(shed, 0.99)}


async def measure(redis_url: str, cap: int, n: int, rounds: int, label: str,
                  calibrate: int, clients: int, pending: int = 0) -> dict[str, Any]:
    service = Service(redis_url, cap, pending)
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
        before = service.scrape()  # the bursts' own calls only, below
        for r in range(rounds):
            samples += await spread_burst(service.target, n, f"{label}-{r}", clients)
            await asyncio.sleep(0.5)
        for ch in channels:
            await ch.close()
        server = service.server_side(before)
        return {"label": label, "server_side": server, "max_in_flight": cap, "max_pending": pending,
                "burst": n, "rounds": rounds,
                "at_cap": summarise(at_cap), "burst_result": summarise(samples)}
    finally:
        service.stop()


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [(f"# Burst of {args.factor}x the in-flight cap ({args.cap}), {args.rounds} rounds, "
             f"{args.clients} client processes"),
             "", (f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}; client and server share the cores; "
             f"load average before the run {args.load_before}."), "",
             ("| server | calls | OK | RESOURCE_EXHAUSTED (service) | CANCELLED (gRPC core) | "
             "other | admitted p50 ms | admitted p99 ms | admitted max ms | refused p99 ms | "
             "p99 of a burst of exactly cap calls, ms | server-side handling p50 / p99 ms "
             "(at most) |"), "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        b, c = row["burst_result"], row["at_cap"]
        other = {k: v for k, v in b["codes"].items() if k not in ("OK", *REFUSED)}
        lines.append(f"| {row['label']} | {b['calls']} | {b['codes'].get('OK', 0)} | "
                     f"{b['codes'].get('RESOURCE_EXHAUSTED', 0)} | "
                     f"{b['codes'].get('CANCELLED', 0)} | {other or '-'} | "
                     f"{b['admitted_p50_ms']} | {b['admitted_p99_ms']} | "
                     f"{b['admitted_max_ms']} | {b['refused_p99_ms']} | {c['admitted_p99_ms']} | "
                     f"{row['server_side']['handling_p50_ms_at_most']} / "
                     f"{row['server_side']['handling_p99_ms_at_most']} |")
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> None:
    args.load_before = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    n = args.cap * args.factor
    with tempfile.TemporaryDirectory() as tmp, RedisProcess(data_dir=Path(tmp)) as redis_proc:
        rows = [await measure(redis_proc.url, args.cap, n, args.rounds,
                              f"max_in_flight={args.cap}, max_pending={pending}", args.cap,
                              args.clients, pending)
                for pending in args.pending]
        rows += [await measure(redis_proc.url, args.cap, n, args.rounds,
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
        _worker(target, int(n), tag, float(start_at))
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cap", type=int, default=100)
    p.add_argument("--factor", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--clients", type=int, default=4, help="client processes per burst")
    p.add_argument("--pending", type=int, nargs="*", default=[50],
                   help="RESERVATION_MAX_PENDING values to measure beside the plain cap")
    asyncio.run(main(p.parse_args()))

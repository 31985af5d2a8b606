"""What the Prometheus metrics cost: server-side CPU per order, metrics off against on.

    python -m benchmarks.metrics_overhead [--seconds 5] [--rounds 3]

The real service (benchmarks/server_proc.py) runs against a private redis-server,
alternately without and with RESERVATION_METRICS_PORT, under the same closed-loop load
(unary Reserve at a fixed 300/s; ReserveBatch of 200, one at a time; unary Reserve, 32
in flight). Measured per run: the
CPU time the server process and redis-server used during the load window (from
/proc/<pid>/stat and INFO cpu), divided by the orders answered. Orders/s are noisy with
the load generator on the same cores; CPU per order is the figure to judge (the
project's performance model). One /metrics scrape taken in the middle of a metrics-on
run is kept beside the results.

Writes benchmarks/results/metrics_overhead.{json,md} and metrics-scrape.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import uvloop

from benchmarks import loadgen
from benchmarks.scenarios import HOT, Flash
from reservation.domain.models import StockItem
from reservation.settings import Settings
from reservation.stock.levels import Inventory
from reservation.storage.redis_process import RedisProcess, free_port
from reservation.storage.store import Store, connect

RESULTS = Path(__file__).resolve().parent / "results"
TICKS = os.sysconf("SC_CLK_TCK")
# (name, kind, in flight or rate): unary on a fixed schedule well below the peak (the
# least noisy: every call handled alone), sequential batches of 200, and saturated unary.
MODES = (("unary 300/s", "open", 300), ("batch 200 x1", "batch", 1),
         ("unary x32", "unary", 32))


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def redis_cpu_s(client: aioredis.Redis) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        return str(reply.read().decode())


class Service:
    def __init__(self, redis_url: str, metrics_port: int) -> None:
        self.port = free_port()
        self.metrics_port = metrics_port
        cmd = [sys.executable, "-m", "benchmarks.server_proc", "service", "--port",
               str(self.port), "--redis", redis_url, "--metrics-port", str(metrics_port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"service did not start: {line!r}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


async def prepare(redis_url: str) -> None:
    """Empty Redis, then plenty of stock: every order is RESERVED, no sale limits."""
    settings = Settings(redis_url=redis_url)
    client = connect(settings, redis_url)
    await client.flushall()
    store = Store(client, settings)
    await Inventory(store, settings).load([StockItem(HOT, "wh-east", 1_000_000)], "ADD")
    await store.close()


async def one_run(redis_url: str, client: aioredis.Redis, mode: str, kind: str, level: int,
                  metrics_on: bool, seconds: float, tag: str,
                  keep_scrape: Path | None) -> dict[str, Any]:
    await prepare(redis_url)
    reqs = Flash(scale=1.0).requests(tag, 60_000)
    payloads = (loadgen.serialise_batches(reqs, 200) if kind == "batch"
                else loadgen.serialise_unary(reqs))
    service = Service(redis_url, free_port() if metrics_on else 0)
    target = loadgen.Target(f"127.0.0.1:{service.port}")
    try:
        await asyncio.sleep(1.0)  # start-up work done before the window opens
        cpu0, rcpu0 = process_cpu_s(service.proc.pid), await redis_cpu_s(client)
        run = {"open": loadgen.open_unary, "unary": loadgen.closed_unary,
               "batch": loadgen.closed_batch}[kind]
        load = asyncio.create_task(run(target, payloads, level, seconds))
        if keep_scrape is not None:
            await asyncio.sleep(seconds / 2)
            keep_scrape.write_text(await asyncio.to_thread(scrape, service.metrics_port))
        tally, elapsed = await load
        cpu1, rcpu1 = process_cpu_s(service.proc.pid), await redis_cpu_s(client)
    finally:
        await target.close()
        service.stop()
    orders = max(tally.orders, 1)
    return {"mode": mode, "metrics": metrics_on,
            "orders": tally.orders, "errors": tally.errors,
            "orders_per_s": round(tally.orders / elapsed, 1),
            "service_cpu_us_per_order": round((cpu1 - cpu0) / orders * 1e6, 1),
            "redis_cpu_us_per_order": round((rcpu1 - rcpu0) / orders * 1e6, 1),
            "total_cpu_us_per_order": round((cpu1 - cpu0 + rcpu1 - rcpu0) / orders * 1e6, 1)}


async def paired_run(redis_url: str, mode: str, kind: str, level: int, seconds: float,
                     tag: str) -> dict[str, Any]:
    """Both servers at once, each under the same load from this one process: whatever
    else the machine does hits both alike, so their CPU per order compares directly."""
    await prepare(redis_url)
    services = {False: Service(redis_url, 0), True: Service(redis_url, free_port())}
    targets = {on: loadgen.Target(f"127.0.0.1:{svc.port}") for on, svc in services.items()}
    run = {"open": loadgen.open_unary, "unary": loadgen.closed_unary,
           "batch": loadgen.closed_batch}[kind]
    loads = {}
    for on in (False, True):
        reqs = Flash(scale=1.0).requests(f"{tag}-{int(on)}", 30_000)
        loads[on] = (loadgen.serialise_batches(reqs, 200) if kind == "batch"
                     else loadgen.serialise_unary(reqs))
    try:
        await asyncio.sleep(1.0)
        cpu0 = {on: process_cpu_s(svc.proc.pid) for on, svc in services.items()}
        results = await asyncio.gather(*(run(targets[on], loads[on], level, seconds)
                                         for on in (False, True)))
        cpu1 = {on: process_cpu_s(svc.proc.pid) for on, svc in services.items()}
    finally:
        for target in targets.values():
            await target.close()
        for svc in services.values():
            svc.stop()
    row: dict[str, Any] = {"mode": mode}
    for on, (tally, elapsed) in zip((False, True), results):
        key = "on" if on else "off"
        row[f"orders_{key}"] = tally.orders
        row[f"orders_per_s_{key}"] = round(tally.orders / elapsed, 1)
        row[f"service_cpu_us_per_order_{key}"] = round(
            (cpu1[on] - cpu0[on]) / max(tally.orders, 1) * 1e6, 1)
    row["change_pct"] = round((row["service_cpu_us_per_order_on"]
                               / row["service_cpu_us_per_order_off"] - 1) * 100, 1)
    return row


PAIRED_MODES = (("unary 150/s each", "open", 150), ("batch 200 x1 each", "batch", 1))


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for mode, _, _ in MODES:
        off = [r for r in rows if r["mode"] == mode and not r["metrics"]]
        on = [r for r in rows if r["mode"] == mode and r["metrics"]]
        line: dict[str, Any] = {"mode": mode}
        for key in ("service_cpu_us_per_order", "total_cpu_us_per_order", "orders_per_s"):
            a = statistics.median(r[key] for r in off)
            b = statistics.median(r[key] for r in on)
            line[key] = {"off": round(a, 1), "on": round(b, 1),
                         "change_pct": round((b - a) / a * 100, 1)}
        out.append(line)
    return out


async def sampler_costs(redis_url: str, rounds: int = 20) -> dict[str, float]:
    """One round of the gauge sampler (every SAMPLE_PERIOD_S in each serving process):
    this process's CPU and Redis's CPU per round, in ms, with 20 running sales."""
    from reservation.clock import now_ms
    from reservation.domain.models import FlashSale
    from reservation.server.gauges import GaugeSampler, active_sale_skus
    from reservation.stock.sales import Sales
    from reservation.writeback import WriteBack

    settings = Settings(redis_url=redis_url)
    client = connect(settings, redis_url)
    store = Store(client, settings)
    sales = Sales(store, settings)
    now = now_ms()
    for i in range(20):
        await sales.start(FlashSale(f"sample-{i}", (StockItem(f"S-{i}", "wh", 10),), now - 1000,
                                    now + 3_600_000), create_skus=True)  # its own SKUs
    sampler = GaugeSampler(store, Inventory(store, settings), WriteBack.over(store),
                           hot_skus=lambda: active_sale_skus(sales))
    await sampler.sample()  # scripts loaded, connections open
    cpu, rcpu = time.process_time(), await redis_cpu_s(client)
    for _ in range(rounds):
        await sampler.sample()
    cpu, rcpu = time.process_time() - cpu, await redis_cpu_s(client) - rcpu
    await store.close()
    return {"sampler_round_ms": round(cpu / rounds * 1000, 2),
            "sampler_round_redis_ms": round(rcpu / rounds * 1000, 2)}


async def micro_costs(n: int = 50_000) -> dict[str, float]:
    """The metrics' own Python work, timed in this process (CPU time, µs): the
    interceptor per call (around a handler that does nothing), the outcome counter per
    order, the pipeline histograms per coalesced pipeline."""
    import grpc

    from reservation.server.interceptors.metrics import MetricsInterceptor
    from reservation.server.metrics import Recorder

    class Context:
        def code(self) -> None:
            return None

    async def handler(request: int, context: Any) -> int:
        return request

    plain = grpc.unary_unary_rpc_method_handler(handler)

    class Details:
        method = "/reservation.v1.ReservationService/Reserve"
        invocation_metadata = ()

    async def continuation(details: Any) -> Any:
        return plain

    interceptor, context, recorder = MetricsInterceptor(), Context(), Recorder()
    recorder.on = True

    async def bare() -> None:
        for _ in range(n):
            await (await continuation(Details)).unary_unary(1, context)

    async def wrapped() -> None:
        for _ in range(n):
            await (await interceptor.intercept_service(continuation, Details)).unary_unary(
                1, context)

    def timed(fn: Any) -> float:
        t = time.process_time()
        fn()
        return (time.process_time() - t) / n * 1e6

    t = time.process_time()
    await bare()
    base = time.process_time() - t
    t = time.process_time()
    await wrapped()
    interceptor_us = (time.process_time() - t - base) / n * 1e6
    return {"interceptor_per_call": round(interceptor_us, 2),
            "outcome_per_order": round(timed(
                lambda: [recorder.outcome("jd", "RESERVED", "") for _ in range(n)]), 2),
            "pipeline_per_pipeline": round(timed(
                lambda: [recorder.pipeline(8, 2, 0.001) for _ in range(n)]), 2)}


def paired_markdown(paired: list[dict[str, Any]]) -> str:
    lines = ["", "Paired runs (both servers at once, the same load each; service CPU only):",
             "", "| mode | orders off | on | µs/order off | on | change |",
             "|---|---|---|---|---|---|"]
    for r in paired:
        lines.append(f"| {r['mode']} | {r['orders_off']} | {r['orders_on']} | "
                     f"{r['service_cpu_us_per_order_off']} | "
                     f"{r['service_cpu_us_per_order_on']} | {r['change_pct']:+}% |")
    for mode, _, _ in PAIRED_MODES:
        changes = [r["change_pct"] for r in paired if r["mode"] == mode]
        if changes:
            lines.append(f"\n{mode}: median change {statistics.median(changes):+.1f}%")
    return "\n".join(lines) + "\n"


def markdown(summary: list[dict[str, Any]], rows: list[dict[str, Any]], when: str,
             costs: dict[str, float]) -> str:
    header = ("| mode | service CPU µs/order off | on | change | service+Redis µs/order off "
              "| on | change | orders/s off | on |")
    lines = [f"# Metrics overhead ({when})", "",
             "Median of the runs per mode; CPU per order over the load window.", "",
             header, "|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        c, t, o = s["service_cpu_us_per_order"], s["total_cpu_us_per_order"], s["orders_per_s"]
        lines.append(f"| {s['mode']} | {c['off']} | {c['on']} | {c['change_pct']:+}% | "
                     f"{t['off']} | {t['on']} | {t['change_pct']:+}% | {o['off']} | {o['on']} |")
    own = (f"The metrics' own Python work, timed in one process (CPU µs): "
           f"{costs['interceptor_per_call']} per RPC (interceptor), "
           f"{costs['outcome_per_order']} per order (outcome counter), "
           f"{costs['pipeline_per_pipeline']} per coalesced Redis pipeline; the gauge "
           f"sampler (every 15 s per process) {costs['sampler_round_ms']} ms of the "
           f"process's CPU and {costs['sampler_round_redis_ms']} ms of Redis's per round "
           "(64 shards, 20 running sales).")
    runs = "| mode | metrics | orders | orders/s | service µs/order | redis µs/order |"
    lines += ["", own, "", "Every run:", "", runs, "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {'on' if r['metrics'] else 'off'} | {r['orders']} | "
                     f"{r['orders_per_s']} | {r['service_cpu_us_per_order']} | "
                     f"{r['redis_cpu_us_per_order']} |")
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    data = tempfile.TemporaryDirectory(prefix="metrics-overhead-")
    proc = RedisProcess(data_dir=Path(data.name))
    proc.start()
    client = aioredis.Redis.from_url(proc.url, decode_responses=True)
    rows: list[dict[str, Any]] = []
    try:
        for mode, kind, level in MODES:
            for n in range(args.rounds):
                for metrics_on in (False, True):  # alternate: drift hits both alike
                    keep = (args.out / "metrics-scrape.txt"
                            if metrics_on and kind == "unary" and n == args.rounds - 1
                            else None)
                    row = await one_run(proc.url, client, mode, kind, level, metrics_on,
                                        args.seconds, f"{kind}-{n}-{int(metrics_on)}", keep)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        paired = []
        for mode, kind, level in PAIRED_MODES:
            for n in range(args.rounds):
                row = await paired_run(proc.url, mode, kind, level, args.seconds,
                                       f"pair-{kind}-{n}")
                paired.append(row)
                print(json.dumps(row), flush=True)
        costs = await micro_costs()
        costs.update(await sampler_costs(proc.url))
    finally:
        await client.aclose()
        proc.stop()
        data.cleanup()
    summary = summarise(rows)
    print(json.dumps(costs), flush=True)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    (args.out / "metrics_overhead.json").write_text(json.dumps(
        {"when": when, "seconds": args.seconds, "rounds": args.rounds, "summary": summary,
         "paired": paired, "micro_us": costs, "runs": rows}, indent=2) + "\n")
    text = markdown(summary, rows, when, costs) + paired_markdown(paired)
    (args.out / "metrics_overhead.md").write_text(text)
    print(text)
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(uvloop.run(main(parse(sys.argv[1:]))))

"""What waiting for a replica costs: RESERVATION_REDIS_WAIT_REPLICAS=0 against 1.

    python -m benchmarks.replica_wait [--seconds 5] [--rounds 3]

A private primary redis-server with one replica (replicaof, both on loopback), and the
real service (benchmarks/server_proc.py) started alternately without and with the wait,
under the same loads as the metrics benchmark: unary Reserve at a fixed 300/s (every call
alone: the wait's latency shows), ReserveBatch of 200 one at a time, and unary Reserve
with 32 in flight (saturated: the waits are shared by coalesced pipelines). Measured per
run: orders answered, orders/s, latency p50/p99 per call, and CPU per order of the
service process (/proc) and of the primary (INFO cpu). Medians of the rounds.

Writes benchmarks/results/replica_wait.{json,md}.
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
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import uvloop

from benchmarks import loadgen
from benchmarks.chaos.__main__ import commit
from benchmarks.metrics_overhead import prepare, process_cpu_s, redis_cpu_s
from benchmarks.scenarios import Flash
from reservation.storage.redis_process import RedisProcess, free_port

RESULTS = Path(__file__).resolve().parent / "results"
MODES = (("unary 300/s", "open", 300), ("batch 200 x1", "batch", 1),
         ("unary x32", "unary", 32))


class Service:
    def __init__(self, redis_url: str, wait_replicas: int) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "benchmarks.server_proc", "service", "--port",
               str(self.port), "--redis", redis_url, "--wait-replicas", str(wait_replicas)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"service did not start: {line!r}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


async def one_run(redis_url: str, client: aioredis.Redis, mode: str, kind: str, level: int,
                  wait: int, seconds: float, tag: str) -> dict[str, Any]:
    await prepare(redis_url)
    reqs = Flash(scale=1.0).requests(tag, 60_000)
    payloads = (loadgen.serialise_batches(reqs, 200) if kind == "batch"
                else loadgen.serialise_unary(reqs))
    service = Service(redis_url, wait)
    target = loadgen.Target(f"127.0.0.1:{service.port}")
    try:
        await asyncio.sleep(1.0)  # start-up work done before the window opens
        cpu0, rcpu0 = process_cpu_s(service.proc.pid), await redis_cpu_s(client)
        run = {"open": loadgen.open_unary, "unary": loadgen.closed_unary,
               "batch": loadgen.closed_batch}[kind]
        tally, elapsed = await run(target, payloads, level, seconds)
        cpu1, rcpu1 = process_cpu_s(service.proc.pid), await redis_cpu_s(client)
    finally:
        await target.close()
        service.stop()
    orders = max(tally.orders, 1)
    lat = sorted(tally.latencies)
    return {"mode": mode, "wait": wait, "orders": tally.orders, "errors": tally.errors,
            "orders_per_s": round(tally.orders / elapsed, 1),
            "p50_ms": round(loadgen.percentile(lat, 0.5), 2) if lat else None,
            "p99_ms": round(loadgen.percentile(lat, 0.99), 2) if lat else None,
            "service_cpu_us_per_order": round((cpu1 - cpu0) / orders * 1e6, 1),
            "redis_cpu_us_per_order": round((rcpu1 - rcpu0) / orders * 1e6, 1)}


KEYS = ("orders_per_s", "p50_ms", "p99_ms", "service_cpu_us_per_order",
        "redis_cpu_us_per_order")


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for mode, _, _ in MODES:
        line: dict[str, Any] = {"mode": mode}
        for wait in (0, 1):
            runs = [r for r in rows if r["mode"] == mode and r["wait"] == wait]
            line[f"wait{wait}"] = {k: round(statistics.median(r[k] for r in runs), 2)
                                   for k in KEYS if all(r[k] is not None for r in runs)}
            line[f"wait{wait}"]["errors"] = sum(r["errors"] for r in runs)
        out.append(line)
    return out


def markdown(summary: list[dict[str, Any]], rows: list[dict[str, Any]], when: str,
             load: str) -> str:
    lines = [f"# Replica wait ({when}, commit {commit()})", "",
             "`python -m benchmarks.replica_wait` under an exclusive CPU lock (`flock -x`): a primary",
             "and one replica on loopback; RESERVATION_REDIS_WAIT_REPLICAS 0 against 1.",
             (f"Median of the rounds; 2 cores shared with the load generator. Load average "
             f"before: {load}."), "",
             ("| mode | wait | orders/s | p50 ms | p99 ms | service CPU µs/order | "
             "primary CPU µs/order | errors |"), "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        for wait in (0, 1):
            v = s[f"wait{wait}"]
            lines.append(f"| {s['mode']} | {wait} | {v['orders_per_s']} | {v.get('p50_ms')} | "
                         f"{v.get('p99_ms')} | {v['service_cpu_us_per_order']} | "
                         f"{v['redis_cpu_us_per_order']} | {v['errors']} |")
    lines += ["", "Every run:", "",
              ("| mode | wait | orders | orders/s | p50 ms | p99 ms | service µs/order | "
              "primary µs/order |"), "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['wait']} | {r['orders']} | {r['orders_per_s']} | "
                     f"{r['p50_ms']} | {r['p99_ms']} | {r['service_cpu_us_per_order']} | "
                     f"{r['redis_cpu_us_per_order']} |")
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    load = Path("/proc/loadavg").read_text().split()[:3]
    data = tempfile.TemporaryDirectory(prefix="replica-wait-")
    quick = {"repl-diskless-sync-delay": "0"}
    primary = RedisProcess(data_dir=Path(data.name) / "primary", extra_config=quick).start()
    replica = RedisProcess(data_dir=Path(data.name) / "replica", extra_config={
        **quick, "replicaof": f"127.0.0.1 {primary.port}"}).start()
    client = aioredis.Redis.from_url(primary.url, decode_responses=True)
    rows: list[dict[str, Any]] = []
    try:
        while (await client.info("replication")).get("slave0", {}).get("state") != "online":
            await asyncio.sleep(0.1)
        for mode, kind, level in MODES:
            for n in range(args.rounds):
                for wait in (0, 1):  # alternate: drift hits both alike
                    row = await one_run(primary.url, client, mode, kind, level, wait,
                                        args.seconds, f"{kind}-{n}-{wait}")
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    finally:
        await client.aclose()
        replica.stop()
        primary.stop()
        data.cleanup()
    summary = summarise(rows)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_text = " ".join(load)
    (args.out / "replica_wait.json").write_text(json.dumps(
        {"when": when, "commit": commit(), "seconds": args.seconds, "rounds": args.rounds,
         "loadavg_before": load_text, "cpus": os.cpu_count(), "summary": summary,
         "runs": rows}, indent=2) + "\n")
    text = markdown(summary, rows, when, load_text)
    (args.out / "replica_wait.md").write_text(text)
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

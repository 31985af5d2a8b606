"""Instructions per order, counted by callgrind: `python -m benchmarks.instructions NAME`.

CPU seconds on a shared 2-core box move with whatever else runs (the same code measured
eight times gave flash batch 9,300 to 13,200 orders/s). An instruction count does not:
valgrind's callgrind counts the instructions a process executes, whatever the machine is
doing. This runs the service (`benchmarks.server_proc service`) and its private
redis-server each under callgrind with counting off, loads the flash sale or the broad
stock exactly as `benchmarks.run` does, sends a warm-up, then counts only while it sends
a fixed list of orders, and writes the server's and Redis's instructions per order.

Two kinds of point:
- **one at a time** (unary, a batch of 100, a stream with one message outstanding): the
  server sees the same requests in the same order, so the count moves only with what the
  code runs;
- **in flight** as `benchmarks.run` loads it (64 unary, 8 x 100, 2 streams x 256):
  under callgrind the server is ~50x slower than the client, so what it coalesces
  depends less on timing than on a normal run, but it does depend on it: repeat a point
  to see its spread.

What the processes' timers run meanwhile (the sweeper, the guard's tick, Redis's cron)
grows with the point's wall time, which valgrind stretches ~50x and the machine's load
stretches further: each point is followed by `--idle` seconds with no orders, counted
too, and that rate times the point's duration is taken off (both figures are kept).

To compare two commits, run this module in a checkout of each (`git worktree add`, `make
venv`; copy this file in if the older commit lacks it) and name both in the results.
Writes benchmarks/results/NAME.json and NAME.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from benchmarks import loadgen, paths
from benchmarks.run import RESULTS, machine
from benchmarks.scenarios import Broad, Flash
from reservation.clock import now_ms
from reservation.settings import Settings
from reservation.stock.levels import Inventory
from reservation.stock.sales import Sales
from reservation.storage.redis_process import RedisProcess, free_port
from reservation.storage.store import Store, connect

clock, pause = time.monotonic, asyncio.sleep  # (tests replace them)

POINTS = {
    # name: (mode, calls in flight, orders per call or stream window)
    "unary x1": ("unary", 1, 1),
    "batch x1": ("batch", 1, 100),
    "stream x1": ("stream", 1, 1),
    "unary x64": ("unary", 64, 1),
    "batch 8x100": ("batch", 8, 100),
    "stream 2x256": ("stream", 2, 256),
}


# benchmarks.server_proc with a Redis timeout long enough for valgrind (every process runs
# ~50x slower under it, and a batch's script call would pass the service's 2 s timeout)
# and its timers slowed to their longest: what they run (the sweeper's script call per
# shard five times a second, the guard's tick, ...) grows with wall time, which valgrind
# and the machine's load stretch, and it would swamp the orders' own count. Nothing they
# do is due within a point: holds last an hour.
SERVER = """
import dataclasses, sys
import uvloop
from benchmarks import server_proc
bench = server_proc.bench_settings
server_proc.bench_settings = lambda *a, **k: dataclasses.replace(
    bench(*a, **k), redis_timeout_ms=300_000, redis_wait_timeout_ms=300_000,
    sweep_interval_ms=60_000, watch_poll_interval_ms=60_000, breaker_tick_ms=3_600_000,
    queue_retry_interval_ms=3_600_000, auth_reload_interval_ms=3_600_000)
uvloop.run(server_proc.main(server_proc.parse(sys.argv[1:])))
"""


def callgrind(out: Path) -> list[str]:
    # Counting starts off (startup, imports and loading are not measured) and is turned on
    # around each point with callgrind_control; --dump-instr=no keeps the files small.
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no",
            f"--callgrind-out-file={out}"]


def control(pid: int, *flags: str) -> None:
    subprocess.run(["callgrind_control", *flags, str(pid)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def dumped_total(prefix: Path, before: set[Path]) -> int:
    """The instruction total of the dump `callgrind_control -d` just wrote."""
    for _ in range(600):
        new = set(prefix.parent.glob(prefix.name + "*")) - before
        for f in new:
            m = re.search(r"^totals: (\d+)", f.read_text(), re.MULTILINE)
            if m:
                return int(m.group(1))
        time.sleep(0.1)
    raise RuntimeError(f"no callgrind dump for {prefix.name}")


@dataclass
class Counted:
    """A process under callgrind whose instructions are counted around a piece of work."""

    pid: int
    out: Path

    def on(self) -> None:
        control(self.pid, "-z")
        control(self.pid, "-i", "on")

    def take(self) -> int:
        """Stop counting; the instructions since `on`."""
        control(self.pid, "-i", "off")
        before = set(self.out.parent.glob(self.out.name + "*"))
        control(self.pid, "-d")
        return dumped_total(self.out, before)


class Rig:
    """A private redis-server and the service, both under callgrind."""

    def __init__(self, work: Path) -> None:
        self.work = work
        (work / "redis").mkdir()
        self.redis = RedisProcess(data_dir=work / "redis", port=free_port(),
                                  appendonly=True, appendfsync="everysec")
        self.redis_proc = subprocess.Popen(
            callgrind(work / "redis.cg") + self.redis.command_line(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = free_port()
        self.server_proc = subprocess.Popen(
            callgrind(work / "server.cg") + [
                sys.executable, "-c", SERVER, "service",
                "--port", str(self.port), "--redis", self.redis.url],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            text=True)
        self.redis_count = Counted(self.redis_proc.pid, work / "redis.cg")
        self.server_count = Counted(self.server_proc.pid, work / "server.cg")

    async def ready(self) -> None:
        async with aioredis.Redis.from_url(self.redis.url) as r:
            for _ in range(600):
                try:
                    await r.ping()
                    break
                except redis_errors.ConnectionError:  # still starting under valgrind
                    await asyncio.sleep(0.2)
        line = await asyncio.to_thread(self.server_proc.stdout.readline)  # type: ignore[union-attr]
        if not line.startswith("READY"):
            raise RuntimeError(f"the service did not start under valgrind: {line!r}")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        for p in (self.server_proc, self.redis_proc):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


async def load(url: str, scenario: str, tag: str) -> None:
    """FLUSHALL, then the flash sale or the broad stock, as benchmarks.run loads them."""
    async with aioredis.Redis.from_url(url) as r:
        await r.flushall()
    settings = Settings(redis_url=url)
    store = Store(connect(settings, url), settings)
    try:
        if scenario == "broad":
            items = Broad(0.1).items()
            inventory = Inventory(store, settings)
            for i in range(0, len(items), settings.max_batch):
                await inventory.load(items[i:i + settings.max_batch], "SET")
        else:
            await Sales(store, settings).start(Flash(0.1).sale(f"sale-{tag}", now_ms()),
                                                create_skus=True)
    finally:
        await store.close()


async def send(target: loadgen.Target, scenario: str, point: str, tag: str,
               orders: int) -> loadgen.Tally:
    mode, conc, per = POINTS[point]
    source = Broad(0.1) if scenario == "broad" else Flash(0.1)
    reqs = source.requests(tag, orders)
    hour = 3600.0  # every payload is sent: the count, not the clock, ends a point
    if mode == "unary":
        tally, _ = await loadgen.closed_unary(target, loadgen.serialise_unary(reqs), conc, hour)
    elif mode == "batch":
        tally, _ = await loadgen.closed_batch(
            target, loadgen.serialise_batches(reqs, per), conc, hour)
    else:
        tally, _ = await loadgen.closed_stream(
            target, loadgen.serialise_stream(reqs), conc, per, hour)
    return tally


async def point(rig: Rig, target: loadgen.Target, scenario: str, name: str, orders: int,
                warmup: int, run: int, idle_s: float) -> dict[str, Any]:
    tag = f"{scenario}-{name.replace(' ', '')}-{run}"
    await load(rig.redis.url, scenario, tag)
    await send(target, scenario, name, tag + "w", warmup)
    rig.server_count.on()
    rig.redis_count.on()
    began = clock()
    tally = await send(target, scenario, name, tag, orders)
    took = clock() - began
    server, redis = rig.server_count.take(), rig.redis_count.take()
    if tally.errors:
        raise RuntimeError(f"{scenario} {name}: {tally.errors} errors")
    idle_server, idle_redis = await idle_rates(rig, idle_s)
    return {"scenario": scenario, "point": name, "run": run, "orders": orders,
            "reserved": tally.reserved, "seconds": round(took, 1),
            "server_gross_per_order": round(server / orders),
            "redis_gross_per_order": round(redis / orders),
            "server_idle_per_s": round(idle_server), "redis_idle_per_s": round(idle_redis),
            "server_instructions_per_order": round((server - idle_server * took) / orders),
            "redis_instructions_per_order": round((redis - idle_redis * took) / orders)}


async def idle_rates(rig: Rig, seconds: float) -> tuple[float, float]:
    """Instructions per second each process runs with no orders coming: its timers (the
    sweeper, the guard's tick, Redis's cron). Under valgrind a point takes ~50x its
    normal time, and how much longer moves with the machine's load, so the timers' work
    within it is taken off at this rate, leaving what the orders cost."""
    rig.server_count.on()
    rig.redis_count.on()
    began = clock()
    await pause(seconds)
    took = clock() - began
    return rig.server_count.take() / took, rig.redis_count.take() / took


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="instr-") as tmp:
        rig = Rig(Path(tmp))
        try:
            await rig.ready()
            target = loadgen.Target(rig.address, channels=4)
            try:
                for run in range(1, args.runs + 1):
                    for scenario in args.scenarios:
                        for name in args.points:
                            row = await point(rig, target, scenario, name, args.orders,
                                              args.warmup, run, args.idle)
                            print(json.dumps(row), flush=True)
                            rows.append(row)
            finally:
                await target.close()
        finally:
            rig.stop()
    return rows


FIGURES = {"server": "server_instructions_per_order", "redis": "redis_instructions_per_order",
           "server_gross": "server_gross_per_order", "redis_gross": "redis_gross_per_order"}


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scenario and point: each figure's runs and their median."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["scenario"], row["point"])
        m = out.setdefault(key, {"scenario": key[0], "point": key[1],
                                 **{name: [] for name in FIGURES}})
        for name, field in FIGURES.items():
            m[name].append(row[field])
    return [{**m, **{f"{name}_median": statistics.median(m[name]) for name in FIGURES}}
            for m in out.values()]


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=paths.ROOT, check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, cwd=paths.ROOT,
                           check=True).stdout.strip()
    return head + (" (with uncommitted changes)" if dirty else "")


def write(args: argparse.Namespace, rows: list[dict[str, Any]], started: str) -> None:
    table = medians(rows)
    doc = {"command": paths.command("benchmarks.instructions", args.argv),
           "commit": args.commit or commit(), "machine": machine(), "started": started,
           "note": args.note, "rows": rows, "medians": table}
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [(f"Instructions per order counted by callgrind (`{doc['command']}`), code at "
              f"{doc['commit']}, {started}, {doc['machine']}."), "",
             ("Each point sends its orders after a warm-up, counting only while they run; "
              "the server is `benchmarks.server_proc service` (its timers slowed), Redis "
              "its private redis-server (AOF everysec). Instructions per order; net: "
              "less what each process ran per second idle after the point, times the "
              "point's duration; gross: all it ran during the point."),
             ""]
    if args.note:
        lines += [args.note, ""]
    lines += [("| scenario | point | server, net: median (runs) | Redis, net: median (runs) "
               "| server, gross | Redis, gross |"), "|---|---|---|---|---|---|"]
    for m in table:
        cells = [f"{m[f'{name}_median']:,.0f} ({', '.join(f'{v:,}' for v in m[name])})"
                 for name in ("server", "redis")]
        cells += [f"{m[f'{name}_median']:,.0f}" for name in ("server_gross", "redis_gross")]
        lines.append(f"| {m['scenario']} | {m['point']} | {' | '.join(cells)} |")
    (out / f"{args.name}.md").write_text("\n".join(lines) + "\n")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", help="results file name (OUT/NAME.json, .md)")
    p.add_argument("--out", default=str(RESULTS), help="results directory")
    p.add_argument("--scenarios", nargs="+", default=["flash", "broad"],
                   choices=["flash", "broad"])
    p.add_argument("--points", nargs="+", default=list(POINTS), choices=list(POINTS))
    p.add_argument("--orders", type=int, default=1000, help="orders counted per point")
    p.add_argument("--warmup", type=int, default=200, help="orders sent before counting")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--idle", type=float, default=10.0,
                   help="seconds of no load after each point: the timers' rate taken off")
    p.add_argument("--commit", default="", help="the code measured (default: git HEAD)")
    p.add_argument("--note", default="")
    p.add_argument("--merge", nargs="+", default=[], metavar="JSON",
                   help="measure nothing: NAME gets the medians of these runs' rows "
                        "(runs of the same code, taken apart to alternate with another's)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    args.argv = argv
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.merge:
        runs = [json.loads(Path(f).read_text()) for f in args.merge]
        rows = [{**row, "run": i} for i, run in enumerate(runs, 1) for row in run["rows"]]
        write(args, rows, ", ".join(run["started"] for run in runs))
        return 0
    os.environ.setdefault("PYTHONHASHSEED", "0")  # the server's dict and set orders repeat
    rows = asyncio.run(measure(args))
    write(args, rows, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

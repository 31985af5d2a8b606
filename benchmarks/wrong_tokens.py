"""The wrong-token stall: an operator's latency while wrong tokens arrive.

    python -m benchmarks.wrong_tokens [--rate 1000] [--seconds 10] [--scrypt 1 3] [--runs 3]
    CHAOS_SERVICE_PYTHONPATH=/path/to/old/checkout python -m benchmarks.wrong_tokens --label before

Starts a redis-server and `reservation serve` (its own process, auth file with one
operator whose token is stored sha256 and `--scrypt` principals whose tokens are stored
scrypt, as the README recommends for tokens people choose). Per row, first the
operator alone: a GetStock with its right token every 50 ms for `--seconds`; then the
same while `--attackers` client processes send GetStock with random wrong tokens at
`--rate` calls a second in all (1 s deadline each, so a stalled server sheds them as
DEADLINE_EXCEEDED instead of the attack piling up). Reported per row: the operator's
latency (p50, p99, max; calls that did not finish within 5 s count as timeouts) and what
the wrong tokens were answered. Each row is run `--runs` times and the medians reported.

The server runs from this checkout, or from CHAOS_SERVICE_PYTHONPATH (an older commit,
for the "before" figures); `--label` names the results file:
benchmarks/results/wrong-tokens-<label>.{json,md}. Client and server share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.loadgen import percentile
from reservation.access import tokens
from reservation.storage.redis_process import RedisProcess, free_port
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import admin_service_pb2_grpc as apb_grpc
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import reservation_service_pb2_grpc as rpb_grpc
from reservation.v1 import types_pb2

RESULTS = Path(__file__).parent / "results"
OPERATOR_TOKEN = secrets.token_urlsafe(32)
SKU = "WT-1"
PROBE_PERIOD_S = 0.05
PROBE_TIMEOUT_S = 5.0


def auth_file(path: Path, scrypt: int) -> None:
    principals = [{"name": "ops", "role": "operator",
                   "token_hash": tokens.hash_token(OPERATOR_TOKEN)}]
    principals += [{"name": f"person-{i}", "role": "reader",
                    "token_hash": tokens.hash_token(f"a passphrase {i}", "scrypt")}
                   for i in range(scrypt)]
    path.write_text(yaml.safe_dump({"principals": principals}))


class Service:
    def __init__(self, redis_url: str, auth: Path, extra_env: dict[str, str]) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESERVATION_")}
        env.update(RESERVATION_REDIS_URL=redis_url, RESERVATION_PORT=str(self.port),
                   RESERVATION_LOG_LEVEL="ERROR", RESERVATION_AUTH_FILE=str(auth),
                   RESERVATION_ORDER_BUYER_HASH_KEY="bench-buyer-hash-key",
                   RESERVATION_WRITE_BACK_BATCH_KEY="bench-key", **extra_env)
        # `-m` puts the working directory first on sys.path: run from the other checkout.
        cwd = os.environ.get("CHAOS_SERVICE_PYTHONPATH") or None
        if cwd:
            env["PYTHONPATH"] = cwd
        self.proc = subprocess.Popen([sys.executable, "-m", "reservation.cli", "serve"],
                                     env=env, stderr=subprocess.DEVNULL, cwd=cwd)
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
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def attacker(target: str, rate: float, seconds: float) -> None:
    """One attacking process: GetStock with a fresh random token at `rate` a second
    (grpc's C-core futures, paced in 10 ms steps, at most 2,000 outstanding); prints
    {code: count} and the calls it sent as JSON."""
    channel = grpc.insecure_channel(target)
    grpc.channel_ready_future(channel).result(timeout=30)
    call = channel.unary_unary("/reservation.v1.ReservationService/GetStock")
    request = pb.GetStockRequest(sku=SKU).SerializeToString()
    codes: dict[str, int] = {}
    outstanding: list[Any] = []

    def done(future: Any) -> None:
        try:
            future.result()
            code = "OK"
        except grpc.RpcError as exc:
            code = exc.code().name
        codes[code] = codes.get(code, 0) + 1

    start = time.perf_counter()
    sent = skipped = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate) - sent - skipped
        outstanding = [f for f in outstanding if not f.done()]
        for _ in range(max(0, due)):
            if len(outstanding) >= 2000:
                skipped += 1
                continue
            token = secrets.token_urlsafe(24)
            future = call.future(request, timeout=1.0,
                                 metadata=(("authorization", f"Bearer {token}"),))
            future.add_done_callback(done)
            outstanding.append(future)
            sent += 1
        time.sleep(0.01)
    for f in outstanding:
        try:
            f.result()
        except grpc.RpcError:
            pass
    time.sleep(0.1)
    print(json.dumps({"codes": codes, "sent": sent, "skipped": skipped}))


async def probe(target: str, seconds: float) -> dict[str, Any]:
    """The operator: GetStock with its right token every PROBE_PERIOD_S."""
    latencies: list[float] = []
    codes: dict[str, int] = {}
    metadata = (("authorization", f"Bearer {OPERATOR_TOKEN}"),)

    async def one(stub: Any) -> None:
        started = time.perf_counter()
        try:
            await stub.GetStock(pb.GetStockRequest(sku=SKU), timeout=PROBE_TIMEOUT_S,
                                metadata=metadata)
            code = "OK"
        except grpc.aio.AioRpcError as exc:
            code = exc.code().name
        codes[code] = codes.get(code, 0) + 1
        if code == "OK":
            latencies.append(time.perf_counter() - started)

    async with grpc.aio.insecure_channel(target) as channel:
        stub = rpb_grpc.ReservationServiceStub(channel)
        await one(stub)  # connected
        latencies.clear()
        codes.clear()
        tasks = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            tasks.append(asyncio.create_task(one(stub)))
            await asyncio.sleep(PROBE_PERIOD_S)
        await asyncio.gather(*tasks)
    xs = sorted(latencies)
    ms = lambda q: round(percentile(xs, q), 2) if xs else None
    return {"calls": len(tasks), "codes": codes, "p50_ms": ms(0.5), "p99_ms": ms(0.99),
            "max_ms": round(xs[-1] * 1000, 2) if xs else None}


async def attack(target: str, rate: float, seconds: float, processes: int
                 ) -> list[asyncio.subprocess.Process]:
    return [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.wrong_tokens", "--attacker", target,
        str(rate / processes), str(seconds), stdout=asyncio.subprocess.PIPE)
        for _ in range(processes)]


async def collect(procs: list[asyncio.subprocess.Process]) -> dict[str, Any]:
    codes: dict[str, int] = {}
    sent = skipped = 0
    for proc in procs:
        out, _ = await proc.communicate()
        part = json.loads(out.decode().strip().splitlines()[-1])
        sent += part["sent"]
        skipped += part["skipped"]
        for code, n in part["codes"].items():
            codes[code] = codes.get(code, 0) + n
    return {"sent": sent, "not_sent_2000_outstanding": skipped, "codes": codes}


async def one_run(redis_url: str, workdir: Path, scrypt: int, args: argparse.Namespace
                  ) -> dict[str, Any]:
    path = workdir / f"principals-{scrypt}.yaml"
    auth_file(path, scrypt)
    service = Service(redis_url, path, dict(kv.split("=", 1) for kv in args.server_env))
    try:
        await service.ready()
        async with grpc.aio.insecure_channel(service.target) as ch:
            await apb_grpc.AdminServiceStub(ch).LoadStock(apb.LoadStockRequest(
                mode=apb.LOAD_MODE_SET, items=[types_pb2.StockItem(
                    sku=SKU, warehouse_id="W1", quantity=10)]),
                metadata=(("authorization", f"Bearer {OPERATOR_TOKEN}"),), timeout=10)
        idle = await probe(service.target, args.seconds)
        procs = await attack(service.target, args.rate, args.seconds + 1.0, args.attackers)
        await asyncio.sleep(1.0)  # the attack is under way
        attacked = await probe(service.target, args.seconds)
        wrong = await collect(procs)
        return {"scrypt_principals": scrypt, "idle": idle, "attacked": attacked,
                "wrong_tokens": wrong}
    finally:
        service.stop()


def median_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(phase: str, key: str) -> float | None:
        xs = [r[phase][key] for r in runs if r[phase][key] is not None]
        return round(statistics.median(xs), 2) if xs else None
    out: dict[str, Any] = {"scrypt_principals": runs[0]["scrypt_principals"],
                           "runs": runs}
    for phase in ("idle", "attacked"):
        out[phase] = {k: med(phase, k) for k in ("p50_ms", "p99_ms", "max_ms")}
        out[phase]["not_ok"] = statistics.median(
            sum(n for c, n in r[phase]["codes"].items() if c != "OK") for r in runs)
        out[phase]["calls"] = statistics.median(r[phase]["calls"] for r in runs)
    return out


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace, commit: str) -> str:
    lines = [f"# Wrong-token stall ({args.label}: code at {commit})", "",
             (f"`python -m benchmarks.wrong_tokens {' '.join(args.argv)}`: machine "
              f"{platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}; the server, Redis, the operator's client and "
              f"{args.attackers} attacking processes share the cores. Load average before "
              f"the run {args.load_before}, after {args.load_after}. Medians of "
              f"{args.runs} runs; the operator calls GetStock every "
              f"{PROBE_PERIOD_S * 1000:.0f} ms for {args.seconds:g} s, wrong tokens arrive "
              f"at {args.rate:g}/s (1 s deadline each)."), "",
             ("| scrypt principals | operator alone p50 / p99 / max ms | "
             "during the attack p50 / p99 / max ms | operator calls not OK (of) | "
             "wrong tokens sent (all runs) | their answers (all runs) |"),
             "|---|---|---|---|---|---|"]
    for row in rows:
        i, a = row["idle"], row["attacked"]
        sent = sum(r["wrong_tokens"]["sent"] for r in row["runs"])
        codes: dict[str, int] = {}
        for r in row["runs"]:
            for c, n in r["wrong_tokens"]["codes"].items():
                codes[c] = codes.get(c, 0) + n
        lines.append(f"| {row['scrypt_principals']} | {i['p50_ms']} / {i['p99_ms']} / "
                     f"{i['max_ms']} | {a['p50_ms']} / {a['p99_ms']} / {a['max_ms']} | "
                     f"{a['not_ok']:g} ({a['calls']:g}) | {sent} | "
                     f"{', '.join(f'{c} {n}' for c, n in sorted(codes.items()))} |")
    return "\n".join(lines) + "\n"


def service_commit() -> str:
    root = os.environ.get("CHAOS_SERVICE_PYTHONPATH") or str(Path(__file__).parents[1])
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--",
                                "reservation"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} with uncommitted changes" if dirty else commit


async def main(args: argparse.Namespace) -> None:
    args.load_before = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = []
    with tempfile.TemporaryDirectory() as tmp, \
            RedisProcess(data_dir=Path(tmp) / "redis") as redis_proc:
        for scrypt in args.scrypt:
            runs = [await one_run(redis_proc.url, Path(tmp), scrypt, args)
                    for _ in range(args.runs)]
            rows.append(median_row(runs))
    args.load_after = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    commit = service_commit()
    RESULTS.mkdir(exist_ok=True)
    name = f"wrong-tokens-{args.label}"
    (RESULTS / f"{name}.json").write_text(json.dumps(
        {"commit": commit, "args": {k: v for k, v in vars(args).items()}, "rows": rows},
        indent=2, default=str))
    text = markdown(rows, args, commit)
    (RESULTS / f"{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--attacker"]:
        attacker(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=1000.0, help="wrong tokens a second")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--scrypt", type=int, nargs="+", default=[1, 3])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--attackers", type=int, default=2, help="attacking processes")
    p.add_argument("--label", default="after")
    p.add_argument("--server-env", nargs="*", default=[], metavar="RESERVATION_X=V",
                   help="more settings for the server")
    parsed = p.parse_args()
    parsed.argv = sys.argv[1:]
    asyncio.run(main(parsed))

"""A Redis failover under load (part of `make chaos`): what clients were told that the
promoted replica no longer has, with RESERVATION_REDIS_WAIT_REPLICAS 0 and 1.

The system: a primary with one replica and three `redis-server --sentinel` (quorum 2,
down after 1 s; tests/helpers/redis_servers.py's LocalSentinelGroup), two `reservation serve`
processes that find the primary through the sentinels, and workers reserving one unit
at a time across 64 shards and confirming half of what they hold. Two faults, each run
with the wait off and on:

- **kill**: the primary is killed with SIGKILL under load; Sentinel promotes the
  replica; the old primary is started again as a replica of the new one (as a
  restarted pod's start script asks Sentinel for the primary).
- **freeze**: the primary is frozen (SIGSTOP) under load until Sentinel has promoted a
  replica, then let go (SIGCONT): for a moment it is a primary again that nobody
  replicates from (a partitioned primary coming back), until Sentinel turns it into a
  replica of the new one, dropping whatever it took meanwhile.
- **partition**: the replicas replicate through a relay (Partition) that stops passing
  on what the primary sends, as a network cut between them would, for a second under
  load; then the primary is killed (SIGKILL) and started again as in kill. On loopback
  the two faults above leave
  nothing unsent (what the primary wrote is in the replica's socket by the time the
  client has its answer); across a network a cut is how writes go missing.

Afterwards, through the service (now on the promoted replica): every order answered
RESERVED must still be held or confirmed, every acknowledged Confirm confirmed, and the
write-back stream must hold a HELD event for every answered hold and a CONFIRMED event
for every acknowledged confirm. With the wait on, nothing may be missing (a violation
fails `make chaos`); with it off, what is missing is counted: the price of the default.
The service must also take new writes after the failover (it follows the promotion).

One replica, not two: WAIT 1 with two replicas is satisfied by either, and Sentinel may
promote the other (it picks by the offsets it last read, which can be a second old), so
acknowledged writes can still be lost; the wait must count every replica that may be
promoted. With one replica the promoted one is the one that confirmed; while it is the
primary and the old one is not back yet, writes wait for a replica and are UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import redis.asyncio as aioredis

from benchmarks.chaos.processes import Child, healthy
from reservation.storage import keys
from reservation.storage.redis_process import free_port
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import admin_service_pb2_grpc as apb_grpc
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import reservation_service_pb2_grpc as rpb_grpc
from reservation.v1 import types_pb2 as pb
from tests.helpers.redis_servers import LocalSentinelGroup

SHARDS = 64
SKUS = [f"FO-{i}" for i in range(16)]
SCENARIOS = ("kill", "freeze", "partition")
LOAD_BEFORE_S = 2.0  # load before the fault
LOAD_AFTER_S = 2.0  # load after the promotion
PARTITION_S = 1.0  # the replicas hear nothing from the primary this long before it dies
BOUND_S = 90.0  # a failover or check not done by then failed
RETRY = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
SERVICE_ENV = {
    "RESERVATION_DEFAULT_HOLD_TTL_MS": "3600000",  # nothing expires during a run
    "RESERVATION_REDIS_TIMEOUT_MS": "700",
    "RESERVATION_REDIS_WAIT_TIMEOUT_MS": "300",
    "RESERVATION_GRACE_PERIOD_S": "0.5",
    "RESERVATION_LOG_LEVEL": "ERROR",
}


@dataclass
class Told:
    """What the clients were told."""

    held: dict[str, str] = field(default_factory=dict)
    """Order id -> reservation id, for every order answered RESERVED."""
    confirmed: set[str] = field(default_factory=set)
    """Orders whose Confirm was acknowledged."""
    unavailable: int = 0
    """Calls that ended UNAVAILABLE or past their deadline (no answer: nothing told)."""


@dataclass
class FailoverResult:
    scenario: str
    wait: int
    told: Told
    lost_holds: list[str]
    lost_confirms: list[str]
    lost_events: list[str]
    promoted_after_s: float
    writes_after: bool
    """A Reserve through the service succeeded after the failover."""

    @property
    def lost(self) -> int:
        return len(self.lost_holds) + len(self.lost_confirms) + len(self.lost_events)

    @property
    def ok(self) -> bool:
        """The guarantee: nothing lost with the wait on; the service follows either way."""
        return self.writes_after and (self.wait == 0 or self.lost == 0)


class Services:
    """`reservation serve` processes finding Redis through the sentinels."""

    def __init__(self, workdir: Path, redis_env: dict[str, str], wait: int,
                 count: int = 2) -> None:
        """`redis_env`: how they find Redis (the sentinels, or a Cluster's URL)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESERVATION_")}
        env.update(SERVICE_ENV)
        env.update(redis_env)
        env.update({"RESERVATION_REDIS_WAIT_REPLICAS": str(wait),
                    "RESERVATION_DATA_DIR": str(workdir / "data")})
        self.children: list[Child] = []
        self.targets: list[str] = []
        for i in range(count):
            port = free_port()
            self.targets.append(f"127.0.0.1:{port}")
            self.children.append(Child(
                f"service-{i}", [sys.executable, "-m", "reservation.cli", "serve"],
                env | {"RESERVATION_PORT": str(port)}, workdir / f"service-{i}.log"))

    def start(self) -> None:
        deadline = time.monotonic() + BOUND_S
        for child, target in zip(self.children, self.targets):
            child.start()
            while not healthy(target):
                if time.monotonic() > deadline or not child.running:
                    raise RuntimeError(f"{child.name} did not come up; see {child.log}")
                time.sleep(0.1)

    def stop(self) -> None:
        for child in self.children:
            child.stop()


async def call(stubs: Sequence[rpb_grpc.ReservationServiceStub], rng: random.Random,
               method: str, request: object, told: Told, tries: int = 3) -> object | None:
    """The answer, or None when every try was UNAVAILABLE or late (nothing was told)."""
    for _ in range(tries):
        try:
            return await getattr(rng.choice(stubs), method)(request, timeout=2.0)
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in RETRY:
                raise
            await asyncio.sleep(0.05)
    told.unavailable += 1
    return None


async def worker(stubs: Sequence[rpb_grpc.ReservationServiceStub], prefix: str, n: int,
                 rng: random.Random, told: Told, stop: asyncio.Event) -> None:
    for i in range(10**9):
        if stop.is_set():
            return
        oid = f"{prefix}-{n}-{i}"
        request = rpb.ReserveRequest(channel="failover", order_id=oid, buyer_id=f"b-{n}",
                                     lines=[pb.OrderLine(sku=rng.choice(SKUS), quantity=1)])
        with contextlib.suppress(grpc.aio.AioRpcError):
            answer = await call(stubs, rng, "Reserve", request, told)
            r = answer.reservation if answer is not None else None  # type: ignore[attr-defined]
            if r is None or r.state != pb.RESERVATION_STATE_RESERVED:
                continue
            told.held[oid] = r.reservation_id
            if rng.random() < 0.5:
                key = {"channel": "failover", "order_id": oid}
                if await call(stubs, rng, "Confirm", rpb.ConfirmRequest(**key), told):
                    told.confirmed.add(oid)


async def state_of(stub: rpb_grpc.ReservationServiceStub, oid: str) -> str:
    deadline = time.monotonic() + BOUND_S
    while True:
        try:
            reply = await stub.GetReservation(rpb.GetReservationRequest(
                channel="failover", order_id=oid), timeout=5)
            return pb.ReservationState.Name(reply.reservation.state)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return "NOT_FOUND"
            if exc.code() not in RETRY or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def events(primary_port: int) -> set[tuple[str, str]]:
    """(type, order id) of every write-back event in every shard's stream."""
    found: set[tuple[str, str]] = set()
    async with aioredis.Redis(host="127.0.0.1", port=primary_port,
                              decode_responses=True) as r:
        for shard in range(SHARDS):
            for _, fields in await r.xrange(keys.write_back(shard)):
                if fields.get("ch") == "failover":
                    found.add((fields["t"], fields["oid"]))
    return found


async def writes_again(stubs: Sequence[rpb_grpc.ReservationServiceStub], prefix: str) -> bool:
    """A new Reserve is answered RESERVED within the bound (the service follows)."""
    deadline = time.monotonic() + BOUND_S
    request = rpb.ReserveRequest(channel="failover", order_id=f"{prefix}-after",
                                 buyer_id="after", lines=[pb.OrderLine(sku=SKUS[0], quantity=1)])
    while time.monotonic() < deadline:
        try:
            reply = await stubs[0].Reserve(request, timeout=2.0)
            return reply.reservation.state == pb.RESERVATION_STATE_RESERVED
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in RETRY:
                raise
            await asyncio.sleep(0.2)
    return False


async def fault(group: LocalSentinelGroup, scenario: str,
                partition: Partition | None) -> tuple[float, int]:
    """Injects the fault; returns the seconds until Sentinel named a new primary, and the
    old primary's port."""
    assert group.primary is not None and group.primary.pid is not None
    old, pid = group.primary_port(), group.primary.pid
    if partition is not None:
        partition.cut()
        await asyncio.sleep(PARTITION_S)  # acknowledged (wait 0) but never replicated
    started = time.monotonic()
    if scenario in ("kill", "partition"):
        dead = group.primary
        dead.kill9()
        await asyncio.to_thread(group.wait_for_promotion, old, BOUND_S)
        promoted_after = time.monotonic() - started
        # Back as a replica of the primary Sentinel names now, as a restarted pod's start
        # script does (left to Sentinel, an empty restarted primary was converted only
        # after a wait that one run under load did not see end within the bound).
        dead.extra_config["replicaof"] = f"127.0.0.1 {group.primary_port()}"
        await asyncio.to_thread(dead.start)
        return promoted_after, old
    os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.to_thread(group.wait_for_promotion, old, BOUND_S)
    finally:
        os.kill(pid, signal.SIGCONT)  # back as a primary nobody follows, until demoted
    return time.monotonic() - started, old


class Partition:
    """A TCP relay the replicas replicate through; after cut() what the primary sends no
    longer reaches them (read and dropped), while they still reach it."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.cutting = False
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self.cutting = True

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       from_primary: bool) -> None:
            try:
                while data := await src.read(65536):
                    if from_primary and self.cutting:
                        continue
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(up_reader, writer, True), pipe(reader, up_writer, False))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()


async def through(partition: Partition, group: LocalSentinelGroup) -> None:
    """Point every replica at the relay and wait until they are in sync through it."""
    import redis

    for replica in group.replicas:
        with redis.Redis(host="127.0.0.1", port=replica.port) as r:
            r.execute_command("REPLICAOF", "127.0.0.1", partition.port)
    deadline = time.monotonic() + BOUND_S
    await asyncio.sleep(0.5)  # the replicas drop the direct link before reporting in
    while not await asyncio.to_thread(group.replicas_online):
        if time.monotonic() > deadline:
            raise TimeoutError("replicas did not sync through the relay")
        await asyncio.sleep(0.1)


def wait_until_settled(group: LocalSentinelGroup, old_port: int) -> None:
    """Block until the primary the sentinels name has the old primary as an online
    replica, or (after a second failover, which a loaded box can provoke) the old primary
    is the named primary with the other node online behind it: either way there is again
    a replica for writes to wait for, and the checks read from the named primary."""
    import redis

    deadline = time.monotonic() + BOUND_S
    seen = "nothing"
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError, OSError):
            primary = group.primary_port()
            with redis.Redis(host="127.0.0.1", port=primary, decode_responses=True,
                             socket_timeout=2) as r:
                info = r.info("replication")
            online = {int(v["port"]) for k, v in info.items() if k.startswith("slave")
                      and isinstance(v, dict) and v.get("state") == "online"}
            seen = f"primary {primary} ({info.get('role')}), online replicas {sorted(online)}"
            if info.get("role") == "master" and (old_port in online or
                                                 (primary == old_port and online)):
                return
        time.sleep(0.1)
    logs = "\n".join(tail(p) for p in sorted(group.base_dir.glob("sentinel-*/sentinel.log")))
    raise TimeoutError(f"no primary with the old primary {old_port} beside it as an online "
                       f"replica after {BOUND_S:.0f} s; last seen: {seen}\n{logs}")


def tail(path: Path, lines: int = 15) -> str:
    return f"--- {path.parent.name}\n" + "\n".join(
        path.read_text(errors="replace").splitlines()[-lines:])


async def run_failover(workdir: Path, scenario: str, wait: int, workers: int = 8,
                       seed: int = 1) -> FailoverResult:
    workdir.mkdir(parents=True, exist_ok=True)
    # The partition's relay must outlive the run: Sentinel would point the replicas back
    # at the primary itself once failover-timeout passed.
    group = LocalSentinelGroup(workdir / "redis", replicas=1, failover_timeout_ms=120_000)
    await asyncio.to_thread(group.start)
    services = Services(workdir, {"RESERVATION_REDIS_SENTINELS": group.sentinels,
                                  "RESERVATION_REDIS_SENTINEL_MASTER": group.master}, wait)
    partition = None
    try:
        if scenario == "partition":
            assert group.primary is not None
            partition = Partition(group.primary.port)
            await partition.start()
            await through(partition, group)
        await asyncio.to_thread(services.start)
        prefix = f"{scenario}-w{wait}"

        async def faulted() -> float:
            return (await fault(group, scenario, partition))[0]

        async def settled() -> None:
            # The old primary, back, is made a replica of the new one (a frozen one drops
            # what it took meanwhile); then writes have a replica to wait for again.
            await asyncio.to_thread(wait_until_settled, group, old_port)

        old_port = group.primary_port()
        told, promoted_after, writes_after, states = await under_load(
            services.targets, prefix, workers, seed, faulted, settled)
        have = await events(group.primary_port())
    finally:
        await asyncio.to_thread(services.stop)
        await asyncio.to_thread(group.stop)
        if partition is not None:
            await partition.stop()
    return judged(scenario, wait, told, states, have, promoted_after, writes_after)


async def under_load(targets: Sequence[str], prefix: str, workers: int, seed: int,
                     faulted: Callable[[], Awaitable[float]],
                     settled: Callable[[], Awaitable[None]],
                     ) -> tuple[Told, float, bool, dict[str, str]]:
    """Load stock through the services, run the workers, inject the fault (`faulted`:
    the seconds until the promotion) while they run, wait until the Redis side is
    `settled`; then whether writes go through again, and every answered order's state."""
    channels = [grpc.aio.insecure_channel(t) for t in targets]
    stubs = [rpb_grpc.ReservationServiceStub(c) for c in channels]
    try:
        await apb_grpc.AdminServiceStub(channels[0]).LoadStock(apb.LoadStockRequest(
            items=[pb.StockItem(sku=s, warehouse_id="W1", quantity=100_000) for s in SKUS],
            mode=apb.LOAD_MODE_SET), timeout=10)
        told, stop, rng = Told(), asyncio.Event(), random.Random(seed)
        load = [asyncio.create_task(worker(stubs, prefix, n, random.Random(rng.random()),
                                           told, stop)) for n in range(workers)]
        await asyncio.sleep(LOAD_BEFORE_S)
        promoted_after = await faulted()
        await asyncio.sleep(LOAD_AFTER_S)
        stop.set()
        await asyncio.gather(*load)
        await settled()
        writes_after = await writes_again(stubs, prefix)
        states = {oid: await state_of(stubs[0], oid) for oid in told.held}
    finally:
        for channel in channels:
            await channel.close()
    return told, promoted_after, writes_after, states


def judged(scenario: str, wait: int, told: Told, states: dict[str, str],
           have: set[tuple[str, str]], promoted_after: float,
           writes_after: bool) -> FailoverResult:
    """What the clients were told that is missing afterwards (`states`: each answered
    order's state; `have`: the write-back events found)."""
    kept = {"RESERVATION_STATE_RESERVED", "RESERVATION_STATE_CONFIRMED"}
    lost_holds = sorted(o for o, s in states.items() if s not in kept)
    lost_confirms = sorted(o for o in told.confirmed
                           if states.get(o) != "RESERVATION_STATE_CONFIRMED")
    lost_events = sorted([f"HELD {o}" for o in told.held if ("HELD", o) not in have]
                         + [f"CONFIRMED {o}" for o in told.confirmed
                            if ("CONFIRMED", o) not in have])
    return FailoverResult(scenario, wait, told, lost_holds, lost_confirms, lost_events,
                          promoted_after, writes_after)


def table(results: Sequence[FailoverResult]) -> str:
    lines = [("| fault | replica wait | holds answered | confirms acknowledged | "
             "calls unanswered | promoted after s | holds lost | confirms lost | "
             "events lost | writes after |"), "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.scenario} | {r.wait} | {len(r.told.held)} | "
                     f"{len(r.told.confirmed)} | {r.told.unavailable} | "
                     f"{r.promoted_after_s:.1f} | {len(r.lost_holds)} | "
                     f"{len(r.lost_confirms)} | {len(r.lost_events)} | "
                     f"{'yes' if r.writes_after else '**no**'} |")
    return "\n".join(lines)


def violations(results: Sequence[FailoverResult]) -> str:
    out = []
    for r in results:
        if not r.writes_after:
            out.append(f"- {r.scenario}, wait {r.wait}: no write succeeded after the failover")
        if r.wait and r.lost:
            for what in (r.lost_holds + r.lost_confirms + r.lost_events)[:20]:
                out.append(f"- {r.scenario}, wait {r.wait}: lost {what}")
    return "\n".join(out)

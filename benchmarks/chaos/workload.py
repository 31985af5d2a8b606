"""Traffic during the faults: what adapters do, and what they were told.

Workers send single-shard orders, multi-shard orders (two SKUs in different shards) and
queueable orders of a scarce SKU, each Reserve with a 2 s deadline and up to 4 tries
(same idempotency key) against any replica; then confirm, release or leave each hold to
expire. Every answer is recorded: the checkers compare it with what Redis and the WMS
ledger say afterwards.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc

from reservation.storage import keys
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import reservation_service_pb2_grpc as rpb_grpc
from reservation.v1 import types_pb2 as pb

if TYPE_CHECKING:
    from benchmarks.chaos.orders import HubRecord

SHARDS = 64
TRIES = 4
DEADLINE_S = 2.0
RESERVED = pb.RESERVATION_STATE_RESERVED
QUEUED = pb.RESERVATION_STATE_QUEUED
RETRY = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
         grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED}


def sku_pairs(count: int, prefix: str = "CH") -> list[tuple[str, str]]:
    """SKU pairs whose shards differ (the second one later), for multi-shard orders."""
    pairs, i = [], 0
    while len(pairs) < count:
        a, b = f"{prefix}-A{i}", f"{prefix}-B{i}"
        if keys.shard_of(a, SHARDS) < keys.shard_of(b, SHARDS):
            pairs.append((a, b))
        i += 1
    return pairs


PAIRS = sku_pairs(3)
SINGLES = ["CH-S0", "CH-S1"]
SCARCE = "CH-HOT"
WAREHOUSES = ("W1", "W2")
STOCK = {**{s: 150 for p in PAIRS for s in p}, **{s: 200 for s in SINGLES}, SCARCE: 15}


@dataclass
class Record:
    order_id: str
    lines: list[tuple[str, int]]
    multi: bool
    answers: list[str] = field(default_factory=list)
    """States answered to Reserve (RESERVED, QUEUED, REJECTED...)."""
    expires_at_ms: int = 0
    allocations: int = 0
    confirm: str = ""  # "" | ok | refused | unknown
    release: str = ""


@dataclass
class Traffic:
    records: dict[str, Record] = field(default_factory=dict)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    """Final error codes per RPC after all tries (UNKNOWN/INTERNAL are violations)."""
    hub: dict[str, HubRecord] = field(default_factory=dict)
    """The order hub's orders (benchmarks/chaos/orders.py) by order id."""


class Client:
    """Calls with retries against any replica; `stub` is the service's stub class."""

    def __init__(self, targets: list[str], rng: random.Random,
                 stub: type = rpb_grpc.ReservationServiceStub) -> None:
        self.channels = [grpc.aio.insecure_channel(t) for t in targets]
        self.stubs = [stub(c) for c in self.channels]
        self.rng = rng

    async def call(self, method: str, request: object, traffic: Traffic, tries: int = TRIES,
                   deadline_s: float = DEADLINE_S) -> object | None:
        """The answer, or None after `tries` failures (the outcome is then unknown); raises
        for a definite refusal (FAILED_PRECONDITION, NOT_FOUND, ...)."""
        last: grpc.aio.AioRpcError | None = None
        for _ in range(tries):
            stub = self.rng.choice(self.stubs)
            try:
                return await getattr(stub, method)(request, timeout=deadline_s)
            except grpc.aio.AioRpcError as exc:
                last = exc
                if exc.code() not in RETRY:
                    traffic.errors[f"{method} {exc.code().name}"] += 1
                    raise
                await asyncio.sleep(0.05)
        if tries == TRIES:
            traffic.errors[f"{method} {last.code().name if last else '?'} (gave up)"] += 1
        return None

    async def close(self) -> None:
        for c in self.channels:
            await c.close()


def new_order(n: int, rng: random.Random) -> tuple[Record, bool]:
    roll = rng.random()
    if roll < 0.5:
        a, b = rng.choice(PAIRS)
        lines = [(a, rng.randint(1, 2)), (b, rng.randint(1, 2))]
        return Record(f"m-{n}", lines, True), False
    if roll < 0.8:
        return Record(f"s-{n}", [(rng.choice(SINGLES), rng.randint(1, 3))], False), False
    return Record(f"q-{n}", [(SCARCE, 1)], False), True


async def one_order(client: Client, n: int, rng: random.Random, traffic: Traffic) -> None:
    record, allow_queue = new_order(n, rng)
    traffic.records[record.order_id] = record
    request = rpb.ReserveRequest(
        channel="chaos", order_id=record.order_id, buyer_id=f"buyer-{n % 50}",
        lines=[pb.OrderLine(sku=s, quantity=q) for s, q in record.lines],
        allow_queue=allow_queue)
    # A quarter of the adapters never re-send (they crashed, or gave up after one short
    # try) and confirm anyway when the buyer's payment arrives: the issue-14 break.
    hasty = rng.random() < 0.25
    try:
        answer = await client.call("Reserve", request, traffic,
                                   *((1, 1.0) if hasty else ()))
    except grpc.aio.AioRpcError:
        return
    if answer is None:
        if hasty and rng.random() < 0.6:
            key = {"channel": "chaos", "order_id": record.order_id}
            record.confirm = await outcome(client, "Confirm", rpb.ConfirmRequest(**key),
                                           traffic)
        return
    r = answer.reservation  # type: ignore[attr-defined]
    record.answers.append(pb.ReservationState.Name(r.state).removeprefix("RESERVATION_STATE_"))
    if r.state != RESERVED:
        return
    record.expires_at_ms = r.expires_at.ToMilliseconds()
    record.allocations = len(r.allocations)
    action = rng.random()
    key = {"channel": "chaos", "order_id": record.order_id}
    await asyncio.sleep(rng.uniform(0, 0.3))
    if action < 0.5:
        record.confirm = await outcome(client, "Confirm", rpb.ConfirmRequest(**key), traffic)
    elif action < 0.7:
        record.release = await outcome(client, "Release", rpb.ReleaseRequest(**key), traffic)


async def outcome(client: Client, method: str, request: object, traffic: Traffic) -> str:
    try:
        return "ok" if await client.call(method, request, traffic) is not None else "unknown"
    except grpc.aio.AioRpcError:
        return "refused"


OneOrder = Callable[[Client, int, random.Random, Traffic], Awaitable[None]]


async def run_workers(targets: list[str], rng: random.Random, workers: int,
                      stop: asyncio.Event, traffic: Traffic, one: OneOrder = one_order,
                      stub: type = rpb_grpc.ReservationServiceStub) -> None:
    """`workers` loops of `one` order after another (numbered) until `stop`."""
    client = Client(targets, random.Random(rng.random()), stub)
    counter = iter(range(10**9))

    async def worker(seed: float) -> None:
        wrng = random.Random(seed)
        while not stop.is_set():
            await one(client, next(counter), wrng, traffic)

    try:
        await asyncio.gather(*(worker(rng.random()) for _ in range(workers)))
    finally:
        await client.close()

"""A light asyncio gRPC load generator: many calls in flight, latency percentiles.

Requests are built and serialised before the clock starts, and responses are parsed
only as far as needed (state and allocations), so the generator spends its CPU on
gRPC itself. Closed loop (`concurrency` callers, each sending its next call when the
last one returns) for the throughput curves; open loop (`rate` calls/s on a fixed
schedule, latency measured from the scheduled send, so a slow server cannot hide its
queueing) for "p99 at half the peak".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import grpc

from reservation.api import connection
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import types_pb2 as types_pb

SERVICE = "/reservation.v1.ReservationService/"
RESERVED = types_pb.RESERVATION_STATE_RESERVED


@dataclass
class Tally:
    """What the responses said: the client's ledger of the run."""

    calls: int = 0
    orders: int = 0
    reserved: int = 0
    rejected: int = 0
    errors: int = 0
    units_reserved: int = 0
    held_refs: list[tuple[str, str, int]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def count(self, r: types_pb.Reservation) -> None:
        self.orders += 1
        if r.state == RESERVED:
            self.reserved += 1
            units = sum(a.quantity for a in r.allocations)
            self.units_reserved += units
            self.held_refs.append((r.channel, r.order_id, units))
        else:
            self.rejected += 1


@dataclass
class Result:
    system: str
    mode: str
    concurrency: int
    seconds: float
    calls: int
    orders: int
    reserved: int
    rejected: int
    errors: int
    orders_per_s: float
    calls_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rate: float = 0.0
    note: str = ""

    def row(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i] * 1000


def result(system: str, mode: str, concurrency: int, seconds: float, t: Tally,
           rate: float = 0.0, note: str = "") -> Result:
    lat = sorted(t.latencies)
    return Result(system, mode, concurrency, round(seconds, 3), t.calls, t.orders, t.reserved,
                  t.rejected, t.errors, round(t.orders / seconds, 1), round(t.calls / seconds, 1),
                  round(percentile(lat, 0.50), 3), round(percentile(lat, 0.95), 3),
                  round(percentile(lat, 0.99), 3), rate, note)


class Target:
    """Channels to one server and raw (bytes in, message out) callables on them."""

    def __init__(self, address: str, channels: int = 4, tls: connection.Tls | None = None) -> None:
        """`tls`: the same client TLS options as every other client (clients/connection.py)."""
        opts = [("grpc.use_local_subchannel_pool", 1)]  # one TCP connection per channel
        self.channels = [connection.aio_channel(address, tls, options=opts)
                         for _ in range(channels)]

    def unary(self, i: int, method: str, response: Any) -> Any:
        return self.channels[i % len(self.channels)].unary_unary(
            SERVICE + method, request_serializer=None, response_deserializer=response.FromString)

    def stream(self, i: int) -> Any:
        return self.channels[i % len(self.channels)].stream_stream(
            SERVICE + "ReserveStream", request_serializer=None,
            response_deserializer=pb.ReserveStreamResponse.FromString)

    async def close(self) -> None:
        for ch in self.channels:
            await ch.close()


def serialise_unary(reqs: Sequence[pb.ReserveRequest]) -> list[bytes]:
    return [r.SerializeToString() for r in reqs]


def serialise_batches(reqs: Sequence[pb.ReserveRequest], size: int) -> list[bytes]:
    return [pb.ReserveBatchRequest(requests=reqs[i:i + size]).SerializeToString()
            for i in range(0, len(reqs), size)]


def serialise_stream(reqs: Sequence[pb.ReserveRequest]) -> list[bytes]:
    return [pb.ReserveStreamRequest(request=r).SerializeToString() for r in reqs]


async def _closed(target: Target, payloads: list[bytes], concurrency: int, seconds: float,
                  method: str, response: Any, count: Callable[[Tally, Any], None]
                  ) -> tuple[Tally, float]:
    """Closed loop: `concurrency` callers each send the next payload as soon as their
    previous call returned, until the payloads or the time run out."""
    tally, it = Tally(), iter(payloads)
    calls = [target.unary(i, method, response) for i in range(concurrency)]
    deadline = time.perf_counter() + seconds

    async def caller(call: Any) -> None:
        for payload in it:
            t0 = time.perf_counter()
            if t0 > deadline:
                return
            try:
                resp = await call(payload)
            except grpc.aio.AioRpcError:
                tally.errors += 1
                continue
            tally.latencies.append(time.perf_counter() - t0)
            tally.calls += 1
            count(tally, resp)

    start = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in calls))
    return tally, time.perf_counter() - start


def _count_batch(tally: Tally, resp: pb.ReserveBatchResponse) -> None:
    for r in resp.results:
        if r.error_code:
            tally.errors += 1
        else:
            tally.count(r.reservation)


async def closed_unary(target: Target, payloads: list[bytes], concurrency: int,
                       seconds: float) -> tuple[Tally, float]:
    return await _closed(target, payloads, concurrency, seconds, "Reserve",
                         pb.ReserveResponse, lambda t, resp: t.count(resp.reservation))


async def closed_batch(target: Target, payloads: list[bytes], concurrency: int,
                       seconds: float) -> tuple[Tally, float]:
    return await _closed(target, payloads, concurrency, seconds, "ReserveBatch",
                         pb.ReserveBatchResponse, _count_batch)


async def closed_stream(target: Target, payloads: list[bytes], streams: int, window: int,
                        seconds: float) -> tuple[Tally, float]:
    """`streams` bidirectional streams, each with up to `window` orders in flight."""
    tally, it = Tally(), iter(payloads)
    deadline = time.perf_counter() + seconds

    async def one(i: int) -> None:
        call = target.stream(i)()
        slots = asyncio.Semaphore(window)
        sent: list[float] = []  # send times, FIFO: latency per message, order-insensitive

        async def write() -> None:
            for payload in it:
                await slots.acquire()
                if time.perf_counter() > deadline:
                    break
                sent.append(time.perf_counter())
                await call.write(payload)
            await call.done_writing()

        writer = asyncio.create_task(write())
        k = 0
        while (resp := await call.read()) is not grpc.aio.EOF:
            tally.latencies.append(time.perf_counter() - sent[k])
            k += 1
            slots.release()
            tally.calls += 1
            if resp.error_code:
                tally.errors += 1
            else:
                tally.count(resp.reservation)
        await writer

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(streams)))
    return tally, time.perf_counter() - start


async def open_unary(target: Target, payloads: list[bytes], rate: float, seconds: float,
                     max_outstanding: int = 4000) -> tuple[Tally, float]:
    """Calls sent on a fixed schedule; latency counts from the scheduled time."""
    tally = Tally()
    calls = [target.unary(i, "Reserve", pb.ReserveResponse) for i in range(16)]
    outstanding: set[asyncio.Task[None]] = set()

    async def fire(call: Any, payload: bytes, due: float) -> None:
        try:
            resp = await call(payload)
        except grpc.aio.AioRpcError:
            tally.errors += 1
            return
        tally.latencies.append(time.perf_counter() - due)
        tally.calls += 1
        tally.count(resp.reservation)

    start = time.perf_counter()
    n = min(len(payloads), int(rate * seconds))
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(outstanding) >= max_outstanding:
            tally.errors += 1  # the server fell this far behind: count it, do not wait
            continue
        task = asyncio.create_task(fire(calls[i % len(calls)], payloads[i], due))
        outstanding.add(task)
        task.add_done_callback(outstanding.discard)
    if outstanding:
        await asyncio.gather(*outstanding)
    return tally, time.perf_counter() - start

"""The lean Python peer: the reserve a team might write in an afternoon with grpc.aio and
redis-py, the yardstick the service's hot path is held to (`make bench`, system "lean").

No interceptors (no auth, limits, metrics, validation), no domain layer: each event-loop
turn's orders go to Redis as ONE call of lean_reserve.lua, whatever API they came by
(Reserve, ReserveBatch, ReserveStream), and each caller gets its own answer. It keeps
the job's guarantees (idempotent, all lines or none, a sale's window and buyer limit,
a write-back event per allocation) on the service's own keys, so the harness loads and
checks it like the service. What it leaves out is said in lean_reserve.lua.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from reservation.domain.shards import shard_of
from reservation.storage import keys
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import reservation_service_pb2_grpc as pb_grpc
from reservation.v1 import types_pb2 as types_pb

SCRIPT = (Path(__file__).parent / "lean_reserve.lua").read_text()
HOLD_TTL_MS = 3_600_000  # as the benchmark's service: nothing expires during a run
STATES = {"RESERVED": types_pb.RESERVATION_STATE_RESERVED,
          "REJECTED": types_pb.RESERVATION_STATE_REJECTED}


def pack(req: pb.ReserveRequest, shards: int) -> str:
    """One order as lean_reserve.lua takes it: one tab-joined argument."""
    ref = keys.order_ref(req.channel, req.order_id)
    home = shard_of(req.lines[0].sku, shards) if req.lines else 0
    parts = [keys.hold(home, ref), keys.expiry(home), req.buyer_id, str(len(req.lines))]
    for ln in req.lines:
        parts += [keys.prefix(shard_of(ln.sku, shards)), ln.sku, str(ln.quantity)]
    return "\t".join(parts)


def reservation(req: pb.ReserveRequest, answer: str) -> types_pb.Reservation:
    state, reason, sku, allocs = answer.split("\t")
    out = types_pb.Reservation(
        reservation_id=keys.order_ref(req.channel, req.order_id), channel=req.channel,
        order_id=req.order_id, buyer_id=req.buyer_id, state=STATES[state], failed_sku=sku,
        lines=req.lines)
    if reason:
        out.reject_reason = types_pb.RejectReason.Value(f"REJECT_REASON_{reason}")
    for a in allocs.split(";") if allocs else ():
        s, wh, q = a.rsplit("|", 2)
        out.allocations.add(sku=s, warehouse_id=wh, quantity=int(q))
    return out


class LeanServicer(pb_grpc.ReservationServiceServicer):
    def __init__(self, redis_url: str, shards: int = 64) -> None:
        self.redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
        self.script = self.redis.register_script(SCRIPT)
        self.shards = shards
        self.queued: list[tuple[str, asyncio.Future[str]]] = []

    def submit(self, req: pb.ReserveRequest) -> asyncio.Future[str]:
        """Queue an order for this loop turn's script call; its answer comes back here."""
        future = asyncio.get_running_loop().create_future()
        self.queued.append((pack(req, self.shards), future))
        if len(self.queued) == 1:
            asyncio.get_running_loop().call_soon(self.flush)
        return future

    def flush(self) -> None:
        batch, self.queued = self.queued, []
        asyncio.ensure_future(self.send(batch))

    async def send(self, batch: list[tuple[str, asyncio.Future[str]]]) -> None:
        try:
            answers = await self.script(args=[HOLD_TTL_MS, len(batch), *(p for p, _ in batch)])
        except RedisError as exc:  # every caller of the batch gets the error
            for _, f in batch:
                f.set_exception(exc)
            return
        for (_, f), a in zip(batch, answers, strict=True):
            f.set_result(a)

    async def Reserve(self, request: pb.ReserveRequest,
                      context: grpc.aio.ServicerContext) -> pb.ReserveResponse:
        return pb.ReserveResponse(reservation=reservation(request, await self.submit(request)))

    async def ReserveBatch(self, request: pb.ReserveBatchRequest,
                           context: grpc.aio.ServicerContext) -> pb.ReserveBatchResponse:
        answers = await asyncio.gather(*(self.submit(r) for r in request.requests))
        return pb.ReserveBatchResponse(results=[
            pb.ReserveBatchResult(reservation=reservation(r, a))
            for r, a in zip(request.requests, answers, strict=True)])

    async def ReserveStream(self, request_iterator: AsyncIterator[pb.ReserveStreamRequest],
                            context: grpc.aio.ServicerContext
                            ) -> AsyncIterator[pb.ReserveStreamResponse]:
        # Read ahead: every message already here joins this turn's call; answers go back
        # in order as they come.
        answers: asyncio.Queue[tuple[pb.ReserveRequest, asyncio.Future[str]] | None] = \
            asyncio.Queue()

        async def read() -> None:
            async for message in request_iterator:
                answers.put_nowait((message.request, self.submit(message.request)))
            answers.put_nowait(None)

        reader = asyncio.ensure_future(read())
        try:
            while (item := await answers.get()) is not None:
                req, future = item
                yield pb.ReserveStreamResponse(channel=req.channel, order_id=req.order_id,
                                               reservation=reservation(req, await future))
        finally:
            reader.cancel()

    async def GetStock(self, request: pb.GetStockRequest,
                       context: grpc.aio.ServicerContext) -> pb.GetStockResponse:
        shard = shard_of(request.sku, self.shards)
        counters = keys.parse_counters(await self.redis.hgetall(keys.stock(shard, request.sku)))
        return pb.GetStockResponse(sku=request.sku, levels=[
            types_pb.StockLevel(warehouse_id=wh, available=c.get("available", 0),
                                held=c.get("held", 0), confirmed=c.get("confirmed", 0),
                                returned=c.get("returned", 0), loaded=c.get("loaded", 0))
            for wh, c in sorted(counters.items())])

    async def stop(self) -> None:
        await self.redis.aclose()

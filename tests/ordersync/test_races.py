"""Concurrent writers of one order: every call ends in a defined answer (the hub retries
a lost version race; ABORTED at worst), never INTERNAL, and the order's stock is held
once."""

from __future__ import annotations

import asyncio
from collections import Counter

import grpc

from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc
from tests.helpers.orders import channel_order, get_order
from tests.helpers.reservations import counters, levels

WRITERS = 8
CALLS = 25


async def test_eight_writers_syncing_one_order_never_get_internal(hub, stubs, app):
    """Defect 5: 8 writers, rising modified times, distinct content."""
    channels = [grpc.aio.insecure_channel(app.target) for _ in range(WRITERS)]

    async def writer(k: int) -> list[str]:
        stub = order_service_pb2_grpc.OrderServiceStub(channels[k])
        codes = []
        for i in range(CALLS):
            o = channel_order("R1", "PENDING_PAYMENT", ("SKU-1", 1),
                              modified_s=10_000 + i * WRITERS + k, detail=f"{i}-{k} Race Rd")
            try:
                reply = await stub.SyncOrders(opb.SyncOrdersRequest(orders=[o]), timeout=30)
                codes.append(opb.SyncOutcome.Name(reply.results[0].outcome))
            except grpc.aio.AioRpcError as exc:
                codes.append(exc.code().name)
        return codes

    try:
        answers = Counter(c for codes in await asyncio.gather(
            *(writer(k) for k in range(WRITERS))) for c in codes)
    finally:
        for ch in channels:
            await ch.close()

    assert set(answers) <= {"SYNC_OUTCOME_CREATED", "SYNC_OUTCOME_UPDATED",
                            "SYNC_OUTCOME_STALE", "ABORTED"}, answers
    assert answers["SYNC_OUTCOME_CREATED"] == 1
    order = await get_order(hub, "R1")
    # Each write that answered UPDATED made exactly one version.
    assert order.version == 1 + answers["SYNC_OUTCOME_UPDATED"]
    assert order.reservation_state == "RESERVED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (9, 1, 0)

"""WriteBackService: the WMS pulls batches of stock changes and acknowledges them.

Every call first resolves its consumer group and asks the caller's grant whether it
may use it: a WMS pulls and acknowledges for its own groups only (an adapter may not
at all, see reservation/access/roles.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from reservation.access import grant
from reservation.clock import now_ms
from reservation.domain.events import WriteBackEvent
from reservation.server.convert import duration_ms, to_duration, to_timestamp
from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import write_back_service_pb2 as pb
from reservation.v1 import write_back_service_pb2_grpc as pb_grpc
from reservation.writeback import WriteBack
from reservation.writeback.reconcile import Difference, LedgerTotal, Reconciler


def event(e: WriteBackEvent) -> pb.WriteBackEvent:
    return pb.WriteBackEvent(
        event_id=e.event_id,
        type=pb.WriteBackEventType.Value(  # type: ignore[arg-type]  # an enum value is an int
            f"WRITE_BACK_EVENT_TYPE_{e.type.value}"),
        channel=e.channel,
        order_id=e.order_id,
        reservation_id=e.reservation_id,
        sku=e.sku,
        warehouse_id=e.warehouse_id,
        quantity=e.quantity,
        occurred_at=to_timestamp(e.occurred_at_ms),
        delivery_count=e.delivery_count,
        detail=e.detail,
    )


class WriteBackServicer(pb_grpc.WriteBackServiceServicer):
    def __init__(self, write_back: WriteBack) -> None:
        self.write_back = write_back

    async def PullBatch(self, request: pb.PullBatchRequest,
                        context: grpc.aio.ServicerContext) -> pb.PullBatchResponse:
        grant.group(self.write_back.group(request.group))
        batch = await self.write_back.pull(request.group, request.consumer, request.max_events,
                                           duration_ms("wait", request.wait))
        return pb.PullBatchResponse(batch_id=batch.batch_id,
                                    events=[event(e) for e in batch.events])

    async def AckBatch(self, request: pb.AckBatchRequest,
                       context: grpc.aio.ServicerContext) -> pb.AckBatchResponse:
        grant.group(self.write_back.batch_group(request.batch_id))
        return pb.AckBatchResponse(acknowledged=await self.write_back.ack(request.batch_id))

    async def GetWriteBackStats(self, request: pb.GetWriteBackStatsRequest,
                                context: grpc.aio.ServicerContext) -> pb.GetWriteBackStatsResponse:
        grant.group(self.write_back.group(request.group))
        s = await self.write_back.stats(request.group)
        return pb.GetWriteBackStatsResponse(
            pending=s.pending,
            oldest_unacknowledged_age=to_duration(s.oldest_unacknowledged_age_ms),
            delivered_total=s.delivered_total,
            acknowledged_total=s.acknowledged_total,
            dead_lettered=s.dead_lettered,
            undelivered=s.undelivered,
            dead_lettered_total=s.dead_lettered_total,
        )

    async def ListWriteBackDeadLetters(
            self, request: pb.ListWriteBackDeadLettersRequest,
            context: grpc.aio.ServicerContext) -> pb.ListWriteBackDeadLettersResponse:
        grant.group(self.write_back.group(request.group))
        events = await self.write_back.dead_letters(request.group, request.page_size)
        return pb.ListWriteBackDeadLettersResponse(events=[event(e) for e in events])

    async def ReplayWriteBackDeadLetters(
            self, request: pb.ReplayWriteBackDeadLettersRequest,
            context: grpc.aio.ServicerContext) -> pb.ReplayWriteBackDeadLettersResponse:
        grant.group(self.write_back.group(request.group))
        replayed = await self.write_back.replay(request.group, list(request.event_ids))
        return pb.ReplayWriteBackDeadLettersResponse(replayed=replayed,
                                                     replayed_at=to_timestamp(now_ms()))


# -- AdminService.Reconcile: the ledger side of write-back, converted here ---------------

def ledger_totals(rows: Iterable[admin_pb.LedgerTotal]) -> list[LedgerTotal]:
    return [LedgerTotal(r.sku, r.warehouse_id, loaded=r.loaded, available=r.available,
                        held=r.held, confirmed=r.confirmed, returned=r.returned)
            for r in rows]


def difference(d: Difference) -> admin_pb.ReconcileDifference:
    return admin_pb.ReconcileDifference(
        sku=d.sku, warehouse_id=d.warehouse_id,
        kind=admin_pb.DifferenceKind.Value(  # type: ignore[arg-type]  # an enum value is an int
            f"DIFFERENCE_KIND_{d.kind.value}"),
        counter=d.counter, service_value=d.service_value, ledger_value=d.ledger_value,
        pending_events=d.pending_events)


async def reconcile(reconciler: Reconciler,
                    request: admin_pb.ReconcileRequest) -> admin_pb.ReconcileResponse:
    diffs = await reconciler.reconcile(ledger_totals(request.ledger), request.group)
    return admin_pb.ReconcileResponse(differences=[difference(d) for d in diffs],
                                      checked_at=to_timestamp(now_ms()))

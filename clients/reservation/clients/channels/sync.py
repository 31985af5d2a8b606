"""The poller's sink: mapped orders to the hub's `SyncOrders`, in batches.

An order the hub refuses alone (SYNC_OUTCOME_REFUSED: a move its state table forbids,
such as a late "paid" for a cancelled order, or lines that differ) is parked: kept in the
adapter's store with the hub's code and reason (the hub counts its refusals per channel
in reservation_order_sync_outcomes_total), and the poll goes on, so the cursor moves past
it. A batch the service refuses as a whole (INVALID_ARGUMENT names one
order's field) is sent again one order at a time, so the bad order is parked the same
way and the rest still arrive. UNAVAILABLE, a passed deadline and ABORTED (writers
racing on one order) are retried with backoff: the same orders again are harmless (the
hub answers UNCHANGED).

An order in refund that the hub took (not refused, not stale) then has its mapped refund
reasons set, one SetAfterSalesReason per SKU, in the adapter's name with the channel's
code and words: the same reason again is UNCHANGED (no new history). A reason the
adapter's table does not list is counted and logged, never guessed: service staff set
it. A reason service staff set is kept: the hub refuses a channel's reason over it
(FAILED_PRECONDITION), counted as KEPT.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.clients.channels.base import CanonicalOrder, RefundReason
from reservation.clients.channels.store import AdapterStore
from reservation.v1 import order_service_pb2 as pb
from reservation.v1 import order_service_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED,
             grpc.StatusCode.ABORTED)
BATCH = 200
T = TypeVar("T")


def _ts(ms: int) -> Timestamp | None:
    if not ms:
        return None
    t = Timestamp()
    t.FromMilliseconds(ms)
    return t


def to_proto(o: CanonicalOrder) -> pb.ChannelOrder:
    return pb.ChannelOrder(
        channel=o.channel, shop=o.shop, order_id=o.order_id, state=o.state,
        raw_status=o.raw_status, modified_at=_ts(o.modified_at_ms),
        created_at=_ts(o.created_at_ms), paid_at=_ts(o.paid_at_ms),
        receiver_phone=o.receiver_phone, address=pb.Address(**asdict(o.address)),
        lines=[pb.OrderItem(sku=ln.sku, quantity=ln.quantity, price=ln.price_cents)
               for ln in o.lines],
        total=o.total_cents, paid=o.paid_cents, actor=f"adapter:{o.channel}")


class GrpcSink:
    """Callable sink for the poller: returns when the hub has every order (or recorded
    the ones it refused)."""

    def __init__(self, channel: grpc.Channel, store: AdapterStore,
                 metadata: Sequence[tuple[str, str]] = (), timeout_s: float = 10.0,
                 attempts: int = 8, sleep: Callable[[float], None] = time.sleep) -> None:
        self.stub = pb_grpc.OrderServiceStub(channel)
        self.store, self.metadata = store, tuple(metadata)
        self.timeout_s, self.attempts, self.sleep = timeout_s, attempts, sleep
        self.outcomes: dict[str, int] = {}
        self.parked = 0
        """Orders parked by this sink (not parked before for the same reason)."""
        self.reasons: dict[str, int] = {}
        """Refund reasons by what became of them: UPDATED, UNCHANGED, KEPT (service
        staff's stands), UNMAPPED (not in the adapter's table), REFUSED (the hub said
        INVALID_ARGUMENT, e.g. a SKU not on the order)."""

    def __call__(self, orders: list[CanonicalOrder]) -> None:
        for i in range(0, len(orders), BATCH):
            self._send(orders[i:i + BATCH])

    def _call(self, orders: list[CanonicalOrder]) -> pb.SyncOrdersResponse:
        request = pb.SyncOrdersRequest(orders=[to_proto(o) for o in orders])
        return self._retried(lambda: self.stub.SyncOrders(
            request, timeout=self.timeout_s, metadata=self.metadata))

    def _retried(self, call: Callable[[], T]) -> T:
        for attempt in range(self.attempts):
            try:
                return call()
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE or attempt == self.attempts - 1:
                    raise
                self.sleep(min(5.0, 0.1 * 2 ** attempt))
        raise AssertionError("unreachable")

    def _send(self, orders: list[CanonicalOrder]) -> None:
        try:
            answer = self._call(orders)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            if len(orders) == 1:
                self._park(orders[0], f"SyncOrders INVALID_ARGUMENT: {exc.details()}")
                return
            for o in orders:  # find the bad one; the others go through
                self._send([o])
            return
        for o, r in zip(orders, answer.results, strict=True):
            name = pb.SyncOutcome.Name(r.outcome).removeprefix("SYNC_OUTCOME_")
            self.outcomes[name] = self.outcomes.get(name, 0) + 1
            if r.outcome == pb.SYNC_OUTCOME_REFUSED:
                self._park(o, f"SyncOrders {r.refused_code}: {r.refused_reason}")
            elif r.outcome != pb.SYNC_OUTCOME_STALE:
                for reason in o.refund_reasons:
                    self._set_reason(o, reason)

    def _set_reason(self, o: CanonicalOrder, r: RefundReason) -> None:
        if not r.level1:
            log.warning("%s/%s: refund reason %r of %s is not in the adapter's table: "
                        "left for service staff", o.channel, o.order_id, r.code, r.sku)
            self._count("UNMAPPED")
            return
        request = pb.SetAfterSalesReasonRequest(
            key=pb.OrderKey(channel=o.channel, shop=o.shop, order_id=o.order_id),
            sku=r.sku, level1=r.level1, level2=r.level2, note=r.words,
            actor=f"adapter:{o.channel}", channel_reason=r.code)
        try:
            answer = self._retried(lambda: self.stub.SetAfterSalesReason(
                request, timeout=self.timeout_s, metadata=self.metadata))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                self._count("KEPT")  # service staff's reason stands
                return
            if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            log.error("%s/%s: refund reason of %s refused: %s", o.channel, o.order_id,
                      r.sku, exc.details())
            self._count("REFUSED")
            return
        self._count(pb.SyncOutcome.Name(answer.outcome).removeprefix("SYNC_OUTCOME_"))

    def _count(self, what: str) -> None:
        self.reasons[what] = self.reasons.get(what, 0) + 1

    def _park(self, o: CanonicalOrder, why: str) -> None:
        """Kept for a person (once per order and reason); the poll goes on past it. The
        hub counts what it refused (reservation_order_sync_outcomes_total)."""
        if self.store.refuse(o.channel, o.shop, o.order_id, why, asdict(o)):
            log.error("parked %s/%s: %s", o.channel, o.order_id, why)
            self.parked += 1

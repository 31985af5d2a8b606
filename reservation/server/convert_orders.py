"""Protobuf <-> order hub dataclasses, at the edge and nowhere else."""

from __future__ import annotations

import json
from typing import cast

from google.protobuf.timestamp_pb2 import Timestamp

from reservation.domain import validation
from reservation.errors import InvalidArgument
from reservation.interception import checks
from reservation.interception.checks import Facts
from reservation.ordersync.events import OrderEvent
from reservation.ordersync.finding import Found
from reservation.ordersync.fulfilment import Row
from reservation.ordersync.model import Address, Line, Order, RawOrder, Shipment
from reservation.ordersync.overdue import Evaluation, OverdueOrder
from reservation.ordersync.results import SyncResult
from reservation.server.convert import timestamp_ms, to_duration, to_timestamp
from reservation.server.interceptors.errors import status_code
from reservation.v1 import order_service_pb2 as pb


def _ms(field: str, ts: Timestamp) -> int:
    if ts.seconds < 0:
        raise InvalidArgument(field, "must not be before 1970")
    return timestamp_ms(ts)


def timestamp(field: str, ts: Timestamp) -> int:
    """A request's time in epoch ms (0: unset), refused before 1970 naming `field`."""
    return _ms(field, ts)


def _ts(ms: int) -> Timestamp | None:
    return to_timestamp(ms) if ms else None


def address(a: pb.Address) -> Address:
    return Address(a.province, a.city, a.district, a.detail)


def raw_order(o: pb.ChannelOrder) -> RawOrder:
    return RawOrder(
        channel=o.channel, shop=o.shop, order_id=o.order_id, state=o.state,
        raw_status=o.raw_status, modified_at_ms=_ms("modified_at", o.modified_at),
        created_at_ms=_ms("created_at", o.created_at), receiver_phone=o.receiver_phone,
        address=address(o.address),
        lines=tuple(Line(ln.sku, ln.quantity, ln.price, ln.brand, ln.category,
                         ln.warehouse_id, ln.gift_of) for ln in o.lines),
        total_cents=o.total, paid_cents=o.paid, paid_at_ms=_ms("paid_at", o.paid_at),
        actor=o.actor)


def shipment(s: pb.Shipment) -> Shipment:
    validation.code("shipment.warehouse_id", s.warehouse_id, required=False)
    return Shipment(s.carrier, s.tracking_number, _ms("shipment.shipped_at", s.shipped_at),
                    s.warehouse_id)


def to_address(a: Address) -> pb.Address:
    return pb.Address(province=a.province, city=a.city, district=a.district, detail=a.detail)


def to_order(o: Order) -> pb.Order:
    return pb.Order(
        channel=o.channel, shop=o.shop, order_id=o.order_id, state=o.state.value,
        version=o.version, channel_state=o.channel_state.value, raw_status=o.raw_status,
        modified_at=_ts(o.modified_at_ms), created_at=_ts(o.created_at_ms),
        buyer_hash=o.buyer_hash, address=to_address(o.address),
        lines=[pb.OrderItem(sku=ln.sku, quantity=ln.quantity, price=ln.price_cents,
                            brand=ln.brand, category=ln.category,
                            warehouse_id=ln.warehouse_id, gift_of=ln.gift_of,
                            line_id=ln.line_id) for ln in o.lines],
        total=o.total_cents, paid=o.paid_cents, paid_at=_ts(o.paid_at_ms),
        routed_at=_ts(o.routed_at_ms), shipped_at=_ts(o.shipped_at_ms),
        delivered_at=_ts(o.delivered_at_ms),
        shipments=[pb.Shipment(carrier=s.carrier, tracking_number=s.tracking_number,
                               shipped_at=_ts(s.shipped_at_ms), warehouse_id=s.warehouse_id)
                   for s in o.shipments],
        review=list(o.review), warehouses=list(o.warehouses),
        reservation_state=o.reservation_state, updated_at=_ts(o.updated_at_ms),
        intercept_failed=bool(o.intercept_failed),
        routed_warehouses=list(o.routed_warehouses), routing_version=o.routing_version,
        carrier=o.carrier, carrier_cost=o.carrier_cost_cents, priority=o.priority,
        wms_state=o.wms_state, wms_raw_status=o.wms_raw_status,
        wms_reported_at=_ts(o.wms_at_ms))


def to_found(f: Found) -> pb.FoundOrder:
    return pb.FoundOrder(
        order=to_order(f.order), step=f.step, last_actor=f.last_actor,
        last_changed_at=_ts(f.last_change_ms), ship_by=_ts(f.ship_by_ms),
        deliver_by=_ts(f.deliver_by_ms), held_because=f.held_because, carrier=f.carrier,
        tracking_number=f.tracking_number)


def to_overdue(e: Evaluation, orders: list[OverdueOrder]) -> pb.ListOverdueOrdersResponse:
    return pb.ListOverdueOrdersResponse(
        evaluated_at=_ts(e.at_ms), scanned=e.scanned,
        counts=[pb.OverdueCount(node=node, channel=channel, orders=n)
                for (node, channel), n in sorted(e.pairs().items())],
        orders=[pb.OverdueOrder(
            key=pb.OrderKey(channel=o.channel, shop=o.shop, order_id=o.order_id),
            node=o.node, state=o.state, since=_ts(o.since_ms),
            threshold=to_duration(o.threshold_ms), overdue_by=to_duration(o.overdue_ms))
            for o in orders])


def facts(o: pb.ChannelOrder, where: str) -> Facts:
    """The payment method and pre-shipping facts, checked (naming `where`'s fields)."""
    f = o.pre_shipping
    return checks.validated(where, Facts(
        payment=o.payment_method, credit_grade=f.credit_grade,
        customer_type=f.customer_type, tax_id=f.tax_id, weight_g=f.weight_grams,
        promised_hours=f.promised_hours, params=dict(f.custom_params)))


def outcome(value: str) -> pb.SyncOutcome:
    # Value() is typed as int; the enum's number is what the message field takes.
    return cast(pb.SyncOutcome, pb.SyncOutcome.Value(f"SYNC_OUTCOME_{value}"))


def to_result(r: SyncResult, key: tuple[str, str, str]) -> pb.SyncResult:
    o = r.order
    refused = r.refused
    return pb.SyncResult(channel=key[0], shop=key[1], order_id=key[2],
                         outcome=outcome(r.outcome.value),
                         state=o.state.value if o else "", version=o.version if o else 0,
                         stock_reason=r.stock_reason,
                         suspected_duplicates=list(r.duplicates),
                         refused_code=status_code(refused).name if refused else "",
                         refused_reason=refused.message if refused else "",
                         review_id=r.review_id, suspected_duplicate=r.suspected_duplicate)


def to_event(e: OrderEvent) -> pb.OrderEvent:
    return pb.OrderEvent(
        event_id=e.event_id, type=e.type.value, channel=e.channel, shop=e.shop,
        order_id=e.order_id, version=e.version, at=to_timestamp(e.at_ms), actor=e.actor,
        reason=e.reason, from_state=e.from_state, to_state=e.to_state,
        changes_json=json.dumps(e.changes, ensure_ascii=False, sort_keys=True),
        delivery_count=e.delivery_count)


def to_stats(r: Row) -> pb.FulfilmentStats:
    return pb.FulfilmentStats(
        channel=r.channel, warehouse_id=r.warehouse_id, day=r.day, created=r.created,
        paid=r.paid, routed=r.routed, shipped=r.shipped, delivered=r.delivered,
        on_time_rate=r.on_time_rate,
        median_pay_to_route=to_duration(Row.median(r.to_route)),
        median_pay_to_ship=to_duration(Row.median(r.to_ship)),
        late=[pb.LateOrder(key=pb.OrderKey(channel=k[0], shop=k[1], order_id=k[2]),
                           state=state, reason=why) for k, state, why in r.late],
        promised=r.promised, on_promise_rate=r.on_promise_rate, lifecycles=r.lifecycles,
        complete_rate=r.complete_rate, consistent_rate=r.consistent_rate,
        inconsistent=[pb.Inconsistency(
            key=pb.OrderKey(channel=i.key[0], shop=i.key[1], order_id=i.key[2]),
            hub_state=i.hub_state, channel_state=i.channel_state,
            channel_raw_status=i.channel_raw_status, since=_ts(i.since_ms),
            wms_state=i.wms_state, wms_raw_status=i.wms_raw_status, disagree=list(i.disagree))
            for i in r.inconsistent])

"""Protobuf <-> routing domain conversion, at the edge and nowhere else."""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import json_format, struct_pb2

from reservation.domain import validation
from reservation.errors import InvalidArgument
from reservation.routing.backtest import Report, Sample, Tally
from reservation.routing.decision import Decision, Explained
from reservation.routing.definitions import RulesView
from reservation.routing.matching import Destination, RouteLine, RouteOrder
from reservation.routing.simulation import Simulation
from reservation.routing.validate import validate_order
from reservation.routing.warehouses import Warehouse
from reservation.server.convert import to_timestamp
from reservation.settings import Settings
from reservation.v1 import reservation_service_pb2 as rs_pb
from reservation.v1 import routing_service_pb2 as pb

# Money crosses the API in exact cents (int64); the deprecated double fields in yuan are
# still read when the cents field is unset. The routing domain keeps yuan as floats (its
# rules compare amounts in yuan); cents / 100 is the one conversion, here at the edge.
MAX_AMOUNT_CENTS = 10**14          # the routing domain's bound: 1e12 yuan
MAX_COST_CENTS = 100_000_000       # warehouses.py's bound: 1,000,000 yuan


def yuan(msg: Any, cents_name: str, yuan_name: str, field: str, top: int) -> float:
    """The amount in yuan from `cents_name` when set (checked 0..top, and against the
    deprecated `yuan_name` if that is set too), else from `yuan_name` as sent."""
    old = getattr(msg, yuan_name)
    if not msg.HasField(cents_name):
        return float(old)
    cents = getattr(msg, cents_name)
    if not 0 <= cents <= top:
        raise InvalidArgument(field, f"must be 0..{top} cents, got {cents}")
    if old and not (math.isfinite(old) and round(old * 100) == cents):
        raise InvalidArgument(field, f"is {cents} cents but the deprecated {yuan_name} says "
                                     f"{old!r} yuan: send {cents_name} alone")
    return cents / 100


def cents(amount_yuan: float) -> int:
    return round(amount_yuan * 100)


def warehouse(msg: pb.Warehouse) -> Warehouse:
    return Warehouse(
        warehouse_id=msg.warehouse_id, name=msg.name, region=msg.region,
        province=msg.province, city=msg.city, latitude=msg.latitude,
        longitude=msg.longitude, capabilities=tuple(msg.capabilities),
        daily_capacity=msg.daily_capacity, cutoff_hour=msg.cutoff_hour or 24,
        cost_per_order=yuan(msg, "cost_per_order_cents", "cost_per_order",
                            "warehouse.cost_per_order_cents", MAX_COST_CENTS),
        priority=msg.priority,
        safety_stock=msg.safety_stock, active=not msg.disabled)


def to_warehouse(wh: Warehouse, orders_today: int = 0) -> pb.Warehouse:
    return pb.Warehouse(
        warehouse_id=wh.warehouse_id, name=wh.name, region=wh.region, province=wh.province,
        city=wh.city, latitude=wh.latitude, longitude=wh.longitude,
        capabilities=list(wh.capabilities), daily_capacity=wh.daily_capacity,
        cutoff_hour=wh.cutoff_hour, cost_per_order=wh.cost_per_order,
        cost_per_order_cents=cents(wh.cost_per_order), priority=wh.priority,
        safety_stock=wh.safety_stock, disabled=not wh.active, orders_today=orders_today)


def document(field: str, msg: struct_pb2.Struct) -> dict[str, Any]:
    """A rule file from a Struct; whole numbers come back as ints (Struct has doubles)."""
    if not msg.fields:
        raise InvalidArgument(field, "must hold a rule set ({\"rules\": [...]})")
    return _ints(json_format.MessageToDict(msg))


def _ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def to_document(doc: Any) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(doc)
    return s


def to_rules(view: RulesView) -> pb.RoutingRules:
    rv = view.record
    msg = pb.RoutingRules(version=rv.version, document=to_document(rv.document),
                          comment=rv.comment, rolled_back_to=rv.rolled_back_to,
                          effective_weights=dict(view.weights),
                          effective_load_threshold=view.load_threshold)
    if rv.created_at_ms:
        msg.created_at.CopyFrom(to_timestamp(rv.created_at_ms))
    return msg


def _destination(d: pb.Destination) -> Destination:
    return Destination(d.province, d.city, d.district, d.region, d.address)


def route_order(msg: pb.RouteRequest) -> RouteOrder:
    return RouteOrder(
        lines=tuple(RouteLine(ln.sku, ln.quantity, ln.category, ln.brand)
                    for ln in msg.lines),
        destination=_destination(msg.destination), channel=msg.channel,
        order_id=msg.order_id,
        amount=yuan(msg, "amount_cents", "amount", "amount_cents", MAX_AMOUNT_CENTS),
        payment=msg.payment_method,
        customer_grade=msg.customer_grade, promised_hours=msg.promised_hours)


def reserve_route_order(msg: rs_pb.ReserveRequest) -> RouteOrder:
    """The routing view of a Reserve with a destination."""
    attrs = msg.route
    if len(attrs.lines) > len(msg.lines):
        raise InvalidArgument("route.lines", "has more entries than lines")
    extra = list(attrs.lines) + [pb.RouteLine()] * (len(msg.lines) - len(attrs.lines))
    return RouteOrder(
        lines=tuple(RouteLine(ln.sku, ln.quantity, x.category, x.brand)
                    for ln, x in zip(msg.lines, extra, strict=True)),
        destination=_destination(msg.destination), channel=msg.channel,
        order_id=msg.order_id,
        amount=yuan(attrs, "amount_cents", "amount", "route.amount_cents", MAX_AMOUNT_CENTS),
        payment=attrs.payment_method,
        customer_grade=attrs.customer_grade, promised_hours=attrs.promised_hours)


def has_destination(msg: rs_pb.ReserveRequest) -> bool:
    return msg.HasField("destination")


def explain(detail: int, field: str, default: bool) -> bool:
    """Whether a RoutingDetail asks for the explanation (UNSPECIFIED: `default`, the
    call's). An unknown number (proto3 keeps it) is the caller's mistake, named."""
    if detail == pb.ROUTING_DETAIL_UNSPECIFIED:
        return default
    if detail == pb.ROUTING_DETAIL_EXPLAINED:
        return True
    if detail == pb.ROUTING_DETAIL_DECISION:
        return False
    raise InvalidArgument(field, f"must be ROUTING_DETAIL_DECISION or "
                                 f"ROUTING_DETAIL_EXPLAINED, got {detail}")


def _candidates(e: Explained, group: pb.CandidateGroup) -> None:
    """Straight from the kernel's rows, built in place (`add`: a message handed to a
    repeated field would be copied)."""
    for j in e.by_score:
        score = e.scores[j]
        allowed = math.isfinite(score)
        t = e.terms[j]
        c = group.candidates.add(warehouse_id=e.ids[j], name=e.names[j], allowed=allowed,
                                 score=score if allowed else 0.0, note=e.notes[j],
                                 preferred=e.ids[j] in e.preferred)
        terms = c.terms
        terms.distance, terms.load, terms.shipments, terms.cost, terms.priority = t


def decision(d: Decision, explained: bool = True) -> pb.RoutingDecision:
    """The decision's message; its explanation (groups, decided_by) when `explained`
    and the decision has one (a decision made without it has none to write)."""
    p = d.place
    msg = pb.RoutingDecision(
        order_id=d.order_id, review=d.review, review_reason=d.review_reason, rush=d.rush,
        rules_version=d.rules_version, matched_rules=d.matched_rules, notes=d.notes,
        routed=d.routed)
    dest = msg.destination
    dest.province, dest.city, dest.district, dest.region = (p.province, p.city, p.district,
                                                            p.region)
    dest.latitude, dest.longitude, dest.level = p.latitude, p.longitude, p.level
    for ln in d.lines:
        line = msg.lines.add(sku=ln.sku, quantity=ln.quantity, group=ln.group,
                             candidates=ln.candidates,
                             decided_by=ln.decided_by if explained else "", rules=ln.rules)
        for w, q in ln.allocations:
            line.allocations.add(warehouse_id=w, quantity=q)
    if not explained:
        return msg
    for g, e in enumerate(d.explained):
        _candidates(e, msg.groups.add(skus=[ln.sku for ln in d.lines if ln.group == g]))
    return msg


def simulation(s: Simulation) -> pb.SimulateRoutingResponse:
    return pb.SimulateRoutingResponse(
        orders=s.orders, changed=s.changed, match_ratio=s.match_ratio,
        current_version=s.current_version,
        changes=[pb.WarehouseChange(from_warehouse_id=a, to_warehouse_id=b, orders=n)
                 for (a, b), n in sorted(s.changes.items(), key=lambda kv: -kv[1])])




def historical(msg: pb.HistoricalOrder, field: str, settings: Settings) -> Sample:
    """One uploaded historical order, checked as Route checks an order (field named)."""
    order = RouteOrder(
        lines=tuple(RouteLine(ln.sku, ln.quantity, ln.category, ln.brand)
                    for ln in msg.lines),
        destination=_destination(msg.destination), channel=msg.channel,
        order_id=msg.order_id, amount=msg.amount_cents / 100, payment=msg.payment_method)
    if msg.amount_cents < 0:
        raise InvalidArgument(f"{field}.amount_cents", "must not be negative")
    validate_order(order, settings, field)
    validation.code(f"{field}.shipped_warehouse_id", msg.shipped_warehouse_id,
                    required=False)
    for i, w in enumerate(msg.decided_warehouses):
        validation.code(f"{field}.decided_warehouses[{i}]", w)
    return Sample(order, tuple(sorted(msg.decided_warehouses)), 0, msg.shipped_warehouse_id)


def _tally(t: Tally) -> pb.BacktestTally:
    return pb.BacktestTally(orders=t.orders, matched=t.matched, match_rate=t.rate)


def backtest(r: Report) -> pb.BacktestRoutingResponse:
    n = r.compared or 1
    return pb.BacktestRoutingResponse(
        orders=r.orders, distinct_orders=r.distinct, unplaced=r.unplaced,
        vs_recorded=_tally(r.vs_recorded), vs_shipped=_tally(r.vs_shipped),
        rules=[pb.BacktestRuleRow(rule=k, tally=_tally(v))
               for k, v in sorted(r.by_rule.items(), key=lambda kv: -kv[1].orders)],
        warehouses=[pb.BacktestWarehouseRow(warehouse_id=w, before=x.before, after=x.after,
                                            kept=x.kept)
                    for w, x in sorted(r.by_warehouse.items())],
        versions=[pb.BacktestVersionRow(rules_version=v, tally=_tally(t))
                  for v, t in sorted(r.by_version.items())],
        moves=[pb.BacktestMove(before=b, after=a, orders=m.orders, examples=m.examples)
               for b, a, m in r.top_moves()],
        cost_before=r.cost_before, cost_after=r.cost_after,
        cost_before_cents=cents(r.cost_before), cost_after_cents=cents(r.cost_after),
        mean_km_before=r.km_before / n, mean_km_after=r.km_after / n, notes=r.notes)

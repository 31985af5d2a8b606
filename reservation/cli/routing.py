"""Routing commands: `warehouses`, `rules` and `route`, thin calls to the routing services.

Replies print as JSON (protobuf's JSON mapping) except `route`, which prints the
decision as an explanation (`--json` for the message).
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format, struct_pb2

from reservation.api import connection
from reservation.cli import backtest, plan, rpc
from reservation.v1 import routing_service_pb2 as pb
from reservation.v1 import routing_service_pb2_grpc as pb_grpc


def _call(args: argparse.Namespace, method: str, request: Any, admin: bool = True,
          show: Any = None) -> int:
    stub = pb_grpc.RoutingAdminServiceStub if admin else pb_grpc.RoutingServiceStub
    return rpc.call(args, stub, method, request, show)

def yuan_to_cents(text: str) -> int:
    """An amount in yuan as typed ("499.99") to exact cents, for the API's *_cents fields
    (a float would round 0.29 to 28.999...)."""
    try:
        cents = Decimal(text) * 100
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in yuan") from None
    if not cents.is_finite() or cents != cents.to_integral_value() or cents < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in yuan (at most two "
                                         "decimals, not negative)")
    return int(cents)


def _read(path: str) -> Any:
    """A YAML (or JSON, which is YAML) file."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"error: cannot read {path}: {exc}") from None


def _struct(doc: Any) -> struct_pb2.Struct:
    if not isinstance(doc, dict):
        raise SystemExit("error: the rule file must be a mapping with a 'rules' list")
    s = struct_pb2.Struct()
    s.update(doc)
    return s


# -- warehouses ---------------------------------------------------------------------------
def _warehouse_put(a: argparse.Namespace) -> int:
    if a.file:
        entries = _read(a.file)
        entries = entries if isinstance(entries, list) else [entries]
        code = 0
        for entry in entries:
            wh = json_format.ParseDict(entry, pb.Warehouse())
            code |= _call(a, "PutWarehouse", pb.PutWarehouseRequest(
                warehouse=wh, validate_only=a.dry_run), show=_dry(a, "warehouses put"))
        return code
    if not a.warehouse_id:
        raise SystemExit("error: give WAREHOUSE_ID and options, or --file")
    wh = pb.Warehouse(
        warehouse_id=a.warehouse_id, name=a.name or a.warehouse_id, region=a.region,
        province=a.province, city=a.city, capabilities=a.capability,
        daily_capacity=a.capacity, cutoff_hour=a.cutoff_hour, cost_per_order_cents=a.cost,
        priority=a.priority, safety_stock=a.safety_stock, disabled=a.disabled)
    return _call(a, "PutWarehouse", pb.PutWarehouseRequest(warehouse=wh,
                                                           validate_only=a.dry_run),
                 show=_dry(a, "warehouses put"))


def _warehouse_list(a: argparse.Namespace) -> int:
    return _call(a, "ListWarehouses", pb.ListWarehousesRequest())


def _warehouse_get(a: argparse.Namespace) -> int:
    return _call(a, "GetWarehouse", pb.GetWarehouseRequest(warehouse_id=a.warehouse_id))


# -- rules --------------------------------------------------------------------------------
def _rules_get(a: argparse.Namespace) -> int:
    def show(reply: pb.GetRoutingRulesResponse) -> str:
        if a.json:
            return json_format.MessageToJson(reply, indent=2, ensure_ascii=False)
        doc = json_format.MessageToDict(reply.rules.document)
        head = f"# version {reply.rules.version}: {reply.rules.comment}\n"
        return head + yaml.safe_dump(_ints(doc), allow_unicode=True, sort_keys=False)

    return _call(a, "GetRoutingRules", pb.GetRoutingRulesRequest(version=a.version),
                 show=show)


def _ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def _rules_put(a: argparse.Namespace) -> int:
    return _call(a, "PutRoutingRules", pb.PutRoutingRulesRequest(
        document=_struct(_read(a.file)), comment=a.comment or f"from {a.file}",
        expected_version=a.expected_version, validate_only=a.dry_run),
        show=_dry(a, "rules put"))


def _rules_history(a: argparse.Namespace) -> int:
    def show(reply: pb.ListRoutingRuleHistoryResponse) -> str:
        lines = [f"current version: {reply.current_version}"]
        for v in reply.versions:
            when = v.created_at.ToJsonString() if v.HasField("created_at") else ""
            n = len(json_format.MessageToDict(v.document).get("rules", []))
            lines.append(f"{v.version:>5}  {when}  {n} rules  {v.comment}")
        return "\n".join(lines)

    return _call(a, "ListRoutingRuleHistory",
                 pb.ListRoutingRuleHistoryRequest(limit=a.limit), show=show)


def _rules_rollback(a: argparse.Namespace) -> int:
    return _call(a, "RollbackRoutingRules", pb.RollbackRoutingRulesRequest(
        version=a.version, validate_only=a.dry_run), show=_dry(a, "rules rollback"))


def _dry(a: argparse.Namespace, command: str) -> Any:
    """With --dry-run: the server's validate_only answer, shown as the plan."""
    return plan.show(command) if a.dry_run else None


def _rules_backtest(a: argparse.Namespace) -> int:
    return backtest.backtest(a, _struct(_read(a.file)))


def _rules_simulate(a: argparse.Namespace) -> int:
    return _call(a, "SimulateRouting", pb.SimulateRoutingRequest(
        document=_struct(_read(a.file)), sample_size=a.sample), admin=False)


# -- route --------------------------------------------------------------------------------
def parse_sku(text: str) -> pb.RouteLine:
    """SKU:QTY[:CATEGORY[:BRAND]]."""
    parts = text.split(":")
    try:
        return pb.RouteLine(sku=parts[0], quantity=int(parts[1]),
                            category=parts[2] if len(parts) > 2 else "",
                            brand=parts[3] if len(parts) > 3 else "")
    except (IndexError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not SKU:QTY[:CATEGORY[:BRAND]]") from None


def explain(d: pb.RoutingDecision) -> str:
    """A decision in words: where each line goes, which rule or score decided, and every
    candidate's score terms."""
    p = d.destination
    place = " ".join(x for x in (p.region, p.province, p.city, p.district) if x)
    out = [f"destination: {place} (matched by {p.level})"]
    out += [f"  note: {n}" for n in d.notes]
    out.append(f"rules version {d.rules_version}; matched: "
               f"{', '.join(d.matched_rules) or 'none'}")
    if d.review:
        out.append(f"REVIEW: {d.review_reason}")
    if d.rush:
        out.append("RUSH")
    for ln in d.lines:
        where = ", ".join(f"{a.warehouse_id} x{a.quantity}" for a in ln.allocations) or "-"
        out.append(f"{ln.sku} x{ln.quantity} -> {where}: {ln.decided_by}")
        if ln.candidates:
            out.append(f"  tried in order: {' > '.join(ln.candidates)}")
    for g, group in enumerate(d.groups):
        which = f" (group {g}: {', '.join(group.skus)})" if len(d.groups) > 1 else ""
        out.append(f"candidates{which}:")
        for c in group.candidates:
            t = c.terms
            terms = (f"distance {t.distance:.3f} load {t.load:.3f} shipments "
                     f"{t.shipments:.3f} cost {t.cost:.3f} priority {t.priority:.3f}")
            score = f"{c.score:8.3f}" if c.allowed else "     n/a"
            mark = "*" if c.preferred else " "
            out.append(f" {mark}{c.warehouse_id:<14}{score}  {terms}"
                       f"{'  ' + c.note if c.note else ''}")
    out.append("routed" if d.routed else "NOT fully routed (some units have no warehouse)")
    return "\n".join(out)


def _route(a: argparse.Namespace) -> int:
    req = pb.RouteRequest(
        channel=a.channel, order_id=a.order_id, lines=a.sku,
        destination=pb.Destination(province=a.province, city=a.city, district=a.district,
                                   region=a.region, address=a.address),
        amount_cents=a.amount, payment_method=a.payment, customer_grade=a.grade,
        promised_hours=a.promised_hours)
    show = None if a.json else (lambda reply: explain(reply.decision))
    return _call(a, "Route", req, admin=False, show=show)


def add_commands(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    connection.add_connection_arguments(common)

    whs = sub.add_parser("warehouses", help="routing: warehouses").add_subparsers(
        dest="warehouses_command", required=True)
    p = whs.add_parser("put", parents=[common], help="add or replace a warehouse")
    p.add_argument("warehouse_id", nargs="?", default="")
    p.add_argument("--file", "-f", help="YAML/JSON: one warehouse or a list (proto fields)")
    p.add_argument("--name", default="")
    p.add_argument("--region", default="")
    p.add_argument("--province", default="")
    p.add_argument("--city", default="")
    p.add_argument("--capability", action="append", default=[],
                   help="COLD_CHAIN, OVERSIZE, FRAGILE, HAZMAT (repeat)")
    p.add_argument("--capacity", type=int, default=0, help="orders a day (0: unlimited)")
    p.add_argument("--cutoff-hour", type=int, default=24)
    p.add_argument("--cost", type=yuan_to_cents, default=0, metavar="YUAN",
                   help="cost per order in yuan (sent exactly, as cost_per_order_cents)")
    p.add_argument("--priority", type=int, default=0)
    p.add_argument("--safety-stock", type=int, default=0)
    p.add_argument("--disabled", action="store_true")
    plan.add_dry_run(p)
    p.set_defaults(func=_warehouse_put)
    p = whs.add_parser("list", parents=[common], help="every warehouse, with today's orders")
    p.set_defaults(func=_warehouse_list)
    p = whs.add_parser("get", parents=[common], help="one warehouse")
    p.add_argument("warehouse_id")
    p.set_defaults(func=_warehouse_get)

    rules = sub.add_parser("rules", help="routing: the versioned rule set").add_subparsers(
        dest="rules_command", required=True)
    p = rules.add_parser("get", parents=[common], help="print a version as YAML")
    p.add_argument("--version", type=int, default=0, help="0: the current one")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_rules_get)
    p = rules.add_parser("put", parents=[common], help="validate and apply a rule file")
    p.add_argument("file", metavar="FILE.yaml")
    p.add_argument("--comment", default="")
    p.add_argument("--expected-version", type=int, default=0)
    plan.add_dry_run(p)
    p.set_defaults(func=_rules_put)
    p = rules.add_parser("history", parents=[common], help="versions, newest first")
    p.add_argument("--limit", type=int, default=0)
    p.set_defaults(func=_rules_history)
    p = rules.add_parser("rollback", parents=[common], help="apply an earlier version again")
    p.add_argument("version", type=int)
    plan.add_dry_run(p)
    p.set_defaults(func=_rules_rollback)
    p = rules.add_parser("simulate", parents=[common],
                         help="a rule file over recent orders: how many change warehouse")
    p.add_argument("file", metavar="FILE.yaml")
    p.add_argument("--sample", type=int, default=0)
    p.set_defaults(func=_rules_simulate)
    p = rules.add_parser("backtest", parents=[common],
                         help="a rule file over orders that really happened: how often it "
                              "agrees with the recorded decisions and the shipping warehouses")
    backtest.add_arguments(p)
    p.set_defaults(func=_rules_backtest)

    p = sub.add_parser("route", parents=[common], help="route an order and explain why")
    p.add_argument("--sku", action="append", type=parse_sku, required=True,
                   metavar="SKU:QTY[:CATEGORY[:BRAND]]")
    p.add_argument("--city", default="")
    p.add_argument("--province", default="")
    p.add_argument("--district", default="")
    p.add_argument("--region", default="")
    p.add_argument("--address", default="")
    p.add_argument("--channel", default="cli")
    p.add_argument("--order-id", default="")
    p.add_argument("--amount", type=yuan_to_cents, default=0, metavar="YUAN",
                   help="the order's amount in yuan (sent exactly, as amount_cents)")
    p.add_argument("--payment", default="")
    p.add_argument("--grade", default="")
    p.add_argument("--promised-hours", type=float, default=0.0)
    p.add_argument("--json", action="store_true", help="the decision message as JSON")
    p.set_defaults(func=_route)

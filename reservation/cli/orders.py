"""Order hub commands of the `reservation` CLI (OrderService), JSON on stdout.
(The audit puller is a process of its own: `reservation-clients audit`.)

    reservation orders get CHANNEL SHOP ORDER_ID
    reservation orders history CHANNEL SHOP ORDER_ID
    reservation orders list [--channel jd] [--state ON_HOLD] [--warehouse WH-SH]
                            [--from 2026-11-22] [--to 2026-11-23] [--page-size N] [--page-token T]
    reservation fulfilment --day 2026-11-22 [--channel jd] [--warehouse WH-SH]
    reservation orders overdue [--node paid] [--channel jd] [--page-size 10]
    reservation orders find --phone P | --order N | --tracking T [--page-size 50]
    reservation orders after-sales CHANNEL SHOP ORDER_ID --sku S --level1 quality
                               --level2 colour_deviation [--batch B] [--note TEXT]
    reservation after-sales report --from 2026-11-01 --to 2026-11-30 [--channel jd]
                               [--group-by sku,batch,level1,level2]
    reservation orders sync FILE.json|FILE.yaml      channel orders into the hub (SyncOrders)
    reservation orders address CHANNEL SHOP ORDER_ID --province P --city C
                               [--district D] --detail X [--reason TEXT]
    reservation orders ship CHANNEL SHOP ORDER_ID --carrier SF --tracking N [--warehouse W]
    reservation orders state CHANNEL SHOP ORDER_ID STATE [--reason TEXT]
    reservation orders expedite CHANNEL SHOP ORDER_ID [--reason TEXT]

The writes print one line per order (`--json`: the reply as JSON) and take
`--dry-run`: the order as the hub has it now and what the call would change.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.api import connection
from reservation.cli import plan, rpc
from reservation.errors import FailedPrecondition, InvalidArgument
from reservation.ordersync import states as order_states
from reservation.v1 import order_service_pb2 as pb
from reservation.v1 import order_service_pb2_grpc as pb_grpc


def _call(args: argparse.Namespace, method: str, request: Any) -> int:
    return rpc.call(args, pb_grpc.OrderServiceStub, method, request)

def _key(args: argparse.Namespace) -> pb.OrderKey:
    return pb.OrderKey(channel=args.channel, shop=args.shop, order_id=args.order_id)


def _day(text: str | None) -> Timestamp | None:
    if not text:
        return None
    ts = Timestamp()
    ts.FromDatetime(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC))
    return ts


def _get(args: argparse.Namespace) -> int:
    return _call(args, "GetOrder", pb.GetOrderRequest(key=_key(args)))


def _history(args: argparse.Namespace) -> int:
    return _call(args, "GetOrderHistory", pb.GetOrderHistoryRequest(key=_key(args)))


def _list(args: argparse.Namespace) -> int:
    return _call(args, "ListOrders", pb.ListOrdersRequest(
        channel=args.channel, state=args.state, warehouse_id=args.warehouse,
        created_from=_day(args.date_from), created_to=_day(args.date_to),
        page_size=args.page_size, page_token=args.page_token))


def _overdue(args: argparse.Namespace) -> int:
    return _call(args, "ListOverdueOrders", pb.ListOverdueOrdersRequest(
        node=args.node, channel=args.channel, page_size=args.page_size))


def _find(args: argparse.Namespace) -> int:
    return _call(args, "FindOrders", pb.FindOrdersRequest(
        phone=args.phone, order_number=args.order, tracking_number=args.tracking,
        page_size=args.page_size))


def _after_sales(a: argparse.Namespace) -> int:
    return _write(a, "SetAfterSalesReason", pb.SetAfterSalesReasonRequest(
        key=_key(a), sku=a.sku, batch=a.batch, level1=a.level1, level2=a.level2,
        note=a.note, actor=_actor()))


def _after_sales_report(args: argparse.Namespace) -> int:
    return _call(args, "GetAfterSalesReport", pb.GetAfterSalesReportRequest(
        day_from=args.date_from, day_to=args.date_to, channel=args.channel,
        group_by=[g for g in args.group_by.split(",") if g]))


def _fulfilment(args: argparse.Namespace) -> int:
    return _call(args, "GetFulfilmentStats", pb.GetFulfilmentStatsRequest(
        day=args.day, channel=args.channel, warehouse_id=args.warehouse))


def _actor() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"


def order_line(o: pb.Order) -> str:
    parts = [f"{o.channel}/{o.shop}/{o.order_id}", o.state, f"version {o.version}"]
    if o.review:
        parts.append(f"review {', '.join(o.review)}")
    if o.warehouses:
        parts.append(f"at {', '.join(o.warehouses)}")
    if o.shipments:
        parts.append("shipped " + ", ".join(f"{s.carrier} {s.tracking_number}"
                                            for s in o.shipments))
    return "  ".join(parts)


def _outcome(value: int) -> str:
    return pb.SyncOutcome.Name(value).removeprefix("SYNC_OUTCOME_")


def _write(a: argparse.Namespace, method: str, request: Any) -> int:
    show = None if a.json else (
        lambda reply: f"{_outcome(reply.outcome)}  {order_line(reply.order)}")
    return rpc.call(a, pb_grpc.OrderServiceStub, method, request, show=show)


def _orders_file(path: str) -> list[pb.ChannelOrder]:
    """A JSON or YAML file of channel orders in the API's JSON shape: a list, or
    {"orders": [...]} (a SyncOrdersRequest)."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"error: cannot read {path}: {exc}") from None
    items = doc.get("orders") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise SystemExit(f"error: {path}: a list of orders, or {{\"orders\": [...]}}")
    try:
        return [json_format.ParseDict(item, pb.ChannelOrder()) for item in items]
    except json_format.ParseError as exc:
        raise SystemExit(f"error: {path}: {exc}") from None


def _sync(a: argparse.Namespace) -> int:
    found = _orders_file(a.file)
    if a.dry_run:
        return plan.plan(a, "orders sync", lambda reads: _sync_plan(reads, found))
    show = None if a.json else (lambda reply: "\n".join(
        f"{r.channel}/{r.shop}/{r.order_id}  {_outcome(r.outcome)}  {r.state}"
        + (f"  {r.refused_code}: {r.refused_reason}" if r.refused_code else "")
        + (f"  {r.stock_reason}" if r.stock_reason else "")
        for r in reply.results))
    return rpc.call(a, pb_grpc.OrderServiceStub, "SyncOrders",
                    pb.SyncOrdersRequest(orders=found), show=show)


async def _current(reads: plan.Reads, key: pb.OrderKey) -> pb.Order | None:
    try:
        return (await reads(pb_grpc.OrderServiceStub, "GetOrder",
                            pb.GetOrderRequest(key=key))).order
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise


async def _sync_plan(reads: plan.Reads, found: list[pb.ChannelOrder]) -> list[dict[str, Any]]:
    """Per order: new to the hub, or its state in the hub and the state the channel
    reports (the hub's state table, holds and stock decide what it becomes)."""
    out = []
    for o in found:
        now = await _current(reads, pb.OrderKey(channel=o.channel, shop=o.shop,
                                                order_id=o.order_id))
        out.append({"order": f"{o.channel}/{o.shop}/{o.order_id}",
                    "in_hub": now.state if now else None, "channel_reports": o.state})
    return out


def _address(a: argparse.Namespace) -> int:
    address = pb.Address(province=a.province, city=a.city, district=a.district,
                         detail=a.detail)
    if a.dry_run:
        return plan.plan(a, "orders address", lambda reads: _change_plan(
            reads, a, {"address": json_format.MessageToDict(address)}))
    return _write(a, "UpdateAddress", pb.UpdateAddressRequest(
        key=_key(a), address=address, actor=_actor(), reason=a.reason))


def _ship(a: argparse.Namespace) -> int:
    shipment = pb.Shipment(carrier=a.carrier, tracking_number=a.tracking,
                           warehouse_id=a.warehouse)
    if a.dry_run:
        return plan.plan(a, "orders ship", lambda reads: _change_plan(
            reads, a, {"state": "SHIPPED", "shipment": json_format.MessageToDict(shipment)}))
    return _write(a, "ReportShipment", pb.ReportShipmentRequest(
        key=_key(a), shipment=shipment, actor=_actor()))


def _state(a: argparse.Namespace) -> int:
    if a.dry_run:
        return plan.plan(a, "orders state", lambda reads: _change_plan(
            reads, a, {"state": a.state}))
    return _write(a, "UpdateOrderState", pb.UpdateOrderStateRequest(
        key=_key(a), state=a.state, actor=_actor(), reason=a.reason))


def _expedite(a: argparse.Namespace) -> int:
    if a.dry_run:
        return plan.plan(a, "orders expedite", lambda reads: _change_plan(
            reads, a, {"priority": 1}))
    return _write(a, "ExpediteOrder", pb.ExpediteOrderRequest(
        key=_key(a), actor=_actor(), reason=a.reason))


async def _change_plan(reads: plan.Reads, a: argparse.Namespace,
                       after: dict[str, Any]) -> dict[str, Any]:
    now = await _current(reads, _key(a))
    if now is None:
        raise plan.Refused(f"no order {a.channel}/{a.shop}/{a.order_id} in the hub")
    if "state" in after and "shipment" not in after:
        # The one state table (ordersync/states.py) says whether the move is allowed.
        src = order_states.parse("state", now.state)
        try:
            order_states.check(src, order_states.parse("state", after["state"]))
        except (FailedPrecondition, InvalidArgument) as exc:
            raise plan.Refused(exc.message) from None
    before: dict[str, Any] = {"state": now.state}
    if "address" in after:
        before["address"] = json_format.MessageToDict(now.address)
    return {"order": f"{a.channel}/{a.shop}/{a.order_id}", "before": before,
            "after": after}


def add_commands(sub: Any) -> None:
    """Register `orders ...` and `fulfilment` on the top-level subparsers."""
    orders = sub.add_parser("orders", help="the order hub: get, history, list")
    osub = orders.add_subparsers(dest="orders_command", required=True)
    for name, func, text in (("get", _get, "one order as the hub has it now"),
                             ("history", _history, "every event of one order")):
        p = osub.add_parser(name, help=text)
        connection.add_connection_arguments(p)
        p.add_argument("channel")
        p.add_argument("shop")
        p.add_argument("order_id")
        p.set_defaults(func=func)

    p = osub.add_parser("list", help="orders by channel, state, warehouse and creation day")
    connection.add_connection_arguments(p)
    p.add_argument("--channel", default="")
    p.add_argument("--state", default="")
    p.add_argument("--warehouse", default="")
    p.add_argument("--from", dest="date_from", help="created on or after (YYYY-MM-DD, UTC)")
    p.add_argument("--to", dest="date_to", help="created before (YYYY-MM-DD, UTC)")
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--page-token", default="")
    p.set_defaults(func=_list)

    p = osub.add_parser("overdue", help="open orders past their overdue threshold, most "
                        "overdue first")
    connection.add_connection_arguments(p)
    p.add_argument("--node", default="", help="paid, routed, allocated, printed, shipped, "
                   "on_hold or refund_requested")
    p.add_argument("--channel", default="")
    p.add_argument("--page-size", type=int, default=10)
    p.set_defaults(func=_overdue)

    p = osub.add_parser("find", help="every order of a buyer (by phone), or of an order "
                        "or tracking number: the service desk's lookup")
    connection.add_connection_arguments(p)
    one = p.add_mutually_exclusive_group(required=True)
    one.add_argument("--phone", default="", help="the receiver phone (only its hash is "
                     "compared)")
    one.add_argument("--order", default="", help="a channel's order number")
    one.add_argument("--tracking", default="", help="a tracking number")
    p.add_argument("--page-size", type=int, default=50, help="the newest first, 1..200")
    p.set_defaults(func=_find)

    write = argparse.ArgumentParser(add_help=False)
    connection.add_connection_arguments(write)
    write.add_argument("--json", action="store_true", help="the reply as JSON")
    plan.add_dry_run(write)

    p = osub.add_parser("sync", parents=[write],
                        help="channel orders from a JSON or YAML file into the hub")
    p.add_argument("file", metavar="FILE", help="a list of ChannelOrder objects (API JSON)")
    p.set_defaults(func=_sync)
    writes: tuple[tuple[str, Any, str], ...] = (
            ("address", _address, "correct an order's address (before it ships)"),
            ("ship", _ship, "report a shipment (carrier and tracking number)"),
            ("state", _state, "move an order to another state the table allows"),
            ("expedite", _expedite, "move an order to the front (routing and picking)"))
    for name, func, text in writes:
        p = osub.add_parser(name, parents=[write], help=text)
        p.add_argument("channel")
        p.add_argument("shop")
        p.add_argument("order_id")
        if name == "address":
            for part, required in (("province", True), ("city", True),
                                   ("district", False), ("detail", True)):
                p.add_argument(f"--{part}", required=required, default="")
        if name == "ship":
            p.add_argument("--carrier", required=True)
            p.add_argument("--tracking", required=True, help="the tracking number")
            p.add_argument("--warehouse", default="", help="the warehouse that shipped it")
        if name == "state":
            p.add_argument("state", help="ALLOCATED, PRINTED, DELIVERED, CANCELLED, ...")
        if name != "ship":
            p.add_argument("--reason", default="", help="why, kept in the order's history")
        p.set_defaults(func=func)

    p = osub.add_parser("after-sales", help="why a returned or refunded SKU came back: a "
                        "level-1 and a level-2 reason, and its batch")
    connection.add_connection_arguments(p)
    p.add_argument("--json", action="store_true", help="the reply as JSON")
    p.add_argument("channel")
    p.add_argument("shop")
    p.add_argument("order_id")
    p.add_argument("--sku", required=True)
    p.add_argument("--level1", required=True, help="quality, logistics, not_as_described "
                   "or other")
    p.add_argument("--level2", required=True, help="a reason of level1's list "
                   "(colour_deviation, damaged_in_transit, changed_mind, ...)")
    p.add_argument("--batch", default="", help="the goods' production batch")
    p.add_argument("--note", default="", help="the customer's words, kept in the history")
    p.set_defaults(func=_after_sales)

    p = sub.add_parser("after-sales", help="after-sales reasons of a period")
    asub = p.add_subparsers(dest="after_sales_command", required=True)
    p = asub.add_parser("report", help="reasons set in a period by SKU, batch and reason")
    connection.add_connection_arguments(p)
    p.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", required=True, help="last day (included)")
    p.add_argument("--channel", default="")
    p.add_argument("--group-by", default="", help="of sku,batch,level1,level2 (default all)")
    p.set_defaults(func=_after_sales_report)

    p = sub.add_parser("fulfilment", help="on-time rate, funnel, median times, late orders")
    connection.add_connection_arguments(p)
    p.add_argument("--day", required=True, help="day of payment, YYYY-MM-DD (UTC)")
    p.add_argument("--channel", default="")
    p.add_argument("--warehouse", default="")
    p.set_defaults(func=_fulfilment)

"""Operator commands of the `reservation` CLI: thin calls to the AdminService.

They print the response as JSON (protobuf's JSON mapping), so scripts can parse it.
"""

from __future__ import annotations

import argparse
from typing import Any

from google.protobuf.duration_pb2 import Duration

from reservation.api import connection
from reservation.cli import plan, rpc
from reservation.cli.values import parse_duration, parse_item, parse_rate, parse_time
from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import admin_service_pb2_grpc as admin_grpc
from reservation.v1 import reservation_service_pb2 as rs_pb
from reservation.v1 import reservation_service_pb2_grpc as rs_grpc
from reservation.v1 import types_pb2 as pb


def _call(args: argparse.Namespace, service: str, method: str, request: Any) -> int:
    """One RPC of the AdminService ("admin") or the ReservationService ("rs")."""
    stub = admin_grpc.AdminServiceStub if service == "admin" else rs_grpc.ReservationServiceStub
    return rpc.call(args, stub, method, request)

def _stock_load(a: argparse.Namespace) -> int:
    mode = admin_pb.LOAD_MODE_SET if a.set else admin_pb.LOAD_MODE_ADD
    if a.dry_run:
        return plan.plan(a, "stock load", lambda reads: _load_plan(reads, a.items, a.set))
    return _call(a, "admin", "LoadStock", admin_pb.LoadStockRequest(items=a.items, mode=mode))


async def _load_plan(reads: plan.Reads, items: list[pb.StockItem],
                     set_: bool) -> list[dict[str, Any]]:
    """Each item's available and loaded now and after the load (ADD: +QTY; SET:
    available becomes QTY, loaded moves by the difference)."""
    levels: dict[str, dict[str, pb.StockLevel]] = {}
    out = []
    for it in items:
        if it.sku not in levels:
            reply = await reads(rs_grpc.ReservationServiceStub, "GetStock",
                                rs_pb.GetStockRequest(sku=it.sku))
            levels[it.sku] = {lv.warehouse_id: lv for lv in reply.levels}
        now = levels[it.sku].get(it.warehouse_id, pb.StockLevel(warehouse_id=it.warehouse_id))
        delta = it.quantity - now.available if set_ else it.quantity
        out.append({"sku": it.sku, "warehouse_id": it.warehouse_id,
                    "new": it.warehouse_id not in levels[it.sku],
                    "available": [now.available, now.available + delta],
                    "loaded": [now.loaded, now.loaded + delta]})
    return out


def _stock_get(a: argparse.Namespace) -> int:
    return _call(a, "rs", "GetStock", rs_pb.GetStockRequest(sku=a.sku))


def _sale_start(a: argparse.Namespace) -> int:
    request = admin_pb.StartFlashSaleRequest(
        sale_id=a.sale_id, items=a.items, starts_at=a.starts, ends_at=a.ends,
        per_buyer_limit=a.per_buyer_limit, hold_ttl=a.hold_ttl,
        queue_deadline=a.queue_deadline, buyer_rate=a.buyer_rate, device_rate=a.device_rate,
        ip_rate=a.ip_rate, create_skus=a.create, validate_only=a.dry_run)
    return rpc.call(a, admin_grpc.AdminServiceStub, "StartFlashSale", request,
                    show=plan.show("sale start") if a.dry_run else None)


def _sale_reschedule(a: argparse.Namespace) -> int:
    request = admin_pb.RescheduleFlashSaleRequest(
        sale_id=a.sale_id, starts_at=a.starts, ends_at=a.ends, validate_only=a.dry_run)
    return rpc.call(a, admin_grpc.AdminServiceStub, "RescheduleFlashSale", request,
                    show=plan.show("sale reschedule") if a.dry_run else None)


_SALE_STATE = admin_pb.FlashSaleState.Name


def _sale_change(a: argparse.Namespace) -> int:
    """sale stop | pause | resume: one RPC each, or with --dry-run the plan."""
    method = {"stop": "StopFlashSale", "pause": "PauseFlashSale",
              "resume": "ResumeFlashSale"}[a.sale_command]
    if a.dry_run:
        return plan.plan(a, f"sale {a.sale_command}",
                         lambda reads: _sale_plan(reads, a.sale_id, a.sale_command))
    request = getattr(admin_pb, f"{method}Request")(sale_id=a.sale_id)
    return _call(a, "admin", method, request)


async def _sale_plan(reads: plan.Reads, sale_id: str, change: str) -> dict[str, Any]:
    sale = (await reads(admin_grpc.AdminServiceStub, "GetFlashSale",
                        admin_pb.GetFlashSaleRequest(sale_id=sale_id))).sale
    state = _SALE_STATE(sale.state).removeprefix("FLASH_SALE_STATE_")
    if state == "STOPPED":
        raise plan.Refused(f"flash sale {sale_id} is already stopped")
    if state == "ENDED" and change != "stop":
        raise plan.Refused(f"flash sale {sale_id} has ended; reschedule it instead")
    after = {"stop": "STOPPED", "pause": "PAUSED",
             "resume": "ACTIVE or SCHEDULED (its window decides)"}[change]
    would: dict[str, Any] = {"sale_id": sale_id, "state": [state, after]}
    if change == "stop":
        would["units_to_returned"] = sum(it.level.available for it in sale.items)
    if change == "pause":
        would["effect"] = "new orders of its SKUs rejected SALE_PAUSED; queued orders wait"
    return would


_BLOCK_KINDS = {"buyer": admin_pb.BLOCK_KIND_BUYER, "device": admin_pb.BLOCK_KIND_DEVICE,
                "ip": admin_pb.BLOCK_KIND_IP}


def _blocklist_change(a: argparse.Namespace) -> int:
    entries = [admin_pb.BlockEntry(kind=_BLOCK_KINDS[a.kind], value=v, reason=a.reason)
               for v in a.values]
    if a.dry_run:
        return plan.plan(a, f"blocklist {a.blocklist_command}",
                         lambda reads: _blocklist_plan(reads, a))
    request = (admin_pb.UpdateBlocklistRequest(add=entries) if a.blocklist_command == "add"
               else admin_pb.UpdateBlocklistRequest(remove=entries))
    return _call(a, "admin", "UpdateBlocklist", request)


async def _blocklist_plan(reads: plan.Reads, a: argparse.Namespace) -> dict[str, Any]:
    listed = await reads(admin_grpc.AdminServiceStub, "ListBlocklist",
                         admin_pb.ListBlocklistRequest(kind=_BLOCK_KINDS[a.kind]))
    there = {e.value for e in listed.entries}
    if a.blocklist_command == "add":
        return {"kind": a.kind, "added": [v for v in a.values if v not in there],
                "reason_replaced": [v for v in a.values if v in there]}
    return {"kind": a.kind, "removed": [v for v in a.values if v in there],
            "not_listed": [v for v in a.values if v not in there]}


def _blocklist_list(a: argparse.Namespace) -> int:
    return _call(a, "admin", "ListBlocklist", admin_pb.ListBlocklistRequest(
        kind=_BLOCK_KINDS.get(a.kind, admin_pb.BLOCK_KIND_UNSPECIFIED), page_size=a.limit))


def _sale_list(a: argparse.Namespace) -> int:
    return _call(a, "admin", "ListFlashSales", admin_pb.ListFlashSalesRequest(page_size=a.limit))


def _sale_get(a: argparse.Namespace) -> int:
    return _call(a, "admin", "GetFlashSale", admin_pb.GetFlashSaleRequest(sale_id=a.sale_id))


def _dead_list(a: argparse.Namespace) -> int:
    return _call(a, "admin", "ListDeadLetters",
                 admin_pb.ListDeadLettersRequest(sku=a.sku, page_size=a.limit))


def _dead_requeue(a: argparse.Namespace) -> int:
    if a.dry_run:
        return plan.plan(a, "dead-letters requeue", lambda reads: _dead_plan(reads, a))
    return _call(a, "admin", "RequeueDeadLetter", admin_pb.RequeueDeadLetterRequest(
        channel=a.channel, order_id=a.order_id))


def _dead_reject(a: argparse.Namespace) -> int:
    if a.dry_run:
        return plan.plan(a, "dead-letters reject", lambda reads: _dead_plan(reads, a))
    return _call(a, "admin", "RejectDeadLetter", admin_pb.RejectDeadLetterRequest(
        channel=a.channel, order_id=a.order_id))


async def _dead_plan(reads: plan.Reads, a: argparse.Namespace) -> dict[str, Any]:
    found = (await reads(rs_grpc.ReservationServiceStub, "GetReservation",
                         rs_pb.GetReservationRequest(channel=a.channel,
                                                     order_id=a.order_id))).reservation
    state = pb.ReservationState.Name(found.state).removeprefix("RESERVATION_STATE_")
    if state != "DEAD_LETTERED":
        raise plan.Refused(f"order {a.channel}:{a.order_id} is {state}, not DEAD_LETTERED")
    after = "QUEUED (or RESERVED if units are there)" if a.dead_command == "requeue" \
        else "REJECTED (OPERATOR_REJECTED)"
    return {"order": f"{a.channel}:{a.order_id}", "state": [state, after]}


def add_commands(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    connection.add_connection_arguments(common)

    stock = sub.add_parser("stock", help="load and inspect stock").add_subparsers(
        dest="stock_command", required=True)
    p = stock.add_parser("load", parents=[common], help="load or top up stock")
    p.add_argument("items", nargs="+", type=parse_item, metavar="SKU:WAREHOUSE:QTY")
    p.add_argument("--set", action="store_true",
                   help="make available exactly QTY (default: add QTY)")
    plan.add_dry_run(p)
    p.set_defaults(func=_stock_load)
    p = stock.add_parser("get", parents=[common], help="counters of a SKU per warehouse")
    p.add_argument("sku")
    p.set_defaults(func=_stock_get)

    sale = sub.add_parser("sale", help="run flash sales").add_subparsers(
        dest="sale_command", required=True)
    p = sale.add_parser("start", parents=[common], help="preload a flash sale")
    p.add_argument("sale_id")
    p.add_argument("items", nargs="+", type=parse_item, metavar="SKU:WAREHOUSE:QTY")
    p.add_argument("--starts", type=parse_time, default=parse_time("now"),
                   help="now | +10m | RFC 3339 (default now)")
    p.add_argument("--ends", type=parse_time, required=True, help="+1h | RFC 3339")
    p.add_argument("--per-buyer-limit", type=int, default=0)
    p.add_argument("--hold-ttl", type=parse_duration, default=Duration())
    p.add_argument("--queue-deadline", type=parse_duration, default=Duration())
    for who in ("buyer", "device", "ip"):
        p.add_argument(f"--{who}-rate", type=parse_rate, default=None, metavar="N/PERIOD",
                       help=f"at most N new orders per PERIOD per {who} and SKU (e.g. 5/1m)"
                       + ("" if who == "buyer" else f"; adapters send the {who} as "
                          f"x-{'device-id' if who == 'device' else 'client-ip'}"))
    p.add_argument("--create", action="store_true",
                   help="create SKUs and warehouses that have no stock yet (without it "
                   "a SKU never loaded, e.g. a typo, is NOT_FOUND and nothing starts)")
    plan.add_dry_run(p)
    p.set_defaults(func=_sale_start)
    p = sale.add_parser("reschedule", parents=[common],
                        help="move a sale's window (before, during or after it)")
    p.add_argument("sale_id")
    p.add_argument("--starts", type=parse_time, default=None,
                   help="now | +10m | RFC 3339 (default: keep the start)")
    p.add_argument("--ends", type=parse_time, required=True, help="+1h | RFC 3339")
    plan.add_dry_run(p)
    p.set_defaults(func=_sale_reschedule)
    for name, text in (("stop", "stop a flash sale: unsold units move to returned"),
                       ("pause", "hold a flash sale: orders rejected SALE_PAUSED, queues wait"),
                       ("resume", "undo pause")):
        p = sale.add_parser(name, parents=[common], help=text)
        p.add_argument("sale_id")
        plan.add_dry_run(p)
        p.set_defaults(func=_sale_change)
    p = sale.add_parser("get", parents=[common], help="a flash sale with live counters")
    p.add_argument("sale_id")
    p.set_defaults(func=_sale_get)
    p = sale.add_parser("list", parents=[common],
                        help="sales started within the retention, soonest to end first")
    p.add_argument("--limit", type=int, default=100, help="at most this many (1..100)")
    p.set_defaults(func=_sale_list)

    blocklist = sub.add_parser("blocklist", help="buyers, devices and addresses refused "
                               "during flash sales").add_subparsers(
        dest="blocklist_command", required=True)
    for name in ("add", "remove"):
        p = blocklist.add_parser(name, parents=[common], help=f"{name} entries")
        p.add_argument("kind", choices=sorted(_BLOCK_KINDS))
        p.add_argument("values", nargs="+")
        p.add_argument("--reason", default="", help="why (kept with the entry)")
        plan.add_dry_run(p)
        p.set_defaults(func=_blocklist_change)
    p = blocklist.add_parser("list", parents=[common], help="the entries, by kind and value")
    p.add_argument("--kind", choices=sorted(_BLOCK_KINDS), default="")
    p.add_argument("--limit", type=int, default=1000)
    p.set_defaults(func=_blocklist_list)

    dead = sub.add_parser("dead-letters", help="orders that waited in the queue too long")
    dead_sub = dead.add_subparsers(dest="dead_command", required=True)
    p = dead_sub.add_parser("list", parents=[common], help="list dead-lettered orders")
    p.add_argument("--sku", default="", help="only orders of this SKU")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=_dead_list)
    for name, func in (("requeue", _dead_requeue), ("reject", _dead_reject)):
        p = dead_sub.add_parser(name, parents=[common], help=f"{name} one dead-lettered order")
        p.add_argument("channel")
        p.add_argument("order_id")
        plan.add_dry_run(p)
        p.set_defaults(func=func)

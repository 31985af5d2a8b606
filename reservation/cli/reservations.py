"""What an adapter does, from the command line (ReservationService): try the API, script
a test, look at an order without writing gRPC code.

    reservation reserve CHANNEL ORDER_ID SKU[:QTY[:WAREHOUSE]]... --buyer B
                        [--hold-ttl 15m] [--allow-queue]
    reservation confirm|release|get CHANNEL ORDER_ID
    reservation watch CHANNEL ORDER_ID      every change until the order settles

Each prints one line per order (state, reason, allocations, expiry); `--json` prints the
reply as JSON instead (`watch --json`: one JSON object per line). `--dry-run` on
reserve, confirm and release says what would happen from reads and changes nothing.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.api import connection
from reservation.cli import output, plan, rpc
from reservation.cli.loop import run
from reservation.cli.values import parse_duration
from reservation.v1 import reservation_service_pb2 as rs_pb
from reservation.v1 import reservation_service_pb2_grpc as rs_grpc
from reservation.v1 import types_pb2 as pb


def parse_line(text: str) -> pb.OrderLine:
    """SKU, SKU:QTY or SKU:QTY:WAREHOUSE (quantity 1 by default)."""
    sku, _, rest = text.partition(":")
    qty, _, warehouse = rest.partition(":")
    try:
        return pb.OrderLine(sku=sku, quantity=int(qty or 1), warehouse_id=warehouse)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not SKU[:QTY[:WAREHOUSE]]") from None


def state_name(value: int) -> str:
    return pb.ReservationState.Name(value).removeprefix("RESERVATION_STATE_")


def _time(ts: Timestamp) -> str:
    return ts.ToJsonString() if ts.seconds or ts.nanos else ""


def summary(r: pb.Reservation) -> str:
    """One line: who, state, then what the state carries."""
    parts = [f"{r.channel}:{r.order_id}", state_name(r.state)]
    if r.state == pb.RESERVATION_STATE_REJECTED:
        reason = pb.RejectReason.Name(r.reject_reason).removeprefix("REJECT_REASON_")
        parts.append(f"{reason} ({r.failed_sku})" if r.failed_sku else reason)
    if r.state == pb.RESERVATION_STATE_QUEUED:
        parts.append(f"position {r.queue_position}")
    if r.allocations:
        parts.append(", ".join(f"{a.sku} x{a.quantity} @{a.warehouse_id}"
                               for a in r.allocations))
    if r.state == pb.RESERVATION_STATE_RESERVED and _time(r.expires_at):
        parts.append(f"until {_time(r.expires_at)}")
    parts.append(f"id {r.reservation_id}")
    return "  ".join(parts)


def _show(a: argparse.Namespace) -> Any:
    return None if a.json else (lambda reply: summary(reply.reservation))


def _call(a: argparse.Namespace, method: str, request: Any) -> int:
    return rpc.call(a, rs_grpc.ReservationServiceStub, method, request, show=_show(a))


def _reserve(a: argparse.Namespace) -> int:
    request = rs_pb.ReserveRequest(channel=a.channel, order_id=a.order_id, buyer_id=a.buyer,
                                   lines=a.lines, allow_queue=a.allow_queue)
    if a.hold_ttl is not None:
        request.hold_ttl.CopyFrom(a.hold_ttl)
    if a.dry_run:
        return plan.plan(a, "reserve", lambda reads: _reserve_plan(reads, request))
    return _call(a, "Reserve", request)


async def _reserve_plan(reads: plan.Reads, request: rs_pb.ReserveRequest) -> dict[str, Any]:
    """Whether the lines find their units now (the sale's window, limits and gate are
    the service's to decide when it is sent), and what an order already under the key
    says."""
    existing = None
    try:
        got = await reads(rs_grpc.ReservationServiceStub, "GetReservation",
                          rs_pb.GetReservationRequest(channel=request.channel,
                                                      order_id=request.order_id))
        existing = summary(got.reservation)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
    lines = []
    for ln in request.lines:
        try:
            stock = await reads(rs_grpc.ReservationServiceStub, "GetStock",
                                rs_pb.GetStockRequest(sku=ln.sku))
            free = sum(lv.available for lv in stock.levels
                       if not ln.warehouse_id or lv.warehouse_id == ln.warehouse_id)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            free = None
        lines.append({"sku": ln.sku, "quantity": ln.quantity,
                      "warehouse_id": ln.warehouse_id, "available_now": free,
                      "enough": free is not None and free >= ln.quantity})
    return {"order": f"{request.channel}:{request.order_id}", "already": existing,
            "lines": lines}


def _settle(a: argparse.Namespace) -> int:
    """confirm | release: one RPC, or with --dry-run the order's state now and after."""
    method = {"confirm": "Confirm", "release": "Release"}[a.command]
    if a.dry_run:
        return plan.plan(a, a.command, lambda reads: _settle_plan(reads, a))
    request = getattr(rs_pb, f"{method}Request")(channel=a.channel, order_id=a.order_id)
    return _call(a, method, request)


async def _settle_plan(reads: plan.Reads, a: argparse.Namespace) -> dict[str, Any]:
    found = (await reads(rs_grpc.ReservationServiceStub, "GetReservation",
                         rs_pb.GetReservationRequest(channel=a.channel,
                                                     order_id=a.order_id))).reservation
    state = state_name(found.state)
    if a.command == "confirm":  # as confirm.lua: RESERVED, or already CONFIRMED
        if state not in ("RESERVED", "CONFIRMED"):
            raise plan.Refused(f"order {a.channel}:{a.order_id} is {state}; only a "
                               "RESERVED hold can be confirmed")
        after = "CONFIRMED"
    else:  # as release.lua: anything but CONFIRMED; a finished order stays as it is
        if state == "CONFIRMED":
            raise plan.Refused(f"order {a.channel}:{a.order_id} is CONFIRMED; sold units "
                               "are not released")
        after = "RELEASED" if state in ("RESERVED", "QUEUED", "DEAD_LETTERED") else state
    return {"order": f"{a.channel}:{a.order_id}", "state": [state, after],
            "units": sum(al.quantity for al in found.allocations)}


def _get(a: argparse.Namespace) -> int:
    return _call(a, "GetReservation", rs_pb.GetReservationRequest(channel=a.channel,
                                                                 order_id=a.order_id))


def _watch(a: argparse.Namespace) -> int:
    async def go() -> int:
        async with connection.aio_channel(a.target, connection.tls(a)) as channel:
            stub = rs_grpc.ReservationServiceStub(channel)
            stream = stub.WatchReservation(
                rs_pb.WatchReservationRequest(channel=a.channel, order_id=a.order_id),
                metadata=connection.bearer(a.token) + connection.operator())
            try:
                async for update in stream:
                    print(json.dumps(output.to_dict(update), ensure_ascii=False) if a.json
                          else summary(update.reservation), flush=True)
            except grpc.aio.AioRpcError as exc:
                output.print_error(exc.code().name, exc.details() or "")
                return 1
        return 0

    return run(go)


def add_commands(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    connection.add_connection_arguments(common)
    common.add_argument("--json", action="store_true", help="the reply as JSON")

    p = sub.add_parser("reserve", parents=[common],
                       help="hold stock for an order, as an adapter does (Reserve)")
    p.add_argument("channel")
    p.add_argument("order_id")
    p.add_argument("lines", nargs="+", type=parse_line, metavar="SKU[:QTY[:WAREHOUSE]]")
    p.add_argument("--buyer", required=True,
                   help="the buyer id (per-buyer limits count it)")
    p.add_argument("--hold-ttl", type=parse_duration, default=None,
                   help="how long the hold lasts unpaid (default: the sale's or server's)")
    p.add_argument("--allow-queue", action="store_true",
                   help="wait in the SKU's queue when units are held by unpaid orders")
    plan.add_dry_run(p)
    p.set_defaults(func=_reserve)
    for name, text in (("confirm", "the order is paid: its held units are sold (Confirm)"),
                       ("release", "give the order's units back (Release)")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("channel")
        p.add_argument("order_id")
        plan.add_dry_run(p)
        p.set_defaults(func=_settle)
    p = sub.add_parser("get", parents=[common], help="an order as it stands (GetReservation)")
    p.add_argument("channel")
    p.add_argument("order_id")
    p.set_defaults(func=_get)
    p = sub.add_parser("watch", parents=[common],
                       help="print the order and every change until it settles "
                       "(WatchReservation)")
    p.add_argument("channel")
    p.add_argument("order_id")
    p.set_defaults(func=_watch)



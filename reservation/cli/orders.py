"""Order hub commands of the `reservation` CLI (OrderService), JSON on stdout.
(The audit puller is a process of its own: `reservation-clients audit`.)

    reservation orders get CHANNEL SHOP ORDER_ID
    reservation orders history CHANNEL SHOP ORDER_ID
    reservation orders list [--channel jd] [--state ON_HOLD] [--warehouse WH-SH]
                            [--from 2026-11-22] [--to 2026-11-23] [--page-size N] [--page-token T]
    reservation fulfilment --day 2026-11-22 [--channel jd] [--warehouse WH-SH]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from reservation.api import connection
from reservation.cli import rpc
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


def _fulfilment(args: argparse.Namespace) -> int:
    return _call(args, "GetFulfilmentStats", pb.GetFulfilmentStatsRequest(
        day=args.day, channel=args.channel, warehouse_id=args.warehouse))


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

    p = sub.add_parser("fulfilment", help="on-time rate, funnel, median times, late orders")
    connection.add_connection_arguments(p)
    p.add_argument("--day", required=True, help="day of payment, YYYY-MM-DD (UTC)")
    p.add_argument("--channel", default="")
    p.add_argument("--warehouse", default="")
    p.set_defaults(func=_fulfilment)

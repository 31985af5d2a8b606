"""The reference WMS's own state of an order, reported to the hub for its consistency
rate (OrderService.ReportWarehouseState).

    reservation-clients wms report-state CHANNEL SHOP ORDER_ID STATUS [--at ISO-TIME]

A WMS tells the hub what it did (UpdateOrderState PRINTED, ReportShipment); a call that
is lost leaves the hub behind the warehouse. Reporting its own state as well, whenever
it changes, lets the hub list the orders where the two disagree for longer than the
grace. STATUSES is the reference WMS's status values in the hub's terms (a WMS team
maps its own the same way); a value not listed is refused, never guessed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.api import connection
from reservation.api.connection import add_connection_arguments, bearer
from reservation.v1 import order_service_pb2 as pb
from reservation.v1 import order_service_pb2_grpc as pb_grpc

STATUSES: dict[str, str] = {
    "RECEIVED": "ALLOCATED",        # the order reached the warehouse, to pick
    "PICKING": "ALLOCATED",
    "PACKED": "PRINTED",
    "LABEL_PRINTED": "PRINTED",
    "OUTBOUND_DONE": "SHIPPED",     # the parcel left with the carrier
    "CANCELLED": "CANCELLED",       # stopped in the warehouse (intercepted)
}


def report_state(channel: grpc.Channel, key: pb.OrderKey, status: str, at_ms: int,
                 actor: str = "wms", token: str | None = None) -> str:
    """The WMS's `status` of the order at `at_ms`; the hub's outcome name (UPDATED,
    UNCHANGED, STALE). ValueError for a status STATUSES does not list."""
    if status not in STATUSES:
        raise ValueError(f"unknown WMS status {status!r} (one of {', '.join(STATUSES)})")
    at = Timestamp()
    at.FromMilliseconds(at_ms)
    answer = pb_grpc.OrderServiceStub(channel).ReportWarehouseState(
        pb.ReportWarehouseStateRequest(key=key, state=STATUSES[status], raw_status=status,
                                       reported_at=at, actor=actor),
        timeout=10, metadata=bearer(token))
    return pb.SyncOutcome.Name(answer.outcome).removeprefix("SYNC_OUTCOME_")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_connection_arguments(p)
    p.add_argument("channel")
    p.add_argument("shop")
    p.add_argument("order_id")
    p.add_argument("status", help=f"the WMS's status: {', '.join(STATUSES)}")
    p.add_argument("--at", default="", help="when the WMS reached it (ISO 8601 with a "
                                            "zone; default: now)")
    p.add_argument("--actor", default="wms", help="who reports (default: wms)")


def run(args: argparse.Namespace) -> int:
    try:
        at_ms = int(datetime.fromisoformat(args.at).timestamp() * 1000) if args.at \
            else int(time.time() * 1000)
        with connection.channel(args.target, connection.tls(args)) as channel:
            outcome = report_state(channel, pb.OrderKey(channel=args.channel, shop=args.shop,
                                                        order_id=args.order_id),
                                   args.status, at_ms, args.actor, args.token)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2
    print(outcome)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="wms_orders", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

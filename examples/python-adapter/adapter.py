"""A channel adapter for the reservation service in Python, through the public gRPC API
only: the same steps as examples/node-adapter/adapter.js.

  1. the order hub: sync an order pulled from the channel (OrderService.SyncOrders) and
     read it back (GetOrder);
  2. a flash sale's hot path: hold stock for an order (ReservationService.Reserve) and
     confirm it when paid (Confirm), or release it when cancelled (Release).

Needs the `reservation-clients` (or `reservation`) package for the generated stubs in
`reservation.v1`. Settings from the environment, as the Node example:
RESERVATION_TARGET, RESERVATION_AUTH_TOKEN, ADAPTER_CHANNEL, ADAPTER_SHOP, ADAPTER_SKU,
ADAPTER_RUN_ID. Prints one JSON line; exits 1 with the gRPC status on an error.
"""

from __future__ import annotations

import json
import os
import sys
import time

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import reservation_service_pb2_grpc as rgrpc
from reservation.v1 import types_pb2 as pb

TARGET = os.environ.get("RESERVATION_TARGET", "127.0.0.1:50051")
CHANNEL = os.environ.get("ADAPTER_CHANNEL", "jd")
SHOP = os.environ.get("ADAPTER_SHOP", "shop-1")
SKU = os.environ.get("ADAPTER_SKU", "SKU-1")
RUN = os.environ.get("ADAPTER_RUN_ID", str(int(time.time() * 1000)))
DEADLINE_S = 5.0  # a deadline on every call (the API guide: 1-3 s for Reserve)
TOKEN = os.environ.get("RESERVATION_AUTH_TOKEN", "")
METADATA = (("authorization", f"Bearer {TOKEN}"),) if TOKEN else ()


def channel_order(order_id: str) -> opb.ChannelOrder:
    """What a real adapter maps from its channel's payload: the canonical state, the
    channel's raw status, exact cents."""
    now = Timestamp()
    now.GetCurrentTime()
    return opb.ChannelOrder(
        channel=CHANNEL, shop=SHOP, order_id=order_id, state="PAID",
        raw_status="WAIT_SELLER_STOCK_OUT", created_at=now, modified_at=now, paid_at=now,
        receiver_phone="13800138000",
        address=opb.Address(province="浙江省", city="杭州市", district="西湖区",
                            detail="文三路 1 号"),
        lines=[opb.OrderItem(sku=SKU, quantity=1, price=1999)], total=1999, paid=1999)


def reserve_request(order_id: str) -> rpb.ReserveRequest:
    return rpb.ReserveRequest(channel=CHANNEL, order_id=order_id, buyer_id=f"buyer-{order_id}",
                              lines=[pb.OrderLine(sku=SKU, quantity=1)],
                              hold_ttl=Duration(seconds=900))


def state(reservation: pb.Reservation) -> str:
    return pb.ReservationState.Name(reservation.state)


def main() -> dict[str, dict[str, str]]:
    with grpc.insecure_channel(TARGET) as channel:  # TLS: grpc.secure_channel(...)
        orders = ogrpc.OrderServiceStub(channel)
        reservations = rgrpc.ReservationServiceStub(channel)
        ask = {"timeout": DEADLINE_S, "metadata": METADATA}

        hub_order = f"PY-{RUN}-HUB"
        synced = orders.SyncOrders(opb.SyncOrdersRequest(orders=[channel_order(hub_order)]),
                                   **ask)
        got = orders.GetOrder(opb.GetOrderRequest(
            key=opb.OrderKey(channel=CHANNEL, shop=SHOP, order_id=hub_order)), **ask)
        out = {"sync": {"order_id": hub_order, "state": got.order.state,
                        "outcome": opb.SyncOutcome.Name(synced.results[0].outcome)}}

        paid = f"PY-{RUN}-PAID"
        held = reservations.Reserve(reserve_request(paid), **ask).reservation
        confirmed = reservations.Confirm(rpb.ConfirmRequest(channel=CHANNEL, order_id=paid),
                                         **ask).reservation
        out["paid"] = {"order_id": paid, "reserved": state(held),
                       "confirmed": state(confirmed)}

        cancelled = f"PY-{RUN}-CANCELLED"
        held = reservations.Reserve(reserve_request(cancelled), **ask).reservation
        released = reservations.Release(rpb.ReleaseRequest(channel=CHANNEL,
                                                           order_id=cancelled),
                                        **ask).reservation
        out["cancelled"] = {"order_id": cancelled, "reserved": state(held),
                            "released": state(released)}
        return out


if __name__ == "__main__":
    try:
        print(json.dumps(main()))
    except grpc.RpcError as err:
        # INVALID_ARGUMENT names the field in the details; UNAVAILABLE: the service is down.
        print(f"adapter: {err.code().name} {err.details()}", file=sys.stderr)
        sys.exit(1)

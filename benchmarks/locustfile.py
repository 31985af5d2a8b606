"""Locust users for the reservation service, after locust's documented gRPC pattern.

For people who already use locust (a Python locust worker tops out near the server's
own rate on 2 cores; benchmarks/loadgen.py is the lighter generator). Start a server
(`reservation serve`), then:

    locust -f benchmarks/locustfile.py --headless -u 50 -r 10 -t 30s \\
        -H 127.0.0.1:50051 --csv locust --html locust.html

-H is the service's gRPC address (default 127.0.0.1:50051). At start the file starts
its own flash sale of LOADTEST_SKU (default HOT-SKU-1) with LOADTEST_UNITS units
(default 1000) in warehouse LOADTEST_WAREHOUSE (default WH-1), open for an hour; a sale
of that id already running is reused. With RESERVATION_AUTH_TOKEN set (the server's
token) the calls carry it. If the service cannot be reached, or refuses the sale, the
run stops with one line saying why.

Every call is reported to locust under its method name; Reserve is reported under its
outcome too ("Reserve RESERVED", "Reserve REJECTED SOLD_OUT", ...), so reserved and
rejected orders are separate rows, and neither counts as a failure: only gRPC errors do.
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import gevent
import grpc
import grpc.experimental.gevent as grpc_gevent
from google.protobuf.timestamp_pb2 import Timestamp
from locust import User, events, task

from reservation.api import connection
from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import admin_service_pb2_grpc as admin_grpc
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import reservation_service_pb2_grpc as pb_grpc
from reservation.v1 import types_pb2 as types_pb

# grpc's C core must cooperate with gevent, which locust runs on.
grpc_gevent.init_gevent()
# locust times -t on gevent's cached clock, which has not moved while this file and its
# imports loaded (seconds, on a busy machine): refresh it, or the run ends that much early.
gevent.get_hub().loop.update_now()

SKU = os.environ.get("LOADTEST_SKU", "HOT-SKU-1")
UNITS = int(os.environ.get("LOADTEST_UNITS", "1000"))
WAREHOUSE = os.environ.get("LOADTEST_WAREHOUSE", "WH-1")
SALE_ID = f"locust-{SKU}".lower()
CHANNELS = ("tmall", "jd", "pdd", "douyin", "wechat", "pos")
METADATA = connection.bearer(os.environ.get(connection.TOKEN_ENV))


def target(host: str | None) -> str:
    return host or connection.DEFAULT_TARGET


def outcome_name(method: str, response: Any) -> str:
    """The stats row of a call: Reserve answers are split by state and reason."""
    name = method.rsplit("/", 1)[-1]
    if name != "Reserve":
        return name
    r = response.reservation
    state = types_pb.ReservationState.Name(r.state).removeprefix("RESERVATION_STATE_")
    if r.reject_reason:
        reason = types_pb.RejectReason.Name(r.reject_reason).removeprefix("REJECT_REASON_")
        return f"Reserve {state} {reason}"
    return f"Reserve {state}"


class LocustInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Fires locust's request event for every unary call (time, size, failure)."""

    def __init__(self, environment: Any) -> None:
        self.env = environment

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any,
                              request: Any) -> Any:
        start = time.perf_counter()
        call = continuation(details, request)
        name, length, exception = details.method.rsplit("/", 1)[-1], 0, None
        try:
            response = call.result()
            name, length = outcome_name(details.method, response), response.ByteSize()
        except grpc.RpcError as exc:
            exception = exc
        self.env.events.request.fire(
            request_type="grpc", name=name,
            response_time=(time.perf_counter() - start) * 1000, response_length=length,
            response=None, context=None, exception=exception)
        return call


def _timestamp(ms_from_now: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(int(time.time() * 1000) + ms_from_now)
    return ts


@events.test_start.add_listener
def start_sale(environment: Any, **_: Any) -> None:
    """Start the sale the users buy from, or say in one line why it cannot be."""
    address = target(environment.host)
    with connection.channel(address, connection.tls_from_env()) as channel:
        try:
            admin_grpc.AdminServiceStub(channel).StartFlashSale(admin_pb.StartFlashSaleRequest(
                create_skus=True,  # the load test's SKU is its own
                sale_id=SALE_ID, starts_at=_timestamp(0), ends_at=_timestamp(3_600_000),
                items=[types_pb.StockItem(sku=SKU, warehouse_id=WAREHOUSE, quantity=UNITS)]),
                metadata=METADATA, timeout=10)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:  # a sale of that id runs: reuse
                _stop(environment, f"cannot start flash sale {SALE_ID} of {SKU} on {address}: "
                                   f"{exc.code().name}: {exc.details()}{_hint(exc.code())}")


def _hint(code: grpc.StatusCode) -> str:
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return " (is reservation serve running there? -H sets the address)"
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f" (set {connection.TOKEN_ENV} to the server's token)"
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return " (another sale holds the SKU: set LOADTEST_SKU to another one)"
    return ""


def _stop(environment: Any, message: str) -> None:
    print(f"locustfile: {message}", file=sys.stderr, flush=True)
    environment.process_exit_code = 1
    if environment.runner is not None:
        environment.runner.quit()


class GrpcUser(User):
    """A User with a stub whose channel goes through LocustInterceptor."""

    abstract = True
    stub_class: type = pb_grpc.ReservationServiceStub

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        # TLS from RESERVATION_TLS_CA / _CLIENT_CERT / _CLIENT_KEY, as for every client.
        channel = grpc.intercept_channel(connection.channel(target(self.host), connection.tls_from_env()),
                                         LocustInterceptor(environment))
        self.stub = self.stub_class(channel)


class FlashSaleBuyer(GrpcUser):
    """A channel adapter forwarding a buyer's order for the hot SKU, sometimes paying."""

    @task(10)
    def reserve(self) -> None:
        order = uuid.uuid4().hex
        channel = random.choice(CHANNELS)
        try:
            resp = self.stub.Reserve(pb.ReserveRequest(
                channel=channel, order_id=order, buyer_id=f"buyer-{random.randrange(50_000)}",
                lines=[types_pb.OrderLine(sku=SKU, quantity=1)]), metadata=METADATA)
            if resp.reservation.state == types_pb.RESERVATION_STATE_RESERVED \
                    and random.random() < 0.3:
                self.stub.Confirm(pb.ConfirmRequest(channel=channel, order_id=order),
                                  metadata=METADATA)
        except grpc.RpcError:
            pass  # already reported to locust as a failure by the interceptor

    @task(1)
    def stock(self) -> None:
        try:
            self.stub.GetStock(pb.GetStockRequest(sku=SKU), metadata=METADATA)
        except grpc.RpcError:
            pass

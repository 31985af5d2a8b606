"""Locust users for the reservation service, after locust's documented gRPC pattern.

For people who already use locust (a Python locust worker tops out near the server's
own rate on 2 cores; benchmarks/loadgen.py is the lighter generator). Start a server
(`reservation serve`), then:

    locust -f benchmarks/locustfile.py --headless -u 50 -r 10 -t 30s \\
        -H 127.0.0.1:50051 --csv loadtest-results/locust --html loadtest-results/locust.html

-H is the service's gRPC address (default 127.0.0.1:50051). Each run starts a flash sale
of its own (`locust-<sku>-<start time>`) of LOADTEST_UNITS units, first stopping any
earlier run's sale of that SKU that is still open, and stops it at the end: a run never
inherits the last one's sold-out stock, so the same command measures the same thing
twice in a row. The settings (environment, each checked at start; an unknown LOADTEST_*
name or a bad value stops the run with one line saying which):

    LOADTEST_SKU            HOT-SKU-1   the SKU on sale
    LOADTEST_WAREHOUSE      WH-1        its warehouse
    LOADTEST_UNITS          1000        units put on sale
    LOADTEST_SCENARIO       flow        flow: every reserved order is confirmed
                                        (LOADTEST_CONFIRM_SHARE) or released at once and
                                        confirmed units are restocked each second, so
                                        stock keeps flowing and the run measures
                                        reservations, not rejections; sellout: a flash sale
                                        that sells out (holds kept, nothing restocked)
    LOADTEST_CONFIRM_SHARE  0.3         share of reserved orders that are paid (0..1)
    LOADTEST_HOLD_S         60          the sale's hold TTL, seconds (1..3600)
    LOADTEST_REJECTIONS     apart       apart: rejected orders are their own rows
                                        ("Reserve REJECTED SOLD_OUT"), not failures;
                                        fail: they count as failures

With RESERVATION_AUTH_TOKEN set (a loadtest or operator principal's token) the calls
carry it. If the service cannot be reached, or refuses the sale, the run stops with one
line saying why.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
import grpc
import grpc.experimental.gevent as grpc_gevent
from google.protobuf.duration_pb2 import Duration
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

CHANNELS = ("tmall", "jd", "pdd", "douyin", "wechat", "pos")
METADATA = connection.bearer(os.environ.get(connection.TOKEN_ENV))
SCENARIOS = ("flow", "sellout")
REJECTIONS = ("apart", "fail")


@dataclass(frozen=True)
class Run:
    sku: str = "HOT-SKU-1"
    warehouse: str = "WH-1"
    units: int = 1000
    scenario: str = "flow"
    confirm_share: float = 0.3
    hold_s: int = 60
    rejections: str = "apart"


def settings(env: dict[str, str]) -> Run:
    """The run's settings from LOADTEST_* variables; ValueError names a bad one."""
    known = {f"LOADTEST_{name.upper()}" for name in Run.__dataclass_fields__}
    unknown = sorted(k for k in env if k.startswith("LOADTEST_") and k not in known)
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]} (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for name, f in Run.__dataclass_fields__.items():
        raw = env.get(f"LOADTEST_{name.upper()}")
        if raw is None:
            continue
        try:
            values[name] = type(f.default)(raw)
        except ValueError:
            kind = {int: "a whole number", float: "a number"}[type(f.default)]
            raise ValueError(f"LOADTEST_{name.upper()}={raw!r} is not {kind}") from None
    run = Run(**values)
    checks = [(run.units >= 1, "LOADTEST_UNITS must be at least 1"),
              (run.scenario in SCENARIOS, f"LOADTEST_SCENARIO must be one of {SCENARIOS}"),
              (0 <= run.confirm_share <= 1, "LOADTEST_CONFIRM_SHARE must be 0..1"),
              (1 <= run.hold_s <= 3600, "LOADTEST_HOLD_S must be 1..3600"),
              (run.rejections in REJECTIONS, f"LOADTEST_REJECTIONS must be one of {REJECTIONS}"),
              (bool(run.sku and run.warehouse), "LOADTEST_SKU and _WAREHOUSE must be set")]
    for ok, why in checks:
        if not ok:
            raise ValueError(why)
    return run


try:
    RUN, SETTINGS_ERROR = settings(dict(os.environ)), ""
except ValueError as exc:
    RUN, SETTINGS_ERROR = Run(), str(exc)
SALE_PREFIX = f"locust-{RUN.sku}".lower()
SALE_ID = f"{SALE_PREFIX}-{int(time.time())}"


class Rejected(Exception):
    """A rejected order, reported as a failure when LOADTEST_REJECTIONS=fail."""


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
            if RUN.rejections == "fail" and name.startswith("Reserve REJECTED"):
                exception = Rejected(name.removeprefix("Reserve "))
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
    """Check the settings, close an earlier run's sale, start this run's, or say in one
    line why it cannot be."""
    if SETTINGS_ERROR:
        _stop(environment, SETTINGS_ERROR)
        return
    address = target(environment.host)
    with connection.channel(address, connection.tls_from_env()) as channel:
        admin = admin_grpc.AdminServiceStub(channel)
        try:
            _close_earlier(admin)
            admin.StartFlashSale(admin_pb.StartFlashSaleRequest(
                create_skus=True,  # the load test's SKU is its own
                sale_id=SALE_ID, starts_at=_timestamp(0), ends_at=_timestamp(3_600_000),
                hold_ttl=Duration(seconds=RUN.hold_s),
                items=[types_pb.StockItem(sku=RUN.sku, warehouse_id=RUN.warehouse,
                                          quantity=RUN.units)]),
                metadata=METADATA, timeout=10)
        except grpc.RpcError as exc:
            _stop(environment, f"cannot start flash sale {SALE_ID} of {RUN.sku} on {address}: "
                               f"{exc.code().name}: {exc.details()}{_hint(exc.code())}")
            return
    if RUN.scenario == "flow":
        threading.Thread(target=_restock, args=(address,), daemon=True).start()


def _close_earlier(admin: admin_grpc.AdminServiceStub) -> None:
    """Stop the open sales earlier runs of this file left on the SKU (a run killed
    before its end): their unsold units go to returned, and this run starts afresh."""
    sales = admin.ListFlashSales(admin_pb.ListFlashSalesRequest(), metadata=METADATA,
                                 timeout=10).sales
    for sale in sales:
        if sale.sale_id.startswith(SALE_PREFIX) and sale.state in (
                admin_pb.FLASH_SALE_STATE_ACTIVE, admin_pb.FLASH_SALE_STATE_SCHEDULED):
            admin.StopFlashSale(admin_pb.StopFlashSaleRequest(sale_id=sale.sale_id),
                                metadata=METADATA, timeout=10)


@events.test_stop.add_listener
def stop_sale(environment: Any, **_: Any) -> None:
    """This run's sale ends with the run: its unsold units are returned."""
    if SETTINGS_ERROR:
        return
    with connection.channel(target(environment.host), connection.tls_from_env()) as channel:
        try:
            admin_grpc.AdminServiceStub(channel).StopFlashSale(
                admin_pb.StopFlashSaleRequest(sale_id=SALE_ID), metadata=METADATA, timeout=10)
        except grpc.RpcError:
            pass  # never started, or the server is gone: nothing to give back


_confirmed = [0]  # units paid since the last restock (flow scenario)
_confirmed_lock = threading.Lock()


def _restock(address: str) -> None:
    """Flow scenario: every second, the units paid since are loaded again, so the sale
    never sells out and the run keeps measuring reservations."""
    with connection.channel(address, connection.tls_from_env()) as channel:
        admin = admin_grpc.AdminServiceStub(channel)
        while True:
            time.sleep(1)
            with _confirmed_lock:
                units, _confirmed[0] = _confirmed[0], 0
            if units:
                try:
                    admin.LoadStock(admin_pb.LoadStockRequest(
                        items=[types_pb.StockItem(sku=RUN.sku, warehouse_id=RUN.warehouse,
                                                  quantity=units)],
                        mode=admin_pb.LOAD_MODE_ADD), metadata=METADATA, timeout=10)
                except grpc.RpcError:
                    with _confirmed_lock:
                        _confirmed[0] += units  # the next second tries again


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
    """A channel adapter forwarding a buyer's order for the hot SKU; the order is then
    paid (LOADTEST_CONFIRM_SHARE) or, in the flow scenario, abandoned at once."""

    @task(10)
    def reserve(self) -> None:
        order = uuid.uuid4().hex
        channel = random.choice(CHANNELS)
        try:
            resp = self.stub.Reserve(pb.ReserveRequest(
                channel=channel, order_id=order, buyer_id=f"buyer-{random.randrange(50_000)}",
                lines=[types_pb.OrderLine(sku=RUN.sku, quantity=1)]), metadata=METADATA)
            if resp.reservation.state != types_pb.RESERVATION_STATE_RESERVED:
                return
            if random.random() < RUN.confirm_share:
                self.stub.Confirm(pb.ConfirmRequest(channel=channel, order_id=order),
                                  metadata=METADATA)
                if RUN.scenario == "flow":
                    with _confirmed_lock:
                        _confirmed[0] += 1
            elif RUN.scenario == "flow":
                self.stub.Release(pb.ReleaseRequest(channel=channel, order_id=order),
                                  metadata=METADATA)
        except grpc.RpcError:
            pass  # already reported to locust as a failure by the interceptor

    @task(1)
    def stock(self) -> None:
        try:
            self.stub.GetStock(pb.GetStockRequest(sku=RUN.sku), metadata=METADATA)
        except grpc.RpcError:
            pass

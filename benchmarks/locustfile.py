"""Locust users for the reservation service, after locust's documented gRPC pattern.

For people who already use locust (a Python locust worker tops out near the server's
own rate on 2 cores; benchmarks/loadgen.py is the lighter generator). A client
interceptor reports every call to locust's request event, as in locust's gRPC example.

    RESERVATION_TARGET=127.0.0.1:50051 locust -f benchmarks/locustfile.py --headless \\
        -u 200 -r 50 -t 30s --csv benchmarks/results/locust --html benchmarks/results/locust.html

Start a flash sale of RESERVATION_HOT_SKU first (`reservation sale start ...`); an
unknown SKU is still valid load (fast REJECTED answers).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import grpc.experimental.gevent as grpc_gevent
from locust import User, task

from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import reservation_service_pb2_grpc as pb_grpc
from reservation.v1 import types_pb2 as types_pb

# grpc's C core must cooperate with gevent, which locust runs on.
grpc_gevent.init_gevent()

TARGET = os.environ.get("RESERVATION_TARGET", "127.0.0.1:50051")
HOT_SKU = os.environ.get("RESERVATION_HOT_SKU", "HOT-SKU-1")
CHANNELS = ("tmall", "jd", "pdd", "douyin", "wechat", "pos")


class LocustInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Fires locust's request event for every unary call (time, size, failure)."""

    def __init__(self, environment: Any) -> None:
        self.env = environment

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any,
                              request: Any) -> Any:
        start = time.perf_counter()
        response, exception, length = None, None, 0
        try:
            response = continuation(details, request)
            length = response.result().ByteSize()
        except grpc.RpcError as exc:
            exception = exc
        self.env.events.request.fire(
            request_type="grpc", name=details.method,
            response_time=(time.perf_counter() - start) * 1000, response_length=length,
            response=response, context=None, exception=exception)
        return response


class GrpcUser(User):
    """A User with a stub whose channel goes through LocustInterceptor."""

    abstract = True
    stub_class: type = pb_grpc.ReservationServiceStub

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        channel = grpc.intercept_channel(grpc.insecure_channel(TARGET),
                                         LocustInterceptor(environment))
        self.stub = self.stub_class(channel)


class FlashSaleBuyer(GrpcUser):
    """A channel adapter forwarding a buyer's order for the hot SKU, sometimes paying."""

    @task(10)
    def reserve(self) -> None:
        order = uuid.uuid4().hex
        channel = random.choice(CHANNELS)
        resp = self.stub.Reserve(pb.ReserveRequest(
            channel=channel, order_id=order, buyer_id=f"buyer-{random.randrange(50_000)}",
            lines=[types_pb.OrderLine(sku=HOT_SKU, quantity=1)]))
        if resp.reservation.state == types_pb.RESERVATION_STATE_RESERVED \
                and random.random() < 0.3:
            self.stub.Confirm(pb.ConfirmRequest(channel=channel, order_id=order))

    @task(1)
    def stock(self) -> None:
        self.stub.GetStock(pb.GetStockRequest(sku=HOT_SKU))



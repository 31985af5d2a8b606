"""Fuzzed requests against every RPC of a real server on a real Redis.

For each RPC in reservation/v1 (found from the descriptors, so a new one is fuzzed from
the day it exists): generated requests (tests/helpers/fuzz_strategies.py) and raw bytes. Every
answer must be a defined code (never UNKNOWN or INTERNAL, never a hang), a refused call
must leave Redis exactly as it was, and the server must stay SERVING.

`make test` runs a short slice with a fixed seed (derandomized: the same examples every
time); `make fuzz` runs many more (FUZZ_EXAMPLES, default there 300 per RPC and kind).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings

from reservation.server.app import App, start_app
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import types_pb2
from tests.helpers.fuzz_strategies import raw_bytes, requests
from tests.helpers.rpcs import Rpc, all_rpcs
from tests.helpers.server import test_settings
from tests.helpers.snapshots import by_timer

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
RPCS = all_rpcs()
UNDEFINED = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL,
             grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE}
FUZZ = settings(max_examples=EXAMPLES, derandomize=not os.environ.get("FUZZ_RANDOM"),
                deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


class Server:
    """The service on its own event loop in a thread, so hypothesis drives it with
    blocking calls."""

    def __init__(self, redis_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        s = test_settings(redis_url, write_back_max_wait_ms=200, watch_max_ms=300,
                          write_back_groups="wms", order_event_groups="audit,feed-jd")
        # No background loops: nothing but the fuzzed calls writes to Redis.
        self.app: App = self.run(start_app(s, background=False))
        self.channel = grpc.insecure_channel(self.app.target)

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)

    def close(self) -> None:
        self.channel.close()
        self.run(self.app.stop(grace=0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def server(redis_proc: Any) -> Iterator[Server]:
    if not redis_proc.is_running:
        redis_proc.restart()
    with redis.Redis.from_url(redis_proc.url) as r:
        r.flushall()
    srv = Server(redis_proc.url)
    # Something for calls to find: stock for the KNOWN SKUs and warehouses.
    load = srv.channel.unary_unary("/reservation.v1.AdminService/LoadStock",
                                   response_deserializer=apb.LoadStockResponse.FromString)
    load(apb.LoadStockRequest(mode=apb.LOAD_MODE_SET, items=[
        types_pb2.StockItem(sku=s, warehouse_id=w, quantity=5)
        for s in ("A", "B") for w in ("W1", "W2")]).SerializeToString(), timeout=30)
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def db(redis_proc: Any) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_proc.url) as r:
        yield r


def snapshot(r: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key and its serialized value (DUMP): equal snapshots, equal data."""
    keys = sorted(k for k in r.scan_iter(count=1000) if not by_timer(k))
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.dump(k)
    return dict(zip(keys, pipe.execute()))


def call(server: Server, rpc: Rpc, payload: bytes) -> grpc.StatusCode:
    kind = (("stream" if rpc.client_streaming else "unary") + "_"
            + ("stream" if rpc.server_streaming else "unary"))
    method = getattr(server.channel, kind)(rpc.path)
    request: Any = iter([payload]) if rpc.client_streaming else payload
    try:
        reply = method(request, timeout=20)
        if rpc.server_streaming:
            for _ in reply:
                pass
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


ANSWERS: Counter[tuple[str, str]] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    """With FUZZ_REPORT set, how often each RPC answered each code (are calls getting
    past the first check?), printed at the end."""
    yield
    if os.environ.get("FUZZ_REPORT"):
        for (path, code), n in sorted(ANSWERS.items()):
            print(f"{path} {code} {n}")


def check(server: Server, db: redis.Redis, rpc: Rpc, payload: bytes) -> None:
    before = snapshot(db)
    code = call(server, rpc, payload)
    ANSWERS[(rpc.path, code.name)] += 1
    assert code not in UNDEFINED, f"{rpc.path} answered {code.name} to {payload!r:.300}"
    if code != grpc.StatusCode.OK:
        after = snapshot(db)
        changed = sorted(set(before) ^ set(after)
                         | {k for k in before.keys() & after.keys() if before[k] != after[k]})
        assert not changed, f"{rpc.path} refused ({code.name}) but changed {changed[:5]}"


def serving(server: Server) -> bool:
    reply = health_pb2_grpc.HealthStub(server.channel).Check(health_pb2.HealthCheckRequest(),
                                                             timeout=10)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("rpc", RPCS, ids=lambda r: f"{r.service}.{r.name}")
def test_generated_requests_get_a_defined_answer(server: Server, db: redis.Redis,
                                                 rpc: Rpc) -> None:
    @FUZZ
    @given(payload=requests(rpc.descriptor.input_type))
    def run(payload: bytes) -> None:
        check(server, db, rpc, payload)

    run()
    assert serving(server)


@pytest.mark.parametrize("rpc", RPCS, ids=lambda r: f"{r.service}.{r.name}")
def test_raw_bytes_get_a_defined_answer(server: Server, db: redis.Redis, rpc: Rpc) -> None:
    @FUZZ
    @given(payload=raw_bytes())
    def run(payload: bytes) -> None:
        check(server, db, rpc, payload)

    run()
    assert serving(server)


def test_the_strategies_cover_every_request_type() -> None:
    """Building a strategy for each input type must not fail (a new field type would)."""
    for rpc in RPCS:
        requests(rpc.descriptor.input_type).validate()

"""The metrics interceptor wraps every handler kind and records each call's final code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY

from reservation.server.interceptors.metrics import MetricsInterceptor
from tests.helpers.waiting import wait_until

SERVICE = "test.Kinds"


def _ident(x: bytes) -> bytes:
    return x


async def unary_unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    if request == b"fail":
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no")
    return request


async def unary_stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    for _ in range(2):
        yield request


async def stream_unary(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
    return b"".join([r async for r in requests])


async def stream_stream(requests: AsyncIterator[bytes],
                        context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    async for r in requests:
        yield r


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    handlers = {
        "UU": grpc.unary_unary_rpc_method_handler(unary_unary, _ident, _ident),
        "US": grpc.unary_stream_rpc_method_handler(unary_stream, _ident, _ident),
        "SU": grpc.stream_unary_rpc_method_handler(stream_unary, _ident, _ident),
        "SS": grpc.stream_stream_rpc_method_handler(stream_stream, _ident, _ident),
    }
    server = grpc.aio.server(interceptors=[MetricsInterceptor()])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    await server.stop(0)


def handled(kind: str, method: str, code: str) -> float:
    labels = {"grpc_type": kind, "grpc_service": SERVICE, "grpc_method": method,
              "grpc_code": code}
    return REGISTRY.get_sample_value("grpc_server_handled_total", labels) or 0.0


def started(kind: str, method: str) -> float:
    labels = {"grpc_type": kind, "grpc_service": SERVICE, "grpc_method": method}
    return REGISTRY.get_sample_value("grpc_server_started_total", labels) or 0.0


async def _requests() -> AsyncIterator[bytes]:
    for part in (b"a", b"b"):
        yield part


async def test_every_handler_kind_is_counted(channel: grpc.aio.Channel) -> None:
    calls: list[tuple[str, str, Any]] = [
        ("UNARY", "UU", lambda: channel.unary_unary(f"/{SERVICE}/UU")(b"x")),
        ("SERVER_STREAM", "US", lambda: _drain(channel.unary_stream(f"/{SERVICE}/US")(b"x"))),
        ("CLIENT_STREAM", "SU", lambda: channel.stream_unary(f"/{SERVICE}/SU")(_requests())),
        ("BIDI_STREAM", "SS",
         lambda: _drain(channel.stream_stream(f"/{SERVICE}/SS")(_requests()))),
    ]
    for kind, method, call in calls:
        before = (started(kind, method), handled(kind, method, "OK"))
        await call()
        assert (started(kind, method), handled(kind, method, "OK")) == (
            before[0] + 1, before[1] + 1), kind


async def test_an_aborted_call_is_counted_with_its_code(channel: grpc.aio.Channel) -> None:
    before = handled("UNARY", "UU", "FAILED_PRECONDITION")
    with pytest.raises(grpc.aio.AioRpcError):
        await channel.unary_unary(f"/{SERVICE}/UU")(b"fail")
    # context.abort sends the status before the handler's exception leaves the
    # interceptor, so the client may see the error a moment before the count: wait for it.
    async def count() -> float:
        return handled("UNARY", "UU", "FAILED_PRECONDITION")
    await wait_until(count, lambda n: n == before + 1, "the aborted call's count")


async def _drain(call: Any) -> list[bytes]:
    return [r async for r in call]

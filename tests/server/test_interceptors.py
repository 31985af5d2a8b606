"""The interceptors wrap every handler kind: auth and error mapping for unary-unary,
unary-stream, stream-unary and stream-stream alike, on a real gRPC server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from reservation.access import roles
from reservation.access.roles import Role, Scope
from reservation.access.tokens import hash_token
from reservation.errors import InvalidArgument
from reservation.server.app import App, interceptors
from reservation.settings import Settings
from reservation.v1 import (
    admin_service_pb2,
    reservation_service_pb2,
    write_back_service_pb2,
)
from tests.helpers.access import SCRYPT_CALL_S

TOKEN = "s3cret-token"
KINDS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
SERVICE = "test.Kinds"


def _behaviour(payload: bytes) -> bytes:
    """What every test handler does with a request: b"bad" is the caller's fault,
    b"bug" is ours, anything else is echoed."""
    if payload == b"bad":
        raise InvalidArgument("payload", "is bad")
    if payload == b"bug":
        raise RuntimeError("a bug with secrets inside")
    return payload


async def _unary_unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return _behaviour(request)


async def _unary_stream(request: bytes, context: grpc.aio.ServicerContext
                        ) -> AsyncIterator[bytes]:
    yield b"first"  # the error comes after a response was already streamed
    yield _behaviour(request)


async def _stream_unary(requests: AsyncIterator[bytes],
                        context: grpc.aio.ServicerContext) -> bytes:
    return _behaviour(b"".join([r async for r in requests]))


async def _stream_stream(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
                         ) -> AsyncIterator[bytes]:
    async for r in requests:
        yield _behaviour(r)


@pytest.fixture(params=["sha256", "scrypt"])
async def kinds_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                       tmp_path: Path) -> AsyncIterator[str]:
    """A real server with one method per handler kind, behind the service's interceptors
    (the test methods get a role: the role table refuses methods it does not name). The
    token is stored sha256 (decided from the metadata alone) or scrypt (decided in the
    call, off the event loop, then handed to the chain): both paths for every kind."""
    for kind in KINDS:
        monkeypatch.setitem(roles.METHODS, f"/{SERVICE}/{kind}", {Role.OPERATOR: Scope.ANY})
    auth = tmp_path / "principals.yaml"
    auth.write_text(yaml.safe_dump({"principals": [
        {"name": "ops", "role": "operator", "token_hash": hash_token(TOKEN, request.param)}]}))
    settings = Settings(redis_url="redis://127.0.0.1:1/0", port=0, auth_file=str(auth),
                        order_buyer_hash_key="test-buyer-hash-key",
                        write_back_batch_key="k", auth_failure_rate=0)
    server = grpc.aio.server(interceptors=interceptors(settings))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {
        "unary_unary": grpc.unary_unary_rpc_method_handler(_unary_unary),
        "unary_stream": grpc.unary_stream_rpc_method_handler(_unary_stream),
        "stream_unary": grpc.stream_unary_rpc_method_handler(_stream_unary),
        "stream_stream": grpc.stream_stream_rpc_method_handler(_stream_stream),
    })])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


async def _call(target: str, kind: str, payload: bytes | None,
                metadata: tuple[tuple[str, str], ...]) -> list[bytes]:
    """payload None: a client stream that sends nothing (a call refused before its
    first message cannot race the client's write of that message)."""
    async with grpc.aio.insecure_channel(target) as channel:
        method = getattr(channel, kind)(f"/{SERVICE}/{kind}")
        request: bytes | Iterator[bytes] = payload or b""
        if kind.startswith("stream"):
            request = iter([payload] if payload is not None else [])
        reply = method(request, metadata=metadata, timeout=SCRYPT_CALL_S)
        if kind.endswith("_stream"):
            return [item async for item in reply]
        return [await reply]


GOOD = (("authorization", f"Bearer {TOKEN}"),)


@pytest.mark.parametrize("kind", KINDS)
async def test_every_handler_kind_answers_with_the_right_token(kinds_server: str,
                                                               kind: str) -> None:
    replies = await _call(kinds_server, kind, b"hello", GOOD)
    assert replies[-1] == b"hello"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("metadata", [
    (), (("authorization", "Bearer wrong"),), (("authorization", f"bearer {TOKEN}"),),
    (("authorization", TOKEN),), (("authorization", f"Bearer {TOKEN}x"),),
], ids=["missing", "wrong", "lower-case-scheme", "no-scheme", "longer"])
async def test_every_handler_kind_refuses_a_bad_token(kinds_server: str, kind: str,
                                                      metadata: tuple[tuple[str, str], ...]
                                                      ) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _call(kinds_server, kind, None if kind.startswith("stream") else b"hello",
                    metadata)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("kind", KINDS)
async def test_every_handler_kind_maps_invalid_argument_with_the_field(kinds_server: str,
                                                                       kind: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _call(kinds_server, kind, b"bad", GOOD)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(err.value)
    assert isinstance(status, status_pb2.Status)
    request = error_details_pb2.BadRequest()
    status.details[0].Unpack(request)
    assert request.field_violations[0].field == "payload"


@pytest.mark.parametrize("kind", KINDS)
async def test_every_handler_kind_hides_a_bug_behind_internal(kinds_server: str,
                                                              kind: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _call(kinds_server, kind, b"bug", GOOD)
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (err.value.details() or "")


def _service_methods() -> list[tuple[str, str, bool, bool]]:
    out = []
    for module in (reservation_service_pb2, admin_service_pb2, write_back_service_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                out.append((service.full_name, m.name, m.client_streaming, m.server_streaming))
    return out


@pytest.fixture
def settings_overrides() -> dict[str, str]:
    return {"auth_token": TOKEN, "write_back_batch_key": "k"}


@pytest.mark.parametrize("service,method,client_streaming,server_streaming",
                         _service_methods(), ids=lambda v: v if isinstance(v, str) else "")
async def test_every_rpc_of_the_service_needs_the_token(
        app: App, service: str, method: str, client_streaming: bool,
        server_streaming: bool) -> None:
    kind = (("stream" if client_streaming else "unary") + "_"
            + ("stream" if server_streaming else "unary"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async with grpc.aio.insecure_channel(app.target) as channel:
            call = getattr(channel, kind)(f"/{service}/{method}")
            # A client stream sends nothing: the refusal must not race its first write.
            request: bytes | Iterator[bytes] = iter([]) if client_streaming else b""
            reply = call(request, timeout=5)
            if server_streaming:
                [item async for item in reply]
            else:
                await reply
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_health_stays_open_without_a_token(app: App) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(app.target) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING

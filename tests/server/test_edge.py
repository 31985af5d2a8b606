"""The edge is built once per method (not per call), and with auth and metrics both on it
still counts every call with its final code: the granted ones, the refused ones (decided
from the metadata) and those decided within the call (a scrypt token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from prometheus_client import REGISTRY

from reservation.access import grant, roles
from reservation.access.roles import Role, Scope
from reservation.access.tokens import hash_token
from reservation.server.app import interceptors
from reservation.settings import Settings
from tests.helpers.access import SCRYPT_CALL_S

SERVICE = "test.Edge"
FAST, SLOW = "fast-token", "slow-token"


class Counting(grpc.GenericRpcHandler):
    """One echo method; counts how often the server asks for its handler."""

    def __init__(self) -> None:
        self.asked = 0

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method != f"/{SERVICE}/Echo":
            return None
        self.asked += 1

        async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            if request == b"who":  # the caller the call runs as (its grant)
                return (grant.caller_name() or "nobody").encode()
            return request
        return grpc.unary_unary_rpc_method_handler(echo)


async def _server(settings: Settings, handlers: Counting) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server(interceptors=interceptors(settings))
    server.add_generic_rpc_handlers([handlers])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def plain() -> AsyncIterator[tuple[Counting, str]]:
    handlers = Counting()
    server, target = await _server(Settings(redis_url="redis://127.0.0.1:1/0", port=0),
                                   handlers)
    yield handlers, target
    await server.stop(0)


async def test_the_method_is_looked_up_once_for_many_calls(plain: tuple[Counting, str]
                                                           ) -> None:
    handlers, target = plain
    async with grpc.aio.insecure_channel(target) as channel:
        echo: Any = channel.unary_unary(f"/{SERVICE}/Echo")
        replies = [await echo(b"x%d" % i, timeout=5) for i in range(5)]
    assert replies == [b"x%d" % i for i in range(5)]
    assert handlers.asked == 1


async def test_an_unknown_method_stays_unimplemented(plain: tuple[Counting, str]) -> None:
    _, target = plain
    async with grpc.aio.insecure_channel(target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            nothing: Any = channel.unary_unary(f"/{SERVICE}/Nothing")
            await nothing(b"x", timeout=5)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.fixture
async def guarded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                  ) -> AsyncIterator[tuple[Counting, str]]:
    """Auth (one sha256 token, one scrypt token) and metrics both on."""
    monkeypatch.setitem(roles.METHODS, f"/{SERVICE}/Echo", {Role.OPERATOR: Scope.ANY})
    auth = tmp_path / "principals.yaml"
    auth.write_text(yaml.safe_dump({"principals": [
        {"name": "fast", "role": "operator", "token_hash": hash_token(FAST, "sha256")},
        {"name": "slow", "role": "operator", "token_hash": hash_token(SLOW, "scrypt")}]}))
    handlers = Counting()
    server, target = await _server(Settings(
        redis_url="redis://127.0.0.1:1/0", port=0, auth_file=str(auth), metrics_port=1,
        order_buyer_hash_key="test-buyer-hash-key", write_back_batch_key="k",
        auth_failure_rate=0), handlers)
    yield handlers, target
    await server.stop(0)


def _handled(code: str) -> float:
    return REGISTRY.get_sample_value("grpc_server_handled_total", {
        "grpc_type": "UNARY", "grpc_service": SERVICE, "grpc_method": "Echo",
        "grpc_code": code}) or 0.0


async def test_granted_refused_and_checked_calls_are_all_counted(
        guarded: tuple[Counting, str]) -> None:
    handlers, target = guarded
    ok, refused = _handled("OK"), _handled("UNAUTHENTICATED")
    async with grpc.aio.insecure_channel(target) as channel:
        echo: Any = channel.unary_unary(f"/{SERVICE}/Echo")
        for token in (FAST, SLOW, FAST):
            assert await echo(b"hi", metadata=(("authorization", f"Bearer {token}"),),
                              timeout=SCRYPT_CALL_S) == b"hi"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await echo(b"hi", metadata=(("authorization", "Bearer wrong"),),
                       timeout=SCRYPT_CALL_S)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _handled("OK") - ok == 3
    assert _handled("UNAUTHENTICATED") - refused == 1
    assert handlers.asked == 1


async def test_each_callers_calls_run_with_their_own_grant(guarded: tuple[Counting, str]
                                                          ) -> None:
    # The edge keeps one handler per grant: interleaved callers must never get each
    # other's (nor a refused caller anyone's).
    _, target = guarded
    async with grpc.aio.insecure_channel(target) as channel:
        echo: Any = channel.unary_unary(f"/{SERVICE}/Echo")

        async def who(token: str) -> bytes:
            return await echo(b"who", metadata=(("authorization", f"Bearer {token}"),),
                              timeout=SCRYPT_CALL_S)
        seen = [await who(t) for t in (FAST, SLOW, FAST, FAST, SLOW, FAST)]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await who("wrong")
    assert seen == [b"fast", b"slow", b"fast", b"fast", b"slow", b"fast"]
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED

"""Wrong tokens cannot slow the others down: an unknown token costs O(1) on the event
loop (scrypt runs in its own thread, once per distinct token), failed authentications
are budgeted per peer and counted, and exactly one authorization header is accepted.

The stall itself (an operator's latency while 1,000 wrong tokens a second arrive) is
measured by benchmarks/wrong_tokens.py, not timed here."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from prometheus_client import REGISTRY

from reservation.access import principals, tokens
from reservation.access.principals import SLOW
from reservation.access.verify import peer_address
from reservation.server.app import App
from reservation.v1 import reservation_service_pb2 as rpb
from tests.helpers.access import auth_document, token_of
from tests.helpers.server import Stubs

SCRYPT_TOKEN = "correct horse battery staple"
GET = rpb.GetStockRequest(sku="NOPE")


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "principals.yaml"
    path.write_text(yaml.safe_dump(auth_document(extra=[
        {"name": "ops-bob", "role": "operator",
         "token_hash": tokens.hash_token(SCRYPT_TOKEN, "scrypt")}])))
    return {"auth_file": str(path), "auth_reload_interval_ms": 0,
            "write_back_batch_key": "test-key", "auth_failure_rate": 0.001,
            "auth_failure_burst": 3}


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def code(stubs: Stubs, metadata: Any) -> grpc.StatusCode:
    try:
        await stubs.rs.GetStock(GET, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.NOT_FOUND  # unreachable for NOPE: GetStock answers NOT_FOUND


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("reservation_auth_failures_total",
                                     {"reason": reason}) or 0.0


def slow_calls(app: App, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the thread of every scrypt verification the server runs."""
    seen: list[str] = []
    original = principals.Directory.slow

    def slow(self: principals.Directory, token: str) -> principals.Principal | None:
        seen.append(threading.current_thread().name)
        return original(self, token)
    monkeypatch.setattr(principals.Directory, "slow", slow)
    return seen


def test_a_wrong_token_is_decided_in_o1_once_scrypt_said_no() -> None:
    d = principals.parse(auth_document(extra=[
        {"name": f"s{i}", "role": "reader", "token_hash": tokens.hash_token(f"t{i}", "scrypt")}
        for i in range(3)]))
    assert d.fast("tok-operator") is not None  # sha256: indexed, no scrypt
    assert d.fast("guess") is SLOW
    d.remember("guess", d.slow("guess"))
    assert d.fast("guess") is None  # remembered wrong: no scrypt the second time
    assert d.fast("t1") is SLOW
    d.remember("t1", d.slow("t1"))
    found = d.fast("t1")
    assert found is not None and not isinstance(found, type(SLOW)) and found.name == "s1"


def test_without_scrypt_principals_a_wrong_token_never_needs_scrypt() -> None:
    d = principals.parse(auth_document())
    assert d.fast("guess") is None


@pytest.mark.parametrize("peer, address", [
    ("ipv4:10.0.0.1:5123", "ipv4:10.0.0.1"), ("ipv6:[::1]:40000", "ipv6:[::1]"),
    ("unix:/tmp/s", "unix:/tmp/s")])
def test_peers_are_told_apart_by_address_not_port(peer: str, address: str) -> None:
    assert peer_address(peer) == address


async def test_scrypt_runs_off_the_event_loop_once_per_wrong_token(
        app: App, stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = slow_calls(app, monkeypatch)
    assert await code(stubs, bearer(SCRYPT_TOKEN)) == grpc.StatusCode.NOT_FOUND
    assert await code(stubs, bearer("wrong")) == grpc.StatusCode.UNAUTHENTICATED
    assert await code(stubs, bearer("wrong")) == grpc.StatusCode.UNAUTHENTICATED
    assert await code(stubs, bearer(SCRYPT_TOKEN)) == grpc.StatusCode.NOT_FOUND
    # One verification for the right token, one for the wrong one; each in the pool.
    assert len(seen) == 2
    assert all(name.startswith("scrypt") for name in seen)
    assert threading.main_thread().name not in seen


async def test_a_peer_past_its_failure_budget_is_refused_unchecked_and_counted(
        app: App, stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = slow_calls(app, monkeypatch)
    assert await code(stubs, bearer(SCRYPT_TOKEN)) == grpc.StatusCode.NOT_FOUND
    unknown, limited = failures("unknown_token"), failures("peer_limited")
    answers = [await code(stubs, bearer(f"guess-{i}")) for i in range(6)]
    assert answers == [grpc.StatusCode.UNAUTHENTICATED] * 3 + \
        [grpc.StatusCode.RESOURCE_EXHAUSTED] * 3
    assert len(seen) == 1 + 3  # the right token once, no scrypt for the refused ones
    assert failures("unknown_token") - unknown == 3
    assert failures("peer_limited") - limited == 3
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.rs.GetStock(GET, metadata=bearer("guess-7"))
    assert int(dict(refused.value.trailing_metadata())["retry-after-ms"]) > 0
    # Callers with tokens known to be right, from the same address, are not locked out
    # (a scrypt token this process has not verified yet waits for the budget).
    assert await code(stubs, token_of("operator")) == grpc.StatusCode.NOT_FOUND
    assert await code(stubs, bearer(SCRYPT_TOKEN)) == grpc.StatusCode.NOT_FOUND
    assert len(seen) == 4


@pytest.mark.parametrize("headers", [
    [("authorization", "Bearer tok-operator"), ("authorization", "Bearer tok-operator")],
    [("authorization", "Bearer wrong"), ("authorization", "Bearer tok-operator")],
    [("authorization", "Bearer tok-operator"), ("authorization", "Bearer wrong")],
])
async def test_two_authorization_headers_are_unauthenticated(
        app: App, stubs: Stubs, headers: list[tuple[str, str]]) -> None:
    before = failures("duplicate_header")
    assert await code(stubs, tuple(headers)) == grpc.StatusCode.UNAUTHENTICATED
    assert failures("duplicate_header") - before == 1


@pytest.mark.parametrize("value", ["Bearer ", "Basic dG9rLW9wZXJhdG9y", "tok-operator"])
async def test_a_malformed_authorization_header_is_unauthenticated(
        app: App, stubs: Stubs, value: str) -> None:
    assert await code(stubs, (("authorization", value),)) == grpc.StatusCode.UNAUTHENTICATED

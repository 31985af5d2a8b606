"""TLS and mTLS on the gRPC port, certificates reloaded without a restart, the client
certificate naming the principal, the plaintext health-only port, the CLI over mTLS.
Certificates are made at test time (tests/helpers/certs.py)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reservation.access.tokens import hash_token
from reservation.api.connection import Tls, aio_channel
from reservation.server.app import App, TlsError, start_app
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import admin_service_pb2_grpc as apb_grpc
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import reservation_service_pb2_grpc as rpb_grpc
from tests.helpers.certs import Authority, Pair
from tests.helpers.server import test_settings


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path)


@pytest.fixture
def server_pair(ca: Authority, tmp_path: Path) -> Pair:
    # Copied to fixed names, so a test can replace the files under the server.
    issued = ca.issue("server", "reservation", server=True)
    pair = Pair(tmp_path / "tls.crt", tmp_path / "tls.key")
    shutil.copy(issued.cert, pair.cert)
    shutil.copy(issued.key, pair.key)
    return pair


async def _start(redis_url: str, **overrides: Any) -> App:
    return await start_app(test_settings(redis_url, **overrides))


async def _list_sales(target: str, tls: Tls | None,
                      metadata: tuple[tuple[str, str], ...] = ()) -> grpc.StatusCode:
    async with aio_channel(target, tls) as channel:
        try:
            await apb_grpc.AdminServiceStub(channel).ListFlashSales(
                apb.ListFlashSalesRequest(), metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


@pytest.fixture
async def tls_app(redis_url: str, server_pair: Pair) -> AsyncIterator[App]:
    app = await _start(redis_url, tls_cert=str(server_pair.cert), tls_key=str(server_pair.key))
    yield app
    await app.stop(grace=0)


async def test_tls_port_answers_tls_clients_only(tls_app: App, ca: Authority) -> None:
    assert await _list_sales(tls_app.target, Tls(ca=str(ca.pair.cert))) == grpc.StatusCode.OK
    assert await _list_sales(tls_app.target, None) == grpc.StatusCode.UNAVAILABLE
    other = Authority(ca.directory / "..", "other-ca")  # a server we do not trust
    assert await _list_sales(tls_app.target, Tls(ca=str(other.pair.cert))) == \
        grpc.StatusCode.UNAVAILABLE


async def test_certificates_are_reloaded_without_a_restart(tls_app: App, server_pair: Pair,
                                                           tmp_path: Path) -> None:
    new_ca = Authority(tmp_path / ".." , "renewed-ca")
    issued = new_ca.issue("renewed", "reservation", server=True)
    shutil.copy(issued.cert, server_pair.cert)
    shutil.copy(issued.key, server_pair.key)
    st = server_pair.cert.stat()
    os.utime(server_pair.cert, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    # New connections get the new certificate: the renewed CA is trusted now...
    assert await _list_sales(tls_app.target, Tls(ca=str(new_ca.pair.cert))) == \
        grpc.StatusCode.OK
    assert tls_app.tls is not None and tls_app.tls.reloads == 1
    # ...and a half-written file keeps the last good pair in force.
    server_pair.key.write_text("garbage")
    assert await _list_sales(tls_app.target, Tls(ca=str(new_ca.pair.cert))) == \
        grpc.StatusCode.OK


async def test_unreadable_tls_files_are_refused_at_start(redis_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(TlsError):
        await _start(redis_url, tls_cert=str(bad), tls_key=str(bad))


@pytest.fixture
async def mtls_app(redis_url: str, ca: Authority, server_pair: Pair,
                   tmp_path: Path) -> AsyncIterator[App]:
    auth = tmp_path / "principals.yaml"
    auth.write_text(yaml.safe_dump({"principals": [
        {"name": "ops-mtls", "role": "operator", "client_cert_cn": "ops-mtls"},
        {"name": "dash", "role": "reader", "token_hash": hash_token("tok-reader")},
    ]}))
    app = await _start(redis_url, tls_cert=str(server_pair.cert), tls_key=str(server_pair.key),
                       tls_client_ca=str(ca.pair.cert), auth_file=str(auth),
                       order_buyer_hash_key="test-buyer-hash-key",
                       write_back_batch_key="k", health_port=0)
    yield app
    await app.stop(grace=0)


async def test_mtls_requires_a_client_certificate_and_it_names_the_principal(
        mtls_app: App, ca: Authority) -> None:
    trust = str(ca.pair.cert)
    assert await _list_sales(mtls_app.target, Tls(ca=trust)) == grpc.StatusCode.UNAVAILABLE
    ops = ca.issue("ops", "ops-mtls", server=False)
    as_ops = Tls(ca=trust, cert=str(ops.cert), key=str(ops.key))
    assert await _list_sales(mtls_app.target, as_ops) == grpc.StatusCode.OK  # no token
    # The certificate names a principal; its role still decides.
    async with aio_channel(mtls_app.target, as_ops) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await rpb_grpc.ReservationServiceStub(channel).Reserve(rpb.ReserveRequest(
                channel="jd", order_id="o"))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # A certificate nobody is named by gets in at the TLS level, not past auth...
    stranger = ca.issue("stranger", "stranger", server=False)
    as_stranger = Tls(ca=trust, cert=str(stranger.cert), key=str(stranger.key))
    assert await _list_sales(mtls_app.target, as_stranger) == grpc.StatusCode.UNAUTHENTICATED
    # ...unless it also carries a token, which then names the caller.
    assert await _list_sales(mtls_app.target, as_stranger,
                             (("authorization", "Bearer tok-reader"),)) == grpc.StatusCode.OK


async def test_the_health_only_port_is_plaintext(redis_url: str, server_pair: Pair) -> None:
    app = await _start(redis_url, tls_cert=str(server_pair.cert), tls_key=str(server_pair.key),
                       health_port=_free_port())
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.health_port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as err:  # and nothing else
                await apb_grpc.AdminServiceStub(channel).ListFlashSales(
                    apb.ListFlashSalesRequest())
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await app.stop(grace=0)


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_cli_speaks_mtls(mtls_app: App, ca: Authority) -> None:
    ops = ca.issue("ops-cli", "ops-mtls", server=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESERVATION_")}
    env.update(RESERVATION_TLS_CA=str(ca.pair.cert), RESERVATION_TLS_CLIENT_CERT=str(ops.cert),
               RESERVATION_TLS_CLIENT_KEY=str(ops.key))
    # Not subprocess.run: the server runs on this test's event loop, which must go on.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reservation.cli", "sale", "list", "--target", mtls_app.target,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()

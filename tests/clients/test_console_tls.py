"""The console reaches a service that speaks only mTLS (prod) with its own client
certificate, as k8s/clients/console.yaml runs it; the operator still logs in with a
token, and the page shows the live part read over that channel."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
import yaml

from reservation.access.tokens import hash_token
from reservation.api.connection import Tls
from reservation.clients.console.app import build_app
from reservation.server.app import App, start_app
from reservation.storage.redis_process import free_port
from tests.helpers.certs import Authority
from tests.helpers.server import test_settings

TOKEN = "tok-ops-console"


@contextlib.asynccontextmanager
async def mtls_server(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[App, Authority]]:
    (tmp_path / "ca").mkdir()
    ca = Authority(tmp_path / "ca")
    pair = ca.issue("server", "127.0.0.1", server=True)
    auth = tmp_path / "principals.yaml"
    auth.write_text(yaml.safe_dump({"principals": [
        {"name": "alice", "role": "operator", "token_hash": hash_token(TOKEN)},
        {"name": "console", "role": "reader", "client_cert_cn": "console"}]}))
    app = await start_app(test_settings(
        redis_url, tls_cert=str(pair.cert), tls_key=str(pair.key),
        tls_client_ca=str(ca.pair.cert), auth_file=str(auth), write_back_batch_key="k",
        health_port=0))
    try:
        yield app, ca
    finally:
        await app.stop(grace=0)


def request(port: int, method: str, path: str, body: str = "", cookie: str = ""
            ) -> tuple[int, str, list[str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        if cookie:
            headers["Cookie"] = cookie
        conn.request(method, path, body=body or None, headers=headers)
        r = conn.getresponse()
        return r.status, r.read().decode(), r.headers.get_all("set-cookie") or []
    finally:
        conn.close()


async def test_the_console_speaks_mtls_to_the_service(redis_url: str, tmp_path: Path) -> None:
    async with mtls_server(redis_url, tmp_path) as (app, ca):
        client = ca.issue("console", "console", server=False)
        tls = Tls(ca=str(ca.pair.cert), cert=str(client.cert), key=str(client.key),
                  server_name="127.0.0.1")
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(build_app(app.target, ("wms",), tls),
                                               host="127.0.0.1", port=port,
                                               log_level="warning"))
        task = asyncio.create_task(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.05)
            status, _, cookies = await asyncio.to_thread(
                request, port, "POST", "/login", f"name=alice&token={TOKEN}")
            assert status == 303, cookies
            cookie = "; ".join(c.split(";")[0] for c in cookies)
            status, body, _ = await asyncio.to_thread(request, port, "GET", "/live", "",
                                                      cookie)
            assert status == 200 and "UNAVAILABLE" not in body, body[:2000]
        finally:
            server.should_exit = True
            await task

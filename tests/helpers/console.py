"""The operator console (`reservation-clients console`) on a loopback port in this event
loop, and a small HTTP client for it."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import uvicorn

from reservation.clients.console.app import build_app
from reservation.server.app import App
from reservation.storage.redis_process import free_port
from tests.helpers.certs import Authority


@dataclass
class Reply:
    status: int
    body: str
    cookies: list[str]  # Set-Cookie header values


@dataclass
class Console:
    port: int
    ca: Path | None  # set: the page is served over HTTPS with a certificate this CA signed

    def _connection(self) -> http.client.HTTPConnection:
        if self.ca is None:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        context = ssl.create_default_context(cafile=str(self.ca))
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
                                           context=context)

    def _request(self, method: str, path: str, form: dict[str, str] | None,
                 headers: dict[str, str]) -> Reply:
        conn = self._connection()
        try:
            body = urlencode(form) if form is not None else None
            if body is not None:
                headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return Reply(resp.status, resp.read().decode(), resp.headers.get_all("set-cookie")
                         or [])
        finally:
            conn.close()

    async def get(self, path: str) -> Reply:
        return await asyncio.to_thread(self._request, "GET", path, None, {})

    async def login(self, token: str, name: str = "alice", **headers: str) -> Reply:
        return await asyncio.to_thread(self._request, "POST", "/login",
                                       {"name": name, "token": token}, headers)


@contextlib.asynccontextmanager
async def console_for(app: App, tls_dir: Path | None = None) -> AsyncIterator[Console]:
    """The console's app on a loopback port in this event loop; over HTTPS with a
    certificate for 127.0.0.1 when `tls_dir` is given."""
    port, ca, ssl_files = free_port(), None, {}
    if tls_dir is not None:
        authority = Authority(tls_dir)
        pair = authority.issue("console", "127.0.0.1", server=True)
        ca, ssl_files = authority.pair.cert, {"ssl_certfile": str(pair.cert),
                                              "ssl_keyfile": str(pair.key)}
    server = uvicorn.Server(uvicorn.Config(build_app(app.target), host="127.0.0.1", port=port,
                                           log_level="warning", **ssl_files))  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    for _ in range(400):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    assert server.started, "console did not start"
    try:
        yield Console(port, ca)
    finally:
        server.should_exit = True
        await task

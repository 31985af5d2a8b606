"""Logging in to the console (`reservation-clients console`), served by uvicorn on a
loopback port in front of a real server with an auth file: only an operator's token gets
in (a reader's is refused at the login page, not let in to have its writes refused),
and the cookie holding the token is Secure whenever the page came over TLS (uvicorn's own
or a proxy's X-Forwarded-Proto)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reservation.clients.cli import main as clients_main
from reservation.server.app import App
from tests.helpers.access import PRINCIPALS, auth_document
from tests.helpers.console import Reply, console_for

OPERATOR_TOKEN, READER_TOKEN = PRINCIPALS["operator"][1], PRINCIPALS["reader"][1]


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    """The server reads principals (one per role) from an auth file."""
    path = tmp_path / "principals.yaml"
    path.write_text(yaml.safe_dump(auth_document()))
    return {"auth_file": str(path), "auth_reload_interval_ms": 0,
            "write_back_batch_key": "test-key"}


def token_cookie(reply: Reply) -> str:
    [cookie] = [c for c in reply.cookies if c.startswith("op_token=")]
    return cookie


async def test_an_operator_token_logs_in_with_an_http_only_strict_cookie(app: App) -> None:
    async with console_for(app) as console:
        reply = await console.login(OPERATOR_TOKEN)
    assert reply.status == 303
    cookie = token_cookie(reply).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # plain HTTP on loopback: a Secure cookie would be dropped


async def test_a_reader_token_is_refused_at_login_saying_why(app: App) -> None:
    async with console_for(app) as console:
        reply = await console.login(READER_TOKEN)
    assert reply.status == 403
    assert reply.cookies == []
    assert "This token is dash&#39;s (reader); the console needs a token of a principal " \
           "with the operator role." in reply.body


async def test_a_wrong_token_is_refused_by_the_service(app: App) -> None:
    async with console_for(app) as console:
        reply = await console.login("not-a-token")
    assert reply.status == 401
    assert reply.cookies == []
    assert "UNAUTHENTICATED" in reply.body


async def test_over_tls_the_cookie_is_secure(app: App, tmp_path: Path) -> None:
    async with console_for(app, tmp_path) as console:
        reply = await console.login(OPERATOR_TOKEN)
    assert reply.status == 303
    assert all("; secure" in c.lower() for c in reply.cookies), reply.cookies
    assert len(reply.cookies) == 2


async def test_behind_a_tls_proxy_the_cookie_is_secure(app: App) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1 (FORWARDED_ALLOW_IPS' default).
    async with console_for(app) as console:
        reply = await console.login(OPERATOR_TOKEN, **{"X-Forwarded-Proto": "https"})
    assert reply.status == 303
    assert "; secure" in token_cookie(reply).lower()


async def test_the_login_page_asks_for_an_operator_token(app: App) -> None:
    async with console_for(app) as console:
        page = await console.get("/login")
    assert page.status == 200
    assert "RESERVATION_AUTH_TOKEN" not in page.body
    assert "<code>operator</code> role" in page.body


async def test_without_a_name_nobody_logs_in(app: App) -> None:
    async with console_for(app) as console:
        reply = await console.login(OPERATOR_TOKEN, name=" ")
    assert (reply.status, reply.cookies) == (400, [])


def test_https_cert_without_its_key_is_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert clients_main(["console", "--https-cert", "console.crt"]) == 2
    assert capsys.readouterr().err == (
        "reservation-clients console: --https-cert and --https-key go together\n")

"""What every console page shares: the templates, the operator signed in (from the
cookies), the connection to the service and the redirects back with a message.

The connection is opened by the app's lifespan (app.py) and kept on `app.state` as one
typed `Services`, so the pages are plain module-level Starlette endpoints that find it
through their request rather than closures over the app being built.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import grpc
import yaml
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from reservation.clients.console.client import Console, Operator

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

SignedInHandler = Callable[[Request, Operator], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Services:
    """The console's connection to the service, and the live page's calls over it."""

    channel: grpc.aio.Channel
    console: Console


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def operator(request: Request) -> Operator | None:
    """Who is signed in (the login page set the cookies), or None."""
    name = request.cookies.get("op_name")
    if not name:
        return None
    return Operator(request.cookies.get("op_token", ""), name)


def signed_in(handler: SignedInHandler) -> Endpoint:
    """An endpoint that sends whoever is not signed in to the login page, and otherwise
    calls `handler` with the operator."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        op = operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        return await handler(request, op)

    return endpoint


def why(exc: grpc.aio.AioRpcError) -> str:
    """A refused call as the page shows it: the status name and the service's details."""
    return f"{exc.code().name}: {exc.details() or ''}"


def redirect(path: str, **query: str) -> RedirectResponse:
    """Back to `path` (after a POST: 303) with the non-empty `query` items."""
    shown = urlencode({k: v for k, v in query.items() if v})
    return RedirectResponse(f"{path}?{shown}" if shown else path, status_code=303)


def lookup_status(found: object, error: str) -> int:
    """A lookup page's status: 200 with an answer (`found`), 400 when the service refused
    what was asked, 502 when it could not answer."""
    if found is not None:
        return 200
    return 400 if error.startswith("INVALID_ARGUMENT") else 502


class FormError(ValueError):
    """What the operator filled in cannot be sent: said on the page, the form kept."""


def rule_set(text: str, not_yaml: str) -> dict[str, Any]:
    """A rule set pasted as YAML (or JSON, which is YAML too) as the mapping it must be;
    FormError starting with `not_yaml` when it does not parse."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FormError(f"{not_yaml}: {exc}") from None
    if not isinstance(doc, dict):
        raise FormError("the rule set must be a mapping with a 'rules' list")
    return doc

"""The console's pages and actions (Starlette). Read client.py for what each one calls.

Pages: /login, / (sale form, and the live part), /live (the live part alone, fetched
every second by the page), and confirmation pages before a sale starts or stops; the
order hub's pages (/reviews, /interception, /orders) are in hub.py, the finance page
(/finance: settlement differences) in finance.py, the routing
backtest in backtest.py; what they all share (templates, the operator signed in, the
connection on app.state) in web.py. build_app only assembles their routes.
Actions are POSTs that call the service and redirect back to / with a message; the
operator's token and name ride in HttpOnly, SameSite=Strict cookies (Secure when the
page is served over TLS), so another site cannot make the browser post an action. Only
a token with the operator role logs in.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from reservation.api import connection
from reservation.clients.console import backtest, finance, hub
from reservation.clients.console.client import (
    BREAKER_STATES,
    SALE_STATES,
    Console,
    Operator,
    SalePlan,
)
from reservation.clients.console.web import (
    TEMPLATES,
    Services,
    operator,
    redirect,
    services,
    signed_in,
    why,
)
from reservation.v1 import types_pb2 as pb

TEMPLATES.env.globals.update(sale_states=SALE_STATES, breaker_states=BREAKER_STATES,
                             state_name=lambda v: pb.ReservationState.Name(v).removeprefix(
                                 "RESERVATION_STATE_"))
REFRESH_MS = 1000


def _back(msg: str = "", error: str = "") -> RedirectResponse:
    return redirect("/", msg=msg, error=error)


def _watch(request: Request) -> list[str]:
    return [s for s in request.query_params.get("watch", "").replace(",", " ").split() if s][:20]


def _console(request: Request) -> Console:
    return services(request).console


async def login_page(request: Request) -> Response:
    return TEMPLATES.TemplateResponse(request, "login.html", {"error": ""})


async def login(request: Request) -> Response:
    form = await request.form()
    op = Operator(str(form.get("token", "")), str(form.get("name", "")).strip()[:64])
    if not op.name:
        return TEMPLATES.TemplateResponse(request, "login.html",
                                          {"error": "Your name goes into the action log."},
                                          status_code=400)
    try:
        refused = await _console(request).check(op)
    except grpc.aio.AioRpcError as exc:
        return TEMPLATES.TemplateResponse(request, "login.html", {"error": why(exc)},
                                          status_code=401)
    if refused:
        return TEMPLATES.TemplateResponse(request, "login.html", {"error": refused},
                                          status_code=403)
    response = RedirectResponse("/", status_code=303)
    # Secure when the page came over TLS (uvicorn's own, or a proxy's
    # X-Forwarded-Proto it trusts): the browser then never sends the token in clear.
    secure = request.url.scheme == "https"
    for key, value in (("op_token", op.token), ("op_name", op.name)):
        response.set_cookie(key, value, httponly=True, samesite="strict", path="/",
                            secure=secure)
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    secure = request.url.scheme == "https"
    for key in ("op_token", "op_name"):
        response.delete_cookie(key, path="/", secure=secure, httponly=True,
                               samesite="strict")
    return response


async def _live_context(request: Request, op: Operator) -> dict[str, Any]:
    try:
        snap = await _console(request).snapshot(op, _watch(request))
    except grpc.aio.AioRpcError as exc:
        return {"snap": None, "live_error": why(exc), "op": op}
    return {"snap": snap, "live_error": "", "op": op, "now": time.time()}


@signed_in
async def index(request: Request, op: Operator) -> Response:
    ctx = await _live_context(request, op)
    ctx.update(msg=request.query_params.get("msg", ""),
               error=request.query_params.get("error", ""),
               watch=",".join(_watch(request)), refresh_ms=REFRESH_MS)
    return TEMPLATES.TemplateResponse(request, "index.html", ctx)


async def live(request: Request) -> Response:
    # Fetched by the page's script, not navigated to: a status it can tell, not a redirect.
    op = operator(request)
    if op is None:
        return Response("login needed", status_code=401)
    return TEMPLATES.TemplateResponse(request, "live.html", await _live_context(request, op))


@signed_in
async def sale_confirm(request: Request, op: Operator) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        plan = SalePlan.parse(form)
    except ValueError as exc:
        return _back(error=str(exc))
    # The service checks the plan now (validate_only), so a typo'd SKU or an
    # overlapping sale shows here, before anyone confirms.
    refused, would_be, known = "", "", set()
    try:
        sale = await _console(request).start_sale(op, plan, validate_only=True)
        would_be = SALE_STATES.get(sale.state, "?")
        known = {i.sku for i in sale.items if i.level.loaded}
    except grpc.aio.AioRpcError as exc:
        refused = why(exc)
    return TEMPLATES.TemplateResponse(request, "confirm_start.html", {
        "plan": plan, "form": form, "refused": refused, "would_be": would_be,
        "known": known})


@signed_in
async def sale_start(request: Request, op: Operator) -> Response:
    try:
        plan = SalePlan.parse({k: str(v) for k, v in (await request.form()).items()})
        sale = await _console(request).start_sale(op, plan)
    except ValueError as exc:
        return _back(error=str(exc))
    except grpc.aio.AioRpcError as exc:
        return _back(error=why(exc))
    return _back(msg=f"sale {sale.sale_id} started ({SALE_STATES.get(sale.state, '?')})")


@signed_in
async def sale_stop_confirm(request: Request, _: Operator) -> Response:
    return TEMPLATES.TemplateResponse(request, "confirm_stop.html",
                                      {"sale_id": request.path_params["sale_id"]})


@signed_in
async def sale_stop(request: Request, op: Operator) -> Response:
    try:
        sale = await _console(request).stop_sale(op, request.path_params["sale_id"])
    except grpc.aio.AioRpcError as exc:
        return _back(error=why(exc))
    return _back(msg=f"sale {sale.sale_id} stopped; unsold units returned")


@signed_in
async def sale_pause(request: Request, op: Operator) -> Response:
    action = request.path_params["action"]
    if action not in ("pause", "resume"):
        return _back(error=f"unknown sale action {action!r}")
    try:
        sale = await _console(request).pause_sale(op, request.path_params["sale_id"],
                                                  action == "pause")
    except grpc.aio.AioRpcError as exc:
        return _back(error=why(exc))
    return _back(msg=f"sale {sale.sale_id} {action}d: now "
                     f"{SALE_STATES.get(sale.state, '?')}")


@signed_in
async def dead_letter(request: Request, op: Operator) -> Response:
    form = await request.form()
    action = request.path_params["action"]
    if action not in ("requeue", "reject"):
        return _back(error=f"unknown dead-letter action {action!r}")
    channel, order_id = str(form.get("channel", "")), str(form.get("order_id", ""))
    try:
        r = await _console(request).dead_letter(op, action, channel, order_id)
    except grpc.aio.AioRpcError as exc:
        return _back(error=why(exc))
    state_name = pb.ReservationState.Name(r.state).removeprefix("RESERVATION_STATE_")
    done = {"requeue": "requeued", "reject": "rejected"}[action]
    return _back(msg=f"{channel}:{order_id} {done}: now {state_name}")


@signed_in
async def force(request: Request, op: Operator) -> Response:
    form = await request.form()
    sku, channel, wanted = (str(form.get(k, "")).strip() for k in ("sku", "channel", "state"))
    if wanted not in ("open", "closed", "clear"):
        return _back(error=f"unknown breaker state {wanted!r}")
    try:
        await _console(request).force(op, sku, channel, wanted)
    except grpc.aio.AioRpcError as exc:
        return _back(error=why(exc))
    return _back(msg=f"breaker {sku}/{channel}: {wanted}")


ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/", index, methods=["GET"]),
    Route("/live", live, methods=["GET"]),
    Route("/sales/confirm", sale_confirm, methods=["POST"]),
    Route("/sales/start", sale_start, methods=["POST"]),
    Route("/sales/{sale_id}/stop/confirm", sale_stop_confirm, methods=["POST"]),
    Route("/sales/{sale_id}/stop", sale_stop, methods=["POST"]),
    Route("/sales/{sale_id}/{action:str}", sale_pause, methods=["POST"]),
    Route("/dead-letters/{action:str}", dead_letter, methods=["POST"]),
    Route("/breakers/force", force, methods=["POST"]),
]


@contextlib.asynccontextmanager
async def _connected(target: str, groups: tuple[str, ...], tls: connection.Tls | None,
                     app: Starlette) -> AsyncIterator[None]:
    """The app's lifespan: one channel to the service, shared by every page."""
    async with connection.aio_channel(target, tls) as channel:
        app.state.services = Services(channel, Console(channel, groups))
        yield


def build_app(target: str, groups: tuple[str, ...] = ("wms",),
              tls: connection.Tls | None = None) -> Starlette:
    """The console for the service at `target` (over TLS when `tls` is given); `groups`
    are the write-back groups whose lag it shows."""
    return Starlette(routes=ROUTES + backtest.ROUTES + hub.ROUTES + finance.ROUTES,
                     lifespan=functools.partial(_connected, target, groups, tls))

"""The console's pages and actions (Starlette). Read client.py for what each one calls.

Pages: /login, / (sale form, and the live part), /live (the live part alone, fetched
every second by the page), and confirmation pages before a sale starts or stops; the
order hub's pages (/reviews, /interception, /orders) are in hub.py, the finance page
(/finance: settlement differences) in finance.py, the routing
backtest in backtest.py.
Actions are POSTs that call the service and redirect back to / with a message; the
operator's token and name ride in HttpOnly, SameSite=Strict cookies (Secure when the
page is served over TLS), so another site cannot make the browser post an action. Only
a token with the operator role logs in.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import grpc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from reservation.api import connection
from reservation.clients.console import backtest, finance, hub
from reservation.clients.console.client import (
    BREAKER_STATES,
    SALE_STATES,
    Console,
    Operator,
    SalePlan,
)
from reservation.v1 import types_pb2 as pb

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals.update(sale_states=SALE_STATES, breaker_states=BREAKER_STATES,
                             state_name=lambda v: pb.ReservationState.Name(v).removeprefix(
                                 "RESERVATION_STATE_"))
REFRESH_MS = 1000


def _operator(request: Request) -> Operator | None:
    name = request.cookies.get("op_name")
    if not name:
        return None
    return Operator(request.cookies.get("op_token", ""), name)


def _back(msg: str = "", error: str = "") -> RedirectResponse:
    query = urlencode({k: v for k, v in (("msg", msg), ("error", error)) if v})
    return RedirectResponse(f"/?{query}" if query else "/", status_code=303)


def _why(exc: grpc.aio.AioRpcError) -> str:
    return f"{exc.code().name}: {exc.details() or ''}"


def _watch(request: Request) -> list[str]:
    return [s for s in request.query_params.get("watch", "").replace(",", " ").split() if s][:20]


def build_app(target: str, groups: tuple[str, ...] = ("wms",),
              tls: connection.Tls | None = None) -> Starlette:
    """The console for the service at `target` (over TLS when `tls` is given); `groups`
    are the write-back groups whose lag it shows."""
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with connection.aio_channel(target, tls) as channel:
            state["console"] = Console(channel, groups)
            state["channel"] = channel
            yield

    def console() -> Console:
        return state["console"]  # type: ignore[no-any-return]

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
            refused = await console().check(op)
        except grpc.aio.AioRpcError as exc:
            return TEMPLATES.TemplateResponse(request, "login.html", {"error": _why(exc)},
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
        response.delete_cookie("op_token", path="/", secure=secure, httponly=True,
                               samesite="strict")
        response.delete_cookie("op_name", path="/", secure=secure, httponly=True,
                               samesite="strict")
        return response

    async def live_context(request: Request, op: Operator) -> dict[str, Any]:
        try:
            snap = await console().snapshot(op, _watch(request))
        except grpc.aio.AioRpcError as exc:
            return {"snap": None, "live_error": _why(exc), "op": op}
        return {"snap": snap, "live_error": "", "op": op, "now": time.time()}

    async def index(request: Request) -> Response:
        op = _operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        ctx = await live_context(request, op)
        ctx.update(msg=request.query_params.get("msg", ""),
                   error=request.query_params.get("error", ""),
                   watch=",".join(_watch(request)), refresh_ms=REFRESH_MS)
        return TEMPLATES.TemplateResponse(request, "index.html", ctx)

    async def live(request: Request) -> Response:
        op = _operator(request)
        if op is None:
            return Response("login needed", status_code=401)
        return TEMPLATES.TemplateResponse(request, "live.html", await live_context(request, op))

    async def sale_confirm(request: Request) -> Response:
        op = _operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            plan = SalePlan.parse(form)
        except ValueError as exc:
            return _back(error=str(exc))
        # The service checks the plan now (validate_only), so a typo'd SKU or an
        # overlapping sale shows here, before anyone confirms.
        refused, would_be, known = "", "", set()
        try:
            sale = await console().start_sale(op, plan, validate_only=True)
            would_be = SALE_STATES.get(sale.state, "?")
            known = {i.sku for i in sale.items if i.level.loaded}
        except grpc.aio.AioRpcError as exc:
            refused = _why(exc)
        return TEMPLATES.TemplateResponse(request, "confirm_start.html", {
            "plan": plan, "form": form, "refused": refused, "would_be": would_be,
            "known": known})

    async def sale_start(request: Request) -> Response:
        op = _operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        try:
            plan = SalePlan.parse({k: str(v) for k, v in (await request.form()).items()})
            sale = await console().start_sale(op, plan)
        except ValueError as exc:
            return _back(error=str(exc))
        except grpc.aio.AioRpcError as exc:
            return _back(error=_why(exc))
        return _back(msg=f"sale {sale.sale_id} started ({SALE_STATES.get(sale.state, '?')})")

    async def sale_stop_confirm(request: Request) -> Response:
        if _operator(request) is None:
            return RedirectResponse("/login", status_code=303)
        return TEMPLATES.TemplateResponse(request, "confirm_stop.html",
                                          {"sale_id": request.path_params["sale_id"]})

    async def sale_stop(request: Request) -> Response:
        op = _operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        try:
            sale = await console().stop_sale(op, request.path_params["sale_id"])
        except grpc.aio.AioRpcError as exc:
            return _back(error=_why(exc))
        return _back(msg=f"sale {sale.sale_id} stopped; unsold units returned")

    async def sale_pause(request: Request) -> Response:
        op = _operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        action = request.path_params["action"]
        if action not in ("pause", "resume"):
            return _back(error=f"unknown sale action {action!r}")
        try:
            sale = await console().pause_sale(op, request.path_params["sale_id"],
                                              action == "pause")
        except grpc.aio.AioRpcError as exc:
            return _back(error=_why(exc))
        return _back(msg=f"sale {sale.sale_id} {action}d: now "
                         f"{SALE_STATES.get(sale.state, '?')}")

    async def dead_letter(request: Request) -> Response:
        op = _operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        form = await request.form()
        action = request.path_params["action"]
        if action not in ("requeue", "reject"):
            return _back(error=f"unknown dead-letter action {action!r}")
        channel, order_id = str(form.get("channel", "")), str(form.get("order_id", ""))
        try:
            r = await console().dead_letter(op, action, channel, order_id)
        except grpc.aio.AioRpcError as exc:
            return _back(error=_why(exc))
        state_name = pb.ReservationState.Name(r.state).removeprefix("RESERVATION_STATE_")
        done = {"requeue": "requeued", "reject": "rejected"}[action]
        return _back(msg=f"{channel}:{order_id} {done}: now {state_name}")

    async def force(request: Request) -> Response:
        op = _operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        form = await request.form()
        sku, channel, wanted = (str(form.get(k, "")).strip() for k in ("sku", "channel", "state"))
        if wanted not in ("open", "closed", "clear"):
            return _back(error=f"unknown breaker state {wanted!r}")
        try:
            await console().force(op, sku, channel, wanted)
        except grpc.aio.AioRpcError as exc:
            return _back(error=_why(exc))
        return _back(msg=f"breaker {sku}/{channel}: {wanted}")

    routes = [
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
    routes += backtest.routes(lambda: state["channel"], _operator, TEMPLATES)
    routes += hub.routes(lambda: state["channel"], _operator, TEMPLATES)
    routes += finance.routes(lambda: state["channel"], _operator, TEMPLATES)
    return Starlette(routes=routes, lifespan=lifespan)

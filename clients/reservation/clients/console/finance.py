"""The console's finance page: a settlement day's differences by class, each linking its
order (and so its history), with a form to resolve one.

GET /finance?day=&class=    the day's totals per channel (GetSettlementReport), the open
                            differences by class, and the open differences (of the class
                            asked, first 100) each with its order's link
POST /finance/resolve       ResolveDifference in the operator's name, back to /finance

Today (China time) unless a day is asked: the open differences are every day's, the
totals the day's.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import grpc
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from reservation.clients.console.client import TIMEOUT_S, Operator
from reservation.v1 import settlement_service_pb2 as pb
from reservation.v1 import settlement_service_pb2_grpc as pb_grpc

SHOWN = 100
CST = datetime.timezone(datetime.timedelta(hours=8))


def order_link(hub_ref: str) -> str:
    """The console's order page (the order and its history) for a hub id
    'channel:shop/order_id'; '' when there is none."""
    channel, sep, rest = hub_ref.partition(":")
    shop, sep2, order_id = rest.partition("/")
    if not (sep and sep2 and order_id):
        return ""
    return "/orders?" + urlencode({"channel": channel, "shop": shop, "order_id": order_id})


def yuan(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def routes(channel: Callable[[], grpc.aio.Channel],
           operator: Callable[[Request], Operator | None],
           templates: Jinja2Templates) -> list[Route]:
    templates.env.globals.setdefault("order_link", order_link)
    templates.env.globals.setdefault("yuan", yuan)

    def stub() -> pb_grpc.SettlementServiceStub:
        return pb_grpc.SettlementServiceStub(channel())

    async def page(request: Request) -> Response:
        op = operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        q = request.query_params
        ctx: dict[str, Any] = {
            "op": op, "day": q.get("day") or datetime.datetime.now(CST).date().isoformat(),
            "cls": q.get("class", ""), "msg": q.get("msg", ""), "error": q.get("error", ""),
            "report": None, "differences": []}
        try:
            ctx["report"] = await stub().GetSettlementReport(pb.GetSettlementReportRequest(
                day=ctx["day"]), metadata=op.metadata(), timeout=TIMEOUT_S)
            ctx["differences"] = list((await stub().ListSettlementDifferences(
                pb.ListSettlementDifferencesRequest(
                    difference_class=ctx["cls"], state="OPEN", page_size=SHOWN),
                metadata=op.metadata(), timeout=TIMEOUT_S)).differences)
        except grpc.aio.AioRpcError as exc:
            ctx["error"] = f"{exc.code().name}: {exc.details() or ''}"
        status = 200 if ctx["report"] is not None else (
            400 if ctx["error"].startswith("INVALID_ARGUMENT") else 502)
        return templates.TemplateResponse(request, "finance.html", ctx, status_code=status)

    async def resolve(request: Request) -> Response:
        op = operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        form = {k: str(v).strip() for k, v in (await request.form()).items()}
        back = {"day": form.get("day", ""), "class": form.get("class", "")}
        try:
            await stub().ResolveDifference(pb.ResolveDifferenceRequest(
                difference_id=form.get("difference_id", ""), operator=op.name,
                reason=form.get("reason", "")), metadata=op.metadata(), timeout=TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            return _to(**back, error=f"{exc.code().name}: {exc.details() or ''}")
        return _to(**back, msg=f"resolved {form.get('difference_id', '')}")

    return [Route("/finance", page, methods=["GET"]),
            Route("/finance/resolve", resolve, methods=["POST"])]


def _to(**query: str) -> RedirectResponse:
    shown = urlencode({k: v for k, v in query.items() if v})
    return RedirectResponse(f"/finance?{shown}" if shown else "/finance", status_code=303)

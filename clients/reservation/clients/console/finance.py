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
from typing import Any
from urllib.parse import urlencode

import grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reservation.clients.console.client import TIMEOUT_S, Operator
from reservation.clients.console.web import (
    TEMPLATES,
    lookup_status,
    redirect,
    services,
    signed_in,
    why,
)
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


TEMPLATES.env.globals.setdefault("order_link", order_link)
TEMPLATES.env.globals.setdefault("yuan", yuan)


def _stub(request: Request) -> pb_grpc.SettlementServiceStub:
    return pb_grpc.SettlementServiceStub(services(request).channel)


@signed_in
async def page(request: Request, op: Operator) -> Response:
    q = request.query_params
    ctx: dict[str, Any] = {
        "op": op, "day": q.get("day") or datetime.datetime.now(CST).date().isoformat(),
        "cls": q.get("class", ""), "msg": q.get("msg", ""), "error": q.get("error", ""),
        "report": None, "differences": []}
    try:
        ctx["report"] = await _stub(request).GetSettlementReport(
            pb.GetSettlementReportRequest(day=ctx["day"]), metadata=op.metadata(),
            timeout=TIMEOUT_S)
        ctx["differences"] = list((await _stub(request).ListSettlementDifferences(
            pb.ListSettlementDifferencesRequest(
                difference_class=ctx["cls"], state="OPEN", page_size=SHOWN),
            metadata=op.metadata(), timeout=TIMEOUT_S)).differences)
    except grpc.aio.AioRpcError as exc:
        ctx["error"] = why(exc)
    return TEMPLATES.TemplateResponse(request, "finance.html", ctx,
                                      status_code=lookup_status(ctx["report"], ctx["error"]))


@signed_in
async def resolve(request: Request, op: Operator) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    back = {"day": form.get("day", ""), "class": form.get("class", "")}
    try:
        await _stub(request).ResolveDifference(pb.ResolveDifferenceRequest(
            difference_id=form.get("difference_id", ""), operator=op.name,
            reason=form.get("reason", "")), metadata=op.metadata(), timeout=TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        return redirect("/finance", **back, error=why(exc))
    return redirect("/finance", **back, msg=f"resolved {form.get('difference_id', '')}")


ROUTES = [Route("/finance", page, methods=["GET"]),
          Route("/finance/resolve", resolve, methods=["POST"])]

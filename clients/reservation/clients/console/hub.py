"""The console's order-hub pages: the review queue (resolve a held order), the
interception rule set (view, check, replace), and one order with its history.

GET /reviews            open reviews with approve / reject / edit-address forms, and the
                        latest closed ones; a form to look an order up
POST /reviews/resolve   ResolveReview in the operator's name, back to /reviews
GET /interception       the rule set in force, as YAML, in an editable box
POST /interception      check it (validate_only) or put it as a new version; a refusal
                        (INVALID_ARGUMENT naming rules[N]...) is shown with the text kept
GET /orders?channel=&shop=&order_id=   the order and every event of its history
POST /orders/expedite   ExpediteOrder in the operator's name, back to the order's page
GET /overdue?node=&channel=             the top 10 overdue orders (ListOverdueOrders) and
                                        the overdue count per node and channel
GET /find, POST /find   the service desk's lookup (FindOrders): a phone, an order number
                        or a tracking number -> every order it names, with its step,
                        last operator, expected times, hold reason and tracking number
                        (posted, so a phone never sits in a URL or an access log)

Each is one or two gRPC calls with the operator's token, so the service checks, limits
and (for the writes) logs them like the CLI's `reservation reviews resolve` and
`reservation interception rules put`.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import grpc
import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reservation.clients.console.client import TIMEOUT_S, Operator
from reservation.clients.console.web import (
    TEMPLATES,
    FormError,
    lookup_status,
    redirect,
    rule_set,
    services,
    signed_in,
    why,
)
from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc

DECISIONS = ("approve", "reject", "edit_address")
CLOSED_SHOWN = 20
OVERDUE_SHOWN = 10
FIND_FIELDS = ("phone", "order_number", "tracking_number")
MAX_RULES_TEXT = 256 * 1024  # the service refuses longer documents anyway


async def _order_form(request: Request) -> tuple[dict[str, str], opb.OrderKey]:
    """A posted form (values trimmed) and the order it names."""
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    return form, opb.OrderKey(channel=form.get("channel", ""), shop=form.get("shop", ""),
                              order_id=form.get("order_id", ""))


def _when_ms(ms: int) -> str:
    if not ms:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime(
        "%Y-%m-%d %H:%M:%S")


TEMPLATES.env.globals.setdefault("when_ms", _when_ms)


def _as_yaml(document_json: str) -> str:
    if not document_json:
        return "rules: []\n"
    return str(yaml.safe_dump(json.loads(document_json), allow_unicode=True,
                              sort_keys=False))


def _icpt(request: Request) -> igrpc.InterceptionServiceStub:
    return igrpc.InterceptionServiceStub(services(request).channel)


def _orders(request: Request) -> ogrpc.OrderServiceStub:
    return ogrpc.OrderServiceStub(services(request).channel)


# -- reviews ------------------------------------------------------------------------------
@signed_in
async def reviews_page(request: Request, op: Operator) -> Response:
    ctx: dict[str, Any] = {"op": op, "msg": request.query_params.get("msg", ""),
                           "error": request.query_params.get("error", ""),
                           "open": [], "closed": [], "decisions": DECISIONS}
    try:
        ctx["open"] = list((await _icpt(request).ListReviews(
            ipb.ListReviewsRequest(status="open"), metadata=op.metadata(),
            timeout=TIMEOUT_S)).reviews)
        ctx["closed"] = list((await _icpt(request).ListReviews(
            ipb.ListReviewsRequest(status="closed", page_size=CLOSED_SHOWN),
            metadata=op.metadata(), timeout=TIMEOUT_S)).reviews)
    except grpc.aio.AioRpcError as exc:
        ctx["error"] = why(exc)
    return TEMPLATES.TemplateResponse(request, "reviews.html", ctx)


@signed_in
async def resolve(request: Request, op: Operator) -> Response:
    form, key = await _order_form(request)
    decision = form.get("decision", "")
    name = f"{key.channel}/{key.shop}/{key.order_id}"
    if decision not in DECISIONS:
        return redirect("/reviews", error=f"unknown decision {decision!r}")
    req = ipb.ResolveReviewRequest(key=key, decision=decision, operator=op.name,
                                   note=form.get("note", ""))
    if decision == "edit_address":
        req.address.CopyFrom(opb.Address(
            province=form.get("province", ""), city=form.get("city", ""),
            district=form.get("district", ""), detail=form.get("detail", "")))
    try:
        reply = await _icpt(request).ResolveReview(req, metadata=op.metadata(),
                                                   timeout=TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        return redirect("/reviews", error=f"{name}: {why(exc)}")
    return redirect("/reviews", msg=f"{name} {reply.review.status}: order now "
                                    f"{reply.order.state}")


# -- interception rules -------------------------------------------------------------------
async def _render_rules(request: Request, op: Operator, text: str | None = None,
                        msg: str = "", error: str = "", status: int = 200) -> Response:
    version, current = 0, ""
    try:
        rules = (await _icpt(request).GetInterceptionRules(
            ipb.GetInterceptionRulesRequest(), metadata=op.metadata(),
            timeout=TIMEOUT_S)).rules
        version, current = rules.version, _as_yaml(rules.document_json)
    except grpc.aio.AioRpcError as exc:
        error = error or why(exc)
    return TEMPLATES.TemplateResponse(request, "interception.html", {
        "op": op, "version": version, "text": current if text is None else text,
        "msg": msg, "error": error}, status_code=status)


@signed_in
async def rules_page(request: Request, op: Operator) -> Response:
    return await _render_rules(request, op, msg=request.query_params.get("msg", ""))


@signed_in
async def rules_put(request: Request, op: Operator) -> Response:
    form = await request.form()
    text = str(form.get("document", ""))
    check_only = form.get("action") == "check"
    if len(text) > MAX_RULES_TEXT:
        return await _render_rules(request, op, text, error="the rule set is too long",
                                   status=400)
    try:
        doc = rule_set(text, "not YAML or JSON")
    except FormError as exc:
        return await _render_rules(request, op, text, error=str(exc), status=400)
    try:
        expected = int(str(form.get("expected_version", "0")) or 0)
    except ValueError:
        expected = 0
    req = ipb.PutInterceptionRulesRequest(
        document_json=json.dumps(doc, ensure_ascii=False), comment=str(
            form.get("comment", "")), expected_version=expected,
        actor=f"operator:{op.name}", validate_only=check_only)
    try:
        reply = await _icpt(request).PutInterceptionRules(req, metadata=op.metadata(),
                                                          timeout=TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        return await _render_rules(request, op, text, error=why(exc), status=400)
    if check_only:
        return await _render_rules(request, op, text, msg=(
            f"valid: it would become version {reply.rules.version}; nothing stored"))
    return redirect("/interception", msg=f"version {reply.rules.version} is in force")


# -- an order and its history -------------------------------------------------------------
@signed_in
async def order_page(request: Request, op: Operator) -> Response:
    q = request.query_params
    key = opb.OrderKey(channel=q.get("channel", ""), shop=q.get("shop", ""),
                       order_id=q.get("order_id", ""))
    ctx: dict[str, Any] = {"op": op, "key": key, "order": None, "events": [],
                           "error": q.get("error", ""), "msg": q.get("msg", "")}
    try:
        ctx["order"] = (await _orders(request).GetOrder(
            opb.GetOrderRequest(key=key), metadata=op.metadata(),
            timeout=TIMEOUT_S)).order
        ctx["events"] = list((await _orders(request).GetOrderHistory(
            opb.GetOrderHistoryRequest(key=key), metadata=op.metadata(),
            timeout=TIMEOUT_S)).events)
    except grpc.aio.AioRpcError as exc:
        ctx["error"] = why(exc)
    return TEMPLATES.TemplateResponse(request, "order.html", ctx,
                                      status_code=404 if ctx["order"] is None
                                      and "NOT_FOUND" in ctx["error"] else 200)


@signed_in
async def expedite(request: Request, op: Operator) -> Response:
    form, key = await _order_form(request)
    back = {"channel": key.channel, "shop": key.shop, "order_id": key.order_id}
    try:
        reply = await _orders(request).ExpediteOrder(opb.ExpediteOrderRequest(
            key=key, actor=f"operator:{op.name}", reason=form.get("reason", "")),
            metadata=op.metadata(), timeout=TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        return redirect("/orders", **back, error=why(exc))
    outcome = opb.SyncOutcome.Name(reply.outcome).removeprefix("SYNC_OUTCOME_")
    return redirect("/orders", **back, msg=f"expedited ({outcome})")


# -- overdue orders -----------------------------------------------------------------------
@signed_in
async def overdue_page(request: Request, op: Operator) -> Response:
    q = request.query_params
    ctx: dict[str, Any] = {"op": op, "node": q.get("node", ""),
                           "channel": q.get("channel", ""), "reply": None, "error": ""}
    try:
        ctx["reply"] = await _orders(request).ListOverdueOrders(opb.ListOverdueOrdersRequest(
            node=ctx["node"], channel=ctx["channel"], page_size=OVERDUE_SHOWN),
            metadata=op.metadata(), timeout=TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        ctx["error"] = why(exc)
    return TEMPLATES.TemplateResponse(request, "overdue.html", ctx,
                                      status_code=lookup_status(ctx["reply"], ctx["error"]))


# -- the service desk's lookup ------------------------------------------------------------
@signed_in
async def find_page(request: Request, op: Operator) -> Response:
    ctx: dict[str, Any] = {"op": op, "ask": {}, "found": None, "error": ""}
    if request.method == "GET":
        return TEMPLATES.TemplateResponse(request, "find.html", ctx)
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    ctx["ask"] = {f: form.get(f, "") for f in FIND_FIELDS}
    try:
        ctx["found"] = list((await _orders(request).FindOrders(
            opb.FindOrdersRequest(**ctx["ask"]), metadata=op.metadata(),
            timeout=TIMEOUT_S)).orders)
    except grpc.aio.AioRpcError as exc:
        ctx["error"] = why(exc)
    return TEMPLATES.TemplateResponse(request, "find.html", ctx,
                                      status_code=lookup_status(ctx["found"], ctx["error"]))


ROUTES = [Route("/reviews", reviews_page, methods=["GET"]),
          Route("/find", find_page, methods=["GET", "POST"]),
          Route("/overdue", overdue_page, methods=["GET"]),
          Route("/reviews/resolve", resolve, methods=["POST"]),
          Route("/interception", rules_page, methods=["GET"]),
          Route("/interception", rules_put, methods=["POST"]),
          Route("/orders", order_page, methods=["GET"]),
          Route("/orders/expedite", expedite, methods=["POST"])]

"""The console's backtest page: a candidate rule set (a stored version, or YAML/JSON
pasted in) against what really happened, the hub's orders of a period or an uploaded
history file (CSV/XLSX), shown as the CLI's `reservation rules backtest` shows it.

GET /backtest is the form; POST /backtest runs it (BacktestRouting, a read: the reader
role would do, the console admits operators) and shows the report under the form.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import yaml
from google.protobuf import json_format, struct_pb2
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from reservation.api import history
from reservation.clients.console.client import TIMEOUT_S, Operator
from reservation.v1 import routing_service_pb2 as pb
from reservation.v1 import routing_service_pb2_grpc as pb_grpc

MAX_UPLOAD = 64 << 20  # bytes: a month of a busy shop's lines as CSV
BACKTEST_TIMEOUT_S = 120.0


class FormError(ValueError):
    """What the operator filled in cannot be run: said on the page."""


def _document(form: Any, versions: list[pb.RoutingRules]) -> struct_pb2.Struct:
    text = str(form.get("rules", "")).strip()
    if text:
        try:
            doc = yaml.safe_load(text)  # JSON is YAML too
        except yaml.YAMLError as exc:
            raise FormError(f"the rule set is not YAML or JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise FormError("the rule set must be a mapping with a 'rules' list")
        s = struct_pb2.Struct()
        s.update(doc)
        return s
    wanted = str(form.get("version", "")).strip()
    for v in versions:
        if str(v.version) == wanted:
            return v.document
    raise FormError("choose a stored version or paste a rule set")


def _day(text: str, name: str) -> datetime.datetime:
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise FormError(f"{name}: {text!r} is not a date like 2026-11-01") from None
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)


async def _requests(form: Any, document: struct_pb2.Struct) -> list[pb.BacktestRoutingRequest]:
    first = pb.BacktestRoutingRequest(document=document)
    upload = form.get("orders")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise FormError(f"the file is larger than {MAX_UPLOAD >> 20} MB: use the CLI")
        try:
            found = history.read_bytes(data, upload.filename, str(form.get("sheet", "")))
        except history.HistoryError as exc:
            raise FormError(f"{upload.filename}: {exc}") from None
        if not found.orders:
            raise FormError(f"{upload.filename}: no orders in the file")
        return history.requests(first, found.orders)
    start = _day(str(form.get("from", "")), "from")
    end = _day(str(form.get("to", "")), "to") + datetime.timedelta(days=1)
    first.recorded_from.FromDatetime(start)
    first.recorded_to.FromDatetime(end)
    return [first]


def routes(channel: Callable[[], grpc.aio.Channel],
           operator: Callable[[Request], Operator | None],
           templates: Jinja2Templates) -> list[Route]:
    """The page's routes; `channel` is the console's connection to the service."""

    def stub() -> pb_grpc.RoutingAdminServiceStub:
        return pb_grpc.RoutingAdminServiceStub(channel())

    async def versions(op: Operator) -> list[pb.RoutingRules]:
        reply = await stub().ListRoutingRuleHistory(
            pb.ListRoutingRuleHistoryRequest(limit=20), metadata=op.metadata(),
            timeout=TIMEOUT_S)
        return list(reply.versions)

    async def render(request: Request, op: Operator, form: dict[str, Any],
                     report: pb.BacktestRoutingResponse | None = None, error: str = "",
                     status: int = 200,
                     stored: list[pb.RoutingRules] | None = None) -> Response:
        if stored is None:  # a run has them already
            try:
                stored = await versions(op)
            except grpc.aio.AioRpcError as exc:
                stored, error = [], error or f"{exc.code().name}: {exc.details() or ''}"
        today = datetime.datetime.now(datetime.UTC).date()
        form = {"from": str(today - datetime.timedelta(days=30)), "to": str(today), **form}
        return templates.TemplateResponse(request, "backtest.html", {
            "op": op, "versions": stored, "form": form, "report": report, "error": error,
            "report_json": json_format.MessageToJson(report) if report else ""},
            status_code=status)

    async def page(request: Request) -> Response:
        op = operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        return await render(request, op, {})

    async def run(request: Request) -> Response:
        op = operator(request)
        if op is None:
            return RedirectResponse("/login", status_code=303)
        form = await request.form(max_part_size=MAX_UPLOAD)
        shown = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            stored = await versions(op)
        except grpc.aio.AioRpcError as exc:
            return await render(request, op, shown, status=400, stored=[],
                                error=f"{exc.code().name}: {exc.details() or ''}")
        try:
            todo = await _requests(form, _document(form, stored))
        except FormError as exc:
            return await render(request, op, shown, error=str(exc), status=400, stored=stored)

        async def stream() -> AsyncIterator[pb.BacktestRoutingRequest]:
            for r in todo:
                yield r

        try:
            report = await stub().BacktestRouting(stream(), metadata=op.metadata(),
                                                  timeout=BACKTEST_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            return await render(request, op, shown, stored=stored, status=400,
                                error=f"{exc.code().name}: {exc.details() or ''}")
        return await render(request, op, shown, report=report, stored=stored)

    return [Route("/backtest", page, methods=["GET"]),
            Route("/backtest", run, methods=["POST"])]

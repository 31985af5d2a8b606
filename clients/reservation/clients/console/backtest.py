"""The console's backtest page: a candidate rule set (a stored version, or YAML/JSON
pasted in) against what really happened, the hub's orders of a period or an uploaded
history file (CSV/XLSX), shown as the CLI's `reservation rules backtest` shows it.

GET /backtest is the form; POST /backtest runs it (BacktestRouting, a read: the reader
role would do, the console admits operators) and shows the report under the form.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reservation.api import history
from reservation.clients.console.client import TIMEOUT_S, Operator
from reservation.clients.console.web import (
    TEMPLATES,
    FormError,
    rule_set,
    services,
    signed_in,
    why,
)
from reservation.v1 import routing_service_pb2 as pb
from reservation.v1 import routing_service_pb2_grpc as pb_grpc

MAX_UPLOAD = 64 << 20  # bytes: a month of a busy shop's lines as CSV
BACKTEST_TIMEOUT_S = 120.0


def _document(form: Any, versions: list[pb.RoutingRules]) -> struct_pb2.Struct:
    text = str(form.get("rules", "")).strip()
    if text:
        s = struct_pb2.Struct()
        s.update(rule_set(text, "the rule set is not YAML or JSON"))
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


def _stub(request: Request) -> pb_grpc.RoutingAdminServiceStub:
    return pb_grpc.RoutingAdminServiceStub(services(request).channel)


async def _versions(request: Request, op: Operator) -> list[pb.RoutingRules]:
    reply = await _stub(request).ListRoutingRuleHistory(
        pb.ListRoutingRuleHistoryRequest(limit=20), metadata=op.metadata(),
        timeout=TIMEOUT_S)
    return list(reply.versions)


async def _render(request: Request, op: Operator, form: dict[str, Any],
                  report: pb.BacktestRoutingResponse | None = None, error: str = "",
                  status: int = 200,
                  stored: list[pb.RoutingRules] | None = None) -> Response:
    if stored is None:  # a run has them already
        try:
            stored = await _versions(request, op)
        except grpc.aio.AioRpcError as exc:
            stored, error = [], error or why(exc)
    today = datetime.datetime.now(datetime.UTC).date()
    form = {"from": str(today - datetime.timedelta(days=30)), "to": str(today), **form}
    return TEMPLATES.TemplateResponse(request, "backtest.html", {
        "op": op, "versions": stored, "form": form, "report": report, "error": error,
        "report_json": json_format.MessageToJson(report) if report else ""},
        status_code=status)


async def _each(todo: list[pb.BacktestRoutingRequest]
                ) -> AsyncIterator[pb.BacktestRoutingRequest]:
    for r in todo:
        yield r


@signed_in
async def page(request: Request, op: Operator) -> Response:
    return await _render(request, op, {})


@signed_in
async def run(request: Request, op: Operator) -> Response:
    form = await request.form(max_part_size=MAX_UPLOAD)
    shown = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        stored = await _versions(request, op)
    except grpc.aio.AioRpcError as exc:
        return await _render(request, op, shown, status=400, stored=[], error=why(exc))
    try:
        todo = await _requests(form, _document(form, stored))
    except FormError as exc:
        return await _render(request, op, shown, error=str(exc), status=400, stored=stored)
    try:
        report = await _stub(request).BacktestRouting(_each(todo), metadata=op.metadata(),
                                                      timeout=BACKTEST_TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        return await _render(request, op, shown, stored=stored, status=400, error=why(exc))
    return await _render(request, op, shown, report=report, stored=stored)


ROUTES = [Route("/backtest", page, methods=["GET"]),
          Route("/backtest", run, methods=["POST"])]

"""Calls the auth check refuses land in the operator-action log: who, what, why."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from reservation.logs import JsonFormatter
from reservation.server.app import App
from reservation.v1 import guard_service_pb2 as gpb
from reservation.v1.guard_service_pb2_grpc import GuardServiceStub
from tests.helpers.access import token_of
from tests.helpers.server import Stubs

Records = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def audit_log() -> Iterator[Records]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("reservation.audit")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(x) for x in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(old_level)


REQUEST = gpb.SetSafetyStockRequest(sku="SKU-1", override=3)


async def test_a_call_refused_on_role_is_recorded(app: App, as_stubs: Stubs,
                                                  audit_log: Records) -> None:
    guard = GuardServiceStub(as_stubs.channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await guard.SetSafetyStock(REQUEST, metadata=(*token_of("reader"),
                                                      ("x-operator", "mallory")))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    (record,) = audit_log()
    assert (record["who"], record["what"], record["on_behalf_of"]) == (
        "dash", "GuardService.SetSafetyStock", "mallory")
    assert record["outcome"].startswith("refused PermissionDenied: dash may not call")
    assert record["peer"]


async def test_a_call_without_credentials_is_recorded(app: App, as_stubs: Stubs,
                                                      audit_log: Records) -> None:
    guard = GuardServiceStub(as_stubs.channel)
    for metadata in ((), (("authorization", "Bearer nope"),)):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await guard.SetSafetyStock(REQUEST, metadata=metadata)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    missing, wrong = audit_log()
    for record in (missing, wrong):
        assert (record["who"], record["what"]) == ("unauthenticated",
                                                   "GuardService.SetSafetyStock")
        assert record["outcome"].startswith("refused Unauthenticated:")
    assert "nope" not in json.dumps([missing, wrong])  # a presented token is never logged

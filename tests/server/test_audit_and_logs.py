"""Operator-action records for AdminService calls, and the JSON log format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from reservation.logs import JsonFormatter, configure
from reservation.settings import Settings
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import types_pb2 as pb
from tests.conftest import Stubs
from tests.helpers import at

Records = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def audit_log() -> Iterator[Records]:
    """The audit logger's records so far, each as the JSON formatter writes it."""
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


async def test_load_stock_records_who_what_before_and_after(stubs: Stubs,
                                                           audit_log: Records) -> None:
    items = [pb.StockItem(sku="AUD-1", warehouse_id="WH", quantity=5)]
    who = (("x-operator", "alice"),)
    await stubs.admin.LoadStock(apb.LoadStockRequest(items=items, mode=apb.LOAD_MODE_ADD), metadata=who)
    await stubs.admin.LoadStock(apb.LoadStockRequest(items=items, mode=apb.LOAD_MODE_ADD), metadata=who)
    first, second = audit_log()[-2:]
    assert (second["who"], second["what"], second["target"], second["outcome"]) == (
        "alice", "LoadStock", "AUD-1", "ok")
    assert first["before"] == [None]  # the SKU was new
    assert second["before"][0]["levels"][0]["available"] == 5
    assert second["after"][0]["levels"][0]["available"] == 10
    assert second["peer"]


async def test_sale_start_and_stop_are_recorded_with_the_sale_state(
        stubs: Stubs, audit_log: Records) -> None:
    request = apb.StartFlashSaleRequest(
        sale_id="aud-sale", starts_at=at(0), ends_at=at(3_600_000),
        items=[pb.StockItem(sku="AUD-2", warehouse_id="WH", quantity=3)])
    await stubs.admin.StartFlashSale(request)
    await stubs.admin.StopFlashSale(apb.StopFlashSaleRequest(sale_id="aud-sale"))
    start, stop = audit_log()[-2:]
    assert (start["what"], start["who"], start["before"]) == ("StartFlashSale", "anonymous",
                                                              None)
    assert start["after"]["sale_id"] == "aud-sale" and not start["after"]["stopped"]
    assert stop["what"] == "StopFlashSale"
    assert (stop["before"]["stopped"], stop["after"]["stopped"]) == (False, True)


async def test_a_refused_call_is_recorded_with_its_error(stubs: Stubs,
                                                        audit_log: Records) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await stubs.admin.StopFlashSale(apb.StopFlashSaleRequest(sale_id="no-such-sale"))
    last = audit_log()[-1]
    assert last["what"] == "StopFlashSale"
    assert last["outcome"].startswith("InvalidArgument")


def test_json_format_writes_one_object_per_line_with_extra_fields() -> None:
    stream = io.StringIO()
    configure(Settings(log_format="json", log_level="info"))
    root = logging.getLogger()
    root.handlers[0].stream = stream  # type: ignore[attr-defined]
    try:
        logging.getLogger("reservation.test").info("hello %s", "world", extra={"sku": "A"})
        logging.getLogger("reservation.test").debug("not shown")
    finally:
        configure(Settings())
    (line,) = stream.getvalue().splitlines()
    parsed = json.loads(line)
    assert (parsed["level"], parsed["logger"], parsed["msg"], parsed["sku"]) == (
        "INFO", "reservation.test", "hello world", "A")

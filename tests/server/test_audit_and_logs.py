"""Operator-action records for AdminService calls, and the JSON log format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from reservation.logs import TEXT_FORMAT, JsonFormatter, TextFormatter, configure
from reservation.server import audit
from reservation.settings import Settings
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import guard_service_pb2 as gpb
from reservation.v1 import types_pb2 as pb
from reservation.v1.guard_service_pb2_grpc import GuardServiceStub
from tests.helpers.reservations import at
from tests.helpers.server import Stubs

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
        create_skus=True,  # the test's SKUs are new
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
    assert last["outcome"].startswith("NotFound")


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


@pytest.fixture
def text_audit_log() -> Iterator[Callable[[], str]]:
    """The audit logger's output as the text formatter writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter(TEXT_FORMAT))
    logger = logging.getLogger("reservation.audit")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield stream.getvalue
    logger.removeHandler(handler)
    logger.setLevel(old_level)


FORGED = ("SKU-9\n2026-11-22 10:00:00,000 INFO reservation.audit: operator \"ops-bob\" "
          "LoadStock \"SKU-1\": \"ok\" {}")


async def test_a_target_with_a_newline_cannot_forge_a_record(
        stubs: Stubs, audit_log: Records, text_audit_log: Callable[[], str]) -> None:
    guard = GuardServiceStub(stubs.channel)
    with pytest.raises(grpc.aio.AioRpcError):
        await guard.SetSafetyStock(gpb.SetSafetyStockRequest(sku=FORGED, override=1),
                                   metadata=(("x-operator", "eve"),))
    text = text_audit_log()
    assert text.count("\n") == 1, text  # one record, one line
    assert "ops-bob" in text and "\nLoadStock" not in text
    last = audit_log()[-1]
    assert last["target"] == FORGED.replace("\n", "\\x0a")
    assert last["who"] == "eve"


async def test_nul_and_other_control_characters_are_escaped(
        stubs: Stubs, audit_log: Records) -> None:
    guard = GuardServiceStub(stubs.channel)
    with pytest.raises(grpc.aio.AioRpcError):
        await guard.ForceBreaker(gpb.ForceBreakerRequest(
            sku="A\x00B", channel="c\x1b[2J\u2028\u202e", state=gpb.BREAKER_STATE_OPEN))
    last = audit_log()[-1]
    assert last["target"] == "A\\x00B/c\\x1b[2J\\u2028\\u202e"


async def test_every_field_of_a_record_is_bounded(
        stubs: Stubs, audit_log: Records, text_audit_log: Callable[[], str]) -> None:
    guard = GuardServiceStub(stubs.channel)
    huge = "c" * 1_000_000
    with pytest.raises(grpc.aio.AioRpcError):
        await guard.SetBreakerThreshold(gpb.SetBreakerThresholdRequest(
            sku="AUD-3", channel=huge, threshold=1), metadata=(("x-operator", "o" * 6000),))
    last = audit_log()[-1]
    assert len(json.dumps(last)) < 4096
    assert last["who"] == "o" * 128 + "...(6000 chars)"
    assert last["target"].endswith("(1000006 chars)")
    assert len(text_audit_log()) < 4096
    # before/after: a LoadStock of 1,000 SKUs is cut to a bounded summary.
    items = [pb.StockItem(sku=f"AUD-BIG-{i}", warehouse_id="WH", quantity=1)
             for i in range(1000)]
    await stubs.admin.LoadStock(apb.LoadStockRequest(items=items, mode=apb.LOAD_MODE_ADD))
    last = audit_log()[-1]
    assert last["after"]["truncated"] and last["after"]["json_chars"] > 4096
    assert len(json.dumps(last)) < 16_384


def test_clean_escapes_backslashes_so_escapes_cannot_be_forged() -> None:
    assert audit.clean("a\\x0ab", 64) == "a\\\\x0ab"
    assert audit.clean("a\nb", 64) == "a\\x0ab"
    assert audit.clean("x" * 10, 4) == "xxxx...(10 chars)"

"""Operator safety on flash sales, through the real gRPC server: an unknown SKU is
refused unless asked to create it, validate_only writes nothing, NOT_FOUND for a sale
not there, pause / resume / reschedule, and the operator-action log of actions only."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import guard_service_pb2 as gpb
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2 as pb
from reservation.v1.guard_service_pb2_grpc import GuardServiceStub
from tests.helpers.reservations import (
    QUEUED,
    REJECTED,
    RESERVED,
    assert_invariant,
    at,
    get,
    levels,
    line,
    load,
    order,
    release,
    reserve,
)
from tests.helpers.waiting import wait_until

HOUR = 3_600_000


def start(sale_id: str = "s1", items=(("PHONE", "W1", 10),), create: bool = False,
          validate_only: bool = False, starts_in_ms: int = 0,
          ends_in_ms: int = HOUR) -> apb.StartFlashSaleRequest:
    return apb.StartFlashSaleRequest(
        sale_id=sale_id, items=[pb.StockItem(sku=s, warehouse_id=w, quantity=q)
                                for s, w, q in items],
        starts_at=at(starts_in_ms), ends_at=at(ends_in_ms), create_skus=create,
        validate_only=validate_only)


async def sale_of(stubs, sale_id: str = "s1") -> apb.FlashSale:
    return (await stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id=sale_id))).sale


async def code_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), caught.value.details() or ""


# ------------------------------------------------------------------ unknown SKUs


async def test_a_sale_on_a_sku_never_loaded_is_not_found_and_writes_nothing(stubs):
    await load(stubs, ("PHONE-X", "W1", 5))
    code, details = await code_of(stubs.admin.StartFlashSale(
        start(items=(("PHONE-X", "W1", 3), ("PHNOE-X", "W1", 3)))))
    assert code == grpc.StatusCode.NOT_FOUND
    assert "items[1].sku" in details and "PHNOE-X" in details
    code, _ = await code_of(levels(stubs, "PHNOE-X"))
    assert code == grpc.StatusCode.NOT_FOUND  # no stock record was created
    assert (await levels(stubs, "PHONE-X"))["W1"].available == 5  # nor the good one loaded
    code, _ = await code_of(stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="s1")))
    assert code == grpc.StatusCode.NOT_FOUND


async def test_a_sale_on_a_warehouse_the_sku_never_had_is_not_found(stubs):
    await load(stubs, ("PHONE", "WH-SH", 5))
    code, details = await code_of(stubs.admin.StartFlashSale(
        start(items=(("PHONE", "WH-SHH", 3),))))
    assert code == grpc.StatusCode.NOT_FOUND
    assert "items[0].warehouse_id" in details and "WH-SHH" in details and "WH-SH" in details


async def test_create_skus_starts_a_sale_on_new_skus(stubs):
    sale = (await stubs.admin.StartFlashSale(start(items=(("NEW-1", "W1", 4),),
                                                   create=True))).sale
    assert sale.state == apb.FLASH_SALE_STATE_ACTIVE
    assert (await levels(stubs, "NEW-1"))["W1"].available == 4


# ------------------------------------------------------------------ validate_only


async def test_validate_only_answers_the_sale_and_writes_nothing(stubs):
    await load(stubs, ("PHONE", "W1", 5))
    sale = (await stubs.admin.StartFlashSale(start(validate_only=True))).sale
    assert (sale.sale_id, sale.state) == ("s1", apb.FLASH_SALE_STATE_ACTIVE)
    assert sale.items[0].quantity == 10
    assert (await levels(stubs, "PHONE"))["W1"].available == 5  # the quota is not loaded
    code, _ = await code_of(stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="s1")))
    assert code == grpc.StatusCode.NOT_FOUND
    assert (await reserve(stubs, order("o1", line("PHONE")))).state == RESERVED  # no sale


async def test_validate_only_reports_what_the_start_would_refuse(stubs):
    code, details = await code_of(stubs.admin.StartFlashSale(
        start(items=(("TYPO", "W1", 1),), validate_only=True)))
    assert code == grpc.StatusCode.NOT_FOUND and "TYPO" in details
    await stubs.admin.StartFlashSale(start("other", items=(("BUSY", "W1", 1),), create=True))
    code, details = await code_of(stubs.admin.StartFlashSale(
        start("s2", items=(("BUSY", "W1", 1),), create=True, validate_only=True)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "other" in details


# ------------------------------------------------------------------ NOT_FOUND


@pytest.mark.parametrize("method, request_type", [
    ("GetFlashSale", apb.GetFlashSaleRequest), ("StopFlashSale", apb.StopFlashSaleRequest),
    ("PauseFlashSale", apb.PauseFlashSaleRequest),
    ("ResumeFlashSale", apb.ResumeFlashSaleRequest)])
async def test_a_sale_not_there_is_not_found(stubs, method, request_type):
    code, details = await code_of(getattr(stubs.admin, method)(request_type(sale_id="nosuch")))
    assert code == grpc.StatusCode.NOT_FOUND and "nosuch" in details


async def test_rescheduling_a_sale_not_there_is_not_found(stubs):
    code, _ = await code_of(stubs.admin.RescheduleFlashSale(apb.RescheduleFlashSaleRequest(
        sale_id="nosuch", ends_at=at(HOUR))))
    assert code == grpc.StatusCode.NOT_FOUND


# ------------------------------------------------------------------ pause and resume


async def test_a_paused_sale_reserves_nothing_and_says_so_until_resumed(stubs):
    await stubs.admin.StartFlashSale(start(create=True))
    paused = (await stubs.admin.PauseFlashSale(apb.PauseFlashSaleRequest(sale_id="s1"))).sale
    assert paused.state == apb.FLASH_SALE_STATE_PAUSED
    refused = await reserve(stubs, order("o1", line("PHONE"), allow_queue=True))
    assert (refused.state, refused.reject_reason, refused.failed_sku) == (
        REJECTED, pb.REJECT_REASON_SALE_PAUSED, "PHONE")
    assert (await levels(stubs, "PHONE"))["W1"].available == 10
    again = (await stubs.admin.PauseFlashSale(apb.PauseFlashSaleRequest(sale_id="s1"))).sale
    assert again.state == apb.FLASH_SALE_STATE_PAUSED  # idempotent
    resumed = (await stubs.admin.ResumeFlashSale(apb.ResumeFlashSaleRequest(sale_id="s1"))).sale
    assert resumed.state == apb.FLASH_SALE_STATE_ACTIVE
    assert (await reserve(stubs, order("o2", line("PHONE")))).state == RESERVED
    assert_invariant(await levels(stubs, "PHONE"))


async def test_queued_orders_wait_through_a_pause_and_are_served_on_resume(stubs):
    await stubs.admin.StartFlashSale(start(items=(("PHONE", "W1", 1),), create=True))
    assert (await reserve(stubs, order("o1", line("PHONE")))).state == RESERVED
    queued = await reserve(stubs, order("o2", line("PHONE"), buyer="b2", allow_queue=True))
    assert queued.state == QUEUED
    await stubs.admin.PauseFlashSale(apb.PauseFlashSaleRequest(sale_id="s1"))
    await release(stubs, "o1")  # the unit comes back while the sale is paused
    waiting = await get(stubs, "o2")
    assert (waiting.state, waiting.queue_position) == (QUEUED, 1)  # keeps its place
    assert (await levels(stubs, "PHONE"))["W1"].available == 1
    await stubs.admin.ResumeFlashSale(apb.ResumeFlashSaleRequest(sale_id="s1"))
    assert (await get(stubs, "o2")).state == RESERVED
    assert_invariant(await levels(stubs, "PHONE"))


async def test_a_stopped_or_ended_sale_cannot_be_paused(stubs):
    await stubs.admin.StartFlashSale(start(create=True))
    await stubs.admin.StopFlashSale(apb.StopFlashSaleRequest(sale_id="s1"))
    code, _ = await code_of(stubs.admin.PauseFlashSale(apb.PauseFlashSaleRequest(sale_id="s1")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION


async def test_stopping_a_paused_sale_returns_its_units(stubs):
    await stubs.admin.StartFlashSale(start(create=True))
    await stubs.admin.PauseFlashSale(apb.PauseFlashSaleRequest(sale_id="s1"))
    stopped = (await stubs.admin.StopFlashSale(apb.StopFlashSaleRequest(sale_id="s1"))).sale
    assert stopped.state == apb.FLASH_SALE_STATE_STOPPED
    assert stopped.items[0].level.returned == 10
    refused = await reserve(stubs, order("o1", line("PHONE")))
    assert refused.reject_reason == pb.REJECT_REASON_NOT_ON_SALE


# ------------------------------------------------------------------ reschedule


async def test_rescheduling_moves_the_window_both_ways(stubs):
    original = start(create=True)
    await stubs.admin.StartFlashSale(original)
    later = (await stubs.admin.RescheduleFlashSale(apb.RescheduleFlashSaleRequest(
        sale_id="s1", starts_at=at(HOUR), ends_at=at(2 * HOUR)))).sale
    assert later.state == apb.FLASH_SALE_STATE_SCHEDULED
    assert abs(later.starts_at.ToMilliseconds() - at(HOUR).ToMilliseconds()) < 60_000
    assert (await sale_of(stubs)).state == apb.FLASH_SALE_STATE_SCHEDULED
    refused = await reserve(stubs, order("o1", line("PHONE")))
    assert refused.reject_reason == pb.REJECT_REASON_NOT_ON_SALE
    now = (await stubs.admin.RescheduleFlashSale(apb.RescheduleFlashSaleRequest(
        sale_id="s1", starts_at=at(0), ends_at=at(HOUR)))).sale
    assert now.state == apb.FLASH_SALE_STATE_ACTIVE
    assert (await reserve(stubs, order("o2", line("PHONE")))).state == RESERVED
    # A retry of the original start still answers the sale, as it stands now.
    retried = (await stubs.admin.StartFlashSale(original)).sale
    assert retried.state == apb.FLASH_SALE_STATE_ACTIVE and retried.items[0].level.held == 1


async def test_reschedule_validate_only_changes_nothing(stubs):
    await stubs.admin.StartFlashSale(start(create=True))
    before = await sale_of(stubs)
    would = (await stubs.admin.RescheduleFlashSale(apb.RescheduleFlashSaleRequest(
        sale_id="s1", starts_at=at(HOUR), ends_at=at(2 * HOUR), validate_only=True))).sale
    assert would.state == apb.FLASH_SALE_STATE_SCHEDULED
    assert (await sale_of(stubs)).ends_at == before.ends_at
    assert (await reserve(stubs, order("o1", line("PHONE")))).state == RESERVED


async def test_reschedule_refuses_a_past_end_naming_the_field_and_a_stopped_sale(stubs):
    await stubs.admin.StartFlashSale(start(create=True))
    code, details = await code_of(stubs.admin.RescheduleFlashSale(
        apb.RescheduleFlashSaleRequest(sale_id="s1", ends_at=at(-60_000))))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "ends_at" in details
    code, details = await code_of(stubs.admin.RescheduleFlashSale(
        apb.RescheduleFlashSaleRequest(sale_id="s1")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "ends_at" in details
    await stubs.admin.StopFlashSale(apb.StopFlashSaleRequest(sale_id="s1"))
    code, _ = await code_of(stubs.admin.RescheduleFlashSale(
        apb.RescheduleFlashSaleRequest(sale_id="s1", ends_at=at(2 * HOUR))))
    assert code == grpc.StatusCode.FAILED_PRECONDITION


async def test_an_ended_sale_rescheduled_opens_again(stubs):
    await stubs.admin.StartFlashSale(start(create=True, ends_in_ms=HOUR))
    await stubs.admin.RescheduleFlashSale(apb.RescheduleFlashSaleRequest(
        sale_id="s1", ends_at=at(300)))  # ends very soon: then it has ended
    await wait_until(lambda: sale_of(stubs), lambda s: s.state == apb.FLASH_SALE_STATE_ENDED,
                     "the sale to end")
    code, _ = await code_of(stubs.admin.PauseFlashSale(apb.PauseFlashSaleRequest(sale_id="s1")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION  # ended: nothing to pause
    await stubs.admin.RescheduleFlashSale(apb.RescheduleFlashSaleRequest(
        sale_id="s1", ends_at=at(HOUR)))
    assert (await sale_of(stubs)).state == apb.FLASH_SALE_STATE_ACTIVE


# ------------------------------------------------------------------ the action log


@pytest.fixture
def audit_log() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    from reservation.logs import JsonFormatter

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


async def test_reads_and_dry_runs_write_no_record_actions_do(stubs, audit_log):
    await stubs.admin.StartFlashSale(start(create=True, validate_only=True))
    await stubs.admin.StartFlashSale(start(create=True))
    guard = GuardServiceStub(stubs.channel)
    for _ in range(5):  # what a console tab reads every second
        await stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="s1"))
        await stubs.admin.ListFlashSales(apb.ListFlashSalesRequest())
        await stubs.admin.ListDeadLetters(apb.ListDeadLettersRequest())
        await stubs.admin.ListBlocklist(apb.ListBlocklistRequest())
        await guard.GetGuard(gpb.GetGuardRequest(sku="PHONE"))
        await guard.ListOpenBreakers(gpb.ListOpenBreakersRequest())
        await stubs.rs.GetStock(rpb.GetStockRequest(sku="PHONE"))
    with pytest.raises(grpc.aio.AioRpcError):  # a failed read is no action either
        await stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="nosuch"))
    await stubs.admin.PauseFlashSale(apb.PauseFlashSaleRequest(sale_id="s1"),
                                     metadata=(("x-operator", "alice"),))
    assert [(r["what"], r["outcome"]) for r in audit_log()] == [
        ("StartFlashSale", "ok"), ("PauseFlashSale", "ok")]
    paused = audit_log()[-1]
    assert paused["who"] == "alice"
    assert (paused["before"]["paused"], paused["after"]["paused"]) == (False, True)

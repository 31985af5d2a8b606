"""After-sales reasons through the gRPC API on real Redis: a scripted month of returns
of one paint where most "colour" complaints come from one batch; the report by SKU,
batch and reason puts that batch first, and each reason is in its order's history in
the name of who set it. The expected groups are counted here from the script."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reservation.v1 import order_service_pb2 as opb
from tests.helpers.errors import refused
from tests.helpers.orders import channel_order, history, key, sync
from tests.helpers.reservations import load
from tests.helpers.snapshots import redis_snapshot


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """The guard's periodic tick rewrites a sold SKU's guard hash on its own (safety
    stock): once an hour here, so a snapshot around a refused call sees only the call."""
    return {"breaker_tick_ms": 3_600_000}

T0 = int(datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp())
DAY = 24 * 3600

# (order id, level1, level2, batch): what service staff find out, per returned order.
SCRIPT = (
    [(f"R{i:02d}", "quality", "colour_deviation", "B-0412") for i in range(8)]
    + [(f"R{i:02d}", "quality", "colour_deviation", "B-0413") for i in range(8, 10)]
    + [(f"R{i:02d}", "other", "changed_mind", "B-0412") for i in range(10, 14)]
    + [(f"R{i:02d}", "logistics", "damaged_in_transit", "B-0413") for i in range(14, 16)]
)


@pytest.fixture
async def returns(app: Any, stubs: Any, hub: Any) -> Any:
    """Sixteen paid orders of PAINT-RED on two channels, each with its reason set on
    2026-11-20 by support:mei; and one set the day before (outside the period)."""
    await load(stubs, ("PAINT-RED", "WH-A", 100))
    app.orders.clock = lambda: T0 * 1000
    ids = [oid for oid, *_ in SCRIPT] + ["OLD"]
    await sync(hub, *(channel_order(oid, "PAID", ("PAINT-RED", 2), created_s=T0 - 5 * DAY,
                                    modified_s=T0 - 5 * DAY, phone=f"1370000{i:04d}",
                                    detail=f"{i} Lake Rd",
                                    channel="jd" if i % 2 else "pdd")
                      for i, oid in enumerate(ids)))
    for i, (oid, level1, level2, batch) in enumerate(SCRIPT):
        reply = await _set(hub, oid, "jd" if i % 2 else "pdd", level1, level2, batch)
        assert reply.outcome == opb.SYNC_OUTCOME_UPDATED
    app.orders.clock = lambda: (T0 - DAY) * 1000
    await _set(hub, "OLD", "jd" if len(SCRIPT) % 2 else "pdd", "quality", "defect", "B-0399")
    return hub


async def _set(hub: Any, oid: str, channel: str, level1: str, level2: str, batch: str,
               sku: str = "PAINT-RED") -> opb.SetAfterSalesReasonResponse:
    return await hub.SetAfterSalesReason(opb.SetAfterSalesReasonRequest(
        key=key(oid, channel=channel), sku=sku, batch=batch, level1=level1, level2=level2,
        note="颜色和图片不一样", actor="support:mei"), timeout=10)


async def _report(hub: Any, *group_by: str, **kw: str) -> list[tuple[Any, ...]]:
    reply = await hub.GetAfterSalesReport(opb.GetAfterSalesReportRequest(
        day_from="2026-11-20", day_to="2026-11-20", group_by=list(group_by), **kw),
        timeout=30)
    return [(r.sku, r.batch, r.level1, r.level2, r.orders, r.units) for r in reply.rows]


async def test_the_report_puts_the_batch_with_the_colour_problem_first(returns: Any) -> None:
    assert await _report(returns) == [
        ("PAINT-RED", "B-0412", "quality", "colour_deviation", 8, 16),
        ("PAINT-RED", "B-0412", "other", "changed_mind", 4, 8),
        ("PAINT-RED", "B-0413", "logistics", "damaged_in_transit", 2, 4),
        ("PAINT-RED", "B-0413", "quality", "colour_deviation", 2, 4)]
    # By batch and level 1 only: B-0412's quality returns stand out.
    assert (await _report(returns, "batch", "level1"))[0] == ("", "B-0412", "quality", "",
                                                              8, 16)
    # By reason alone, on one channel (the odd-numbered orders are jd's).
    assert await _report(returns, "level2", channel="jd") == [
        ("", "", "", "colour_deviation", 5, 10), ("", "", "", "changed_mind", 2, 4),
        ("", "", "", "damaged_in_transit", 1, 2)]
    # The day before holds only OLD's.
    reply = await returns.GetAfterSalesReport(opb.GetAfterSalesReportRequest(
        day_from="2026-11-19", day_to="2026-11-19", group_by=["batch"]), timeout=30)
    assert [(r.batch, r.orders) for r in reply.rows] == [("B-0399", 1)]


async def test_the_reason_is_kept_on_the_order_and_in_its_history_once(returns: Any) -> None:
    again = await _set(returns, "R00", "pdd", "quality", "colour_deviation", "B-0412")
    assert again.outcome == opb.SYNC_OUTCOME_UNCHANGED
    events = await history(returns, "R00", channel="pdd")
    set_ = [e for e in events if "after_sales.PAINT-RED" in e.changes_json]
    assert [(e.actor, e.reason) for e in set_] == [("support:mei", "颜色和图片不一样")]
    # Changed after a closer look: the newest reason is the order's, both in history.
    changed = await _set(returns, "R00", "pdd", "not_as_described",
                         "colour_differs_from_photo", "B-0412")
    assert changed.outcome == opb.SYNC_OUTCOME_UPDATED
    assert (await _report(returns))[0][4] == 7


@pytest.mark.parametrize(("ask", "field"), [
    ({"level1": "smell"}, "level1"),
    ({"level2": "late_delivery"}, "level2"),      # a logistics reason under quality
    ({"sku": "PAINT-BLUE"}, "sku"),               # not a line of the order
    ({"actor": ""}, "actor"),
])
async def test_a_bad_reason_is_invalid_argument_naming_the_field_and_changes_nothing(
        returns: Any, redis_url: str, ask: dict[str, str], field: str) -> None:
    request = {"key": key("R01", channel="jd"), "sku": "PAINT-RED", "level1": "quality",
               "level2": "colour_deviation", "actor": "support:mei", **ask}
    before = await redis_snapshot(redis_url)
    fields, _ = await refused(returns.SetAfterSalesReason(
        opb.SetAfterSalesReasonRequest(**request), timeout=10))
    assert fields == [field]
    assert await redis_snapshot(redis_url) == before


@pytest.mark.parametrize(("ask", "field"), [
    ({"day_from": "20 Nov"}, "day_from"),
    ({"day_to": "2026-11-19"}, "day_to"),
    ({"group_by": ["colour"]}, "group_by[0]"),
    ({"channel": "amazon"}, "channel"),
])
async def test_a_bad_report_request_is_invalid_argument_naming_the_field(
        hub: Any, ask: dict[str, Any], field: str) -> None:
    request = {"day_from": "2026-11-20", "day_to": "2026-11-20", **ask}
    fields, _ = await refused(hub.GetAfterSalesReport(
        opb.GetAfterSalesReportRequest(**request), timeout=10))
    assert fields == [field]

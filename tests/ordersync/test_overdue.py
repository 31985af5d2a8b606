"""Overdue orders on a scripted day through the gRPC API against real Redis: the hub's
clock is set by the test (its only seam), the server's own evaluation loop runs every
50 ms, and each order is flagged at the first evaluation after it crosses its threshold
and cleared at the first one after it moves on. The thresholds below are the test's
statement of the rule (RESERVATION_ORDER_OVERDUE), not read back from the service."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reservation.ordersync.overdue import Thresholds
from reservation.server.gauges import GaugeSampler
from reservation.settings import ConfigError, Settings
from reservation.v1 import order_service_pb2 as opb
from reservation.writeback import WriteBack
from tests.helpers.errors import refused
from tests.helpers.orders import channel_order, key, move, sync
from tests.helpers.waiting import wait_until

T0 = int(datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp())
MIN, H = 60, 3600
PAID_MIN, PAID_PDD_MIN, PRINTED_MIN, SHIPPED_MIN = 15, 5, 120, 24 * 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"order_overdue": f"paid={PAID_MIN},paid/pdd={PAID_PDD_MIN},"
                             f"printed={PRINTED_MIN},shipped={SHIPPED_MIN}",
            "order_overdue_interval_ms": 50, "metrics_port": _free_port()}


class Day:
    """The hub's clock, moved by the test."""

    def __init__(self, app: Any) -> None:
        self.now_s = T0
        app.orders.clock = lambda: self.now_s * 1000

    def at(self, seconds_after_t0: int) -> None:
        self.now_s = T0 + seconds_after_t0

    def tick(self) -> None:
        """A second later: the next evaluation asked for surely began after what the
        test just did."""
        self.now_s += 1


async def overdue_now(hub: Any, day: Day, **request: Any) -> opb.ListOverdueOrdersResponse:
    """The first evaluation made at the clock as it is now (the loop runs every 50 ms)."""
    async def ask() -> opb.ListOverdueOrdersResponse:
        return await hub.ListOverdueOrders(opb.ListOverdueOrdersRequest(**request), timeout=10)
    # Made at exactly the test's clock: the server's first evaluation (at start, on the
    # real clock) is not one of the day's.
    return await wait_until(ask, lambda r: r.evaluated_at.seconds == day.now_s,
                            f"an evaluation at {day.now_s}")


def listed(reply: opb.ListOverdueOrdersResponse) -> list[tuple[str, str]]:
    return [(o.key.order_id, o.node) for o in reply.orders]


def order(oid: str, state: str, *lines: tuple[str, int], channel: str = "jd",
          modified_s: int = T0) -> opb.ChannelOrder:
    return channel_order(oid, state, *lines, channel=channel, created_s=T0 - 10 * MIN,
                         modified_s=modified_s, phone=f"1370000{sum(map(ord, oid)):04d}",
                         detail=f"{oid} Lake Rd")


async def ship(hub: Any, oid: str, at_s: int, channel: str = "jd") -> None:
    s = opb.Shipment(carrier="SF", tracking_number=f"SF-{oid}")
    s.shipped_at.FromSeconds(at_s)
    await hub.ReportShipment(opb.ReportShipmentRequest(key=key(oid, channel=channel),
                                                       shipment=s), timeout=10)


async def test_orders_are_flagged_once_past_their_threshold_and_cleared_when_they_move_on(
        app: Any, hub: Any) -> None:
    day = Day(app)
    # At T0: two paid orders the hub cannot route (no stock for 500: held), one per
    # channel; one routed order; one pdd order shipped at T0.
    await sync(hub, order("P-JD", "PAID", ("SKU-1", 500)),
               order("P-PDD", "PAID", ("SKU-1", 500), channel="pdd"),
               order("R1", "PAID", ("SKU-1", 1)),
               order("S1", "PAID", ("SKU-1", 1), channel="pdd"))
    await ship(hub, "S1", T0, channel="pdd")
    day.at(10 * MIN)
    await move(hub, "R1", "ALLOCATED", actor="wms")
    await move(hub, "R1", "PRINTED", actor="wms")  # label printed at T0 + 10 min

    # Just before pdd's own 5 minutes nothing is overdue; just after, only P-PDD (jd's
    # threshold is the node's 15 minutes).
    day.at(PAID_PDD_MIN * MIN - 1)
    assert listed(await overdue_now(hub, day)) == []
    day.at(PAID_PDD_MIN * MIN + 1)
    assert listed(await overdue_now(hub, day)) == [("P-PDD", "paid")]

    # Past 15 minutes both, the most overdue first, with their counts.
    day.at(PAID_MIN * MIN + 30)
    reply = await overdue_now(hub, day)
    assert listed(reply) == [("P-PDD", "paid"), ("P-JD", "paid")]
    top = reply.orders[0]
    assert (top.since.seconds, top.threshold.seconds, top.overdue_by.seconds) == (
        T0, PAID_PDD_MIN * MIN, (PAID_MIN - PAID_PDD_MIN) * MIN + 30)
    assert {(c.node, c.channel, c.orders) for c in reply.counts} == {
        ("paid", "jd", 1), ("paid", "pdd", 1)}
    assert listed(await overdue_now(hub, day, channel="jd")) == [("P-JD", "paid")]

    # P-PDD moves on (an operator cancels it): gone at the next evaluation.
    await move(hub, "P-PDD", "CANCELLED", channel="pdd")
    day.tick()
    assert listed(await overdue_now(hub, day)) == [("P-JD", "paid")]

    # The label printed at T0 + 10 min: overdue 2 h later, cleared once it ships.
    day.at(10 * MIN + PRINTED_MIN * MIN + 1)
    assert ("R1", "printed") in listed(await overdue_now(hub, day))
    await ship(hub, "R1", day.now_s)
    day.tick()
    assert ("R1", "printed") not in listed(await overdue_now(hub, day))

    # S1 shipped at T0 and not delivered 24 h later; delivered, it leaves the list.
    day.at(SHIPPED_MIN * MIN + 1)
    assert ("S1", "shipped") in listed(await overdue_now(hub, day, node="shipped"))
    await sync(hub, order("S1", "DELIVERED", ("SKU-1", 1), channel="pdd",
                          modified_s=day.now_s))
    day.tick()
    reply = await overdue_now(hub, day)
    assert listed(reply) == [("P-JD", "paid")]  # R1 shipped 2 h ago: within its 24 h
    assert {(c.node, c.channel, c.orders) for c in reply.counts} == {("paid", "jd", 1)}
    assert reply.scanned == 4


async def test_the_gauge_counts_per_node_and_channel_and_drops_to_zero(
        app: Any, hub: Any) -> None:
    day = Day(app)
    await sync(hub, order("G1", "PAID", ("SKU-1", 500)))
    day.at(PAID_MIN * MIN + 1)
    await overdue_now(hub, day)
    sampler = GaugeSampler(app.store, app.inventory, WriteBack.over(app.store),
                           overdue=app.overdue)
    await sampler.sample()
    assert await _gauge(app, "paid", "jd") == 1
    await move(hub, "G1", "CANCELLED")
    day.tick()
    await overdue_now(hub, day)
    await sampler.sample()
    assert await _gauge(app, "paid", "jd") == 0


async def _gauge(app: Any, node: str, channel: str) -> float:
    def scrape() -> float:
        url = f"http://127.0.0.1:{app.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            text = reply.read().decode()
        return next(s.value for f in text_string_to_metric_families(text) for s in f.samples
                    if s.name == "reservation_overdue_orders"
                    and s.labels == {"node": node, "channel": channel})
    return await asyncio.to_thread(scrape)


@pytest.mark.parametrize(("request_", "field"), [
    ({"node": "packed"}, "node"), ({"channel": "amazon"}, "channel"),
    ({"page_size": 1001}, "page_size")])
async def test_a_bad_filter_is_invalid_argument_naming_it(hub: Any, request_: dict[str, Any],
                                                          field: str) -> None:
    fields, _ = await refused(hub.ListOverdueOrders(
        opb.ListOverdueOrdersRequest(**request_), timeout=10))
    assert fields == [field]


@pytest.mark.parametrize("text", ["paid=fifteen", "packed=15", "paid=0", "paid=15,paid=20"])
def test_a_malformed_threshold_setting_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ConfigError, match="RESERVATION_ORDER_OVERDUE"):
        Settings(order_overdue=text)


def test_a_threshold_for_a_channel_the_hub_does_not_know_is_refused() -> None:
    with pytest.raises(ConfigError, match="paid/amazon"):
        Thresholds(Settings(order_overdue="paid/amazon=5").order_overdue_thresholds)

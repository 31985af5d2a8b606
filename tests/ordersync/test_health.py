"""The order health's three rates per channel on a scripted day, through the gRPC API on
real Redis (the hub's clock is the test's). The rules, as stated here and not read back
from the service: the promise is payment + 4 h to ship + 72 h to deliver (the defaults)
and an order delivered at most 2 h after it kept it; a delivered order is complete when
at most one of its 12 key nodes is missing (an order delivered without a shipment ever
reported misses its carrier and its tracking number); the hub and the channel disagree
when the channel's last report is not the hub's state (a shipped order the channel
still shows paid, a cancellation the hub refused), and it counts after 30 minutes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.clients.wms.orders import report_state
from reservation.v1 import order_service_pb2 as opb
from tests.helpers.errors import refused
from tests.helpers.orders import channel_order, get_order, history, key, move, sync

DAY = "2026-11-20"
TEN = int(datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp())
H, MIN = 3600, 60


class Clock:
    def __init__(self, app: Any) -> None:
        self.now_s = TEN
        app.orders.clock = lambda: self.now_s * 1000


def _order(oid: str, state: str, channel: str, modified_s: int) -> opb.ChannelOrder:
    o = channel_order(oid, state, ("SKU-1", 1), channel=channel, created_s=TEN - 600,
                      modified_s=modified_s, phone=f"1370000{sum(map(ord, oid)):04d}",
                      detail=f"{oid} Lake Rd")
    o.paid_at.FromSeconds(TEN)
    return o


async def _ship(hub: Any, oid: str, channel: str, at_s: int) -> None:
    s = opb.Shipment(carrier="SF", tracking_number=f"SF-{oid}")
    s.shipped_at.FromSeconds(at_s)
    await hub.ReportShipment(opb.ReportShipmentRequest(key=key(oid, channel=channel),
                                                       shipment=s), timeout=10)


async def _rows(hub: Any) -> dict[str, opb.FulfilmentStats]:
    reply = await hub.GetFulfilmentStats(opb.GetFulfilmentStatsRequest(
        day=DAY, by_channel=True), timeout=30)
    assert all(r.warehouse_id == "" for r in reply.rows)
    return {r.channel: r for r in reply.rows}


def _inconsistent(row: opb.FulfilmentStats) -> set[tuple[str, str, str, str]]:
    return {(i.key.order_id, i.hub_state, i.channel_state, i.channel_raw_status)
            for i in row.inconsistent}


async def test_three_rates_per_channel_and_a_channel_state_the_hub_missed(
        app: Any, hub: Any) -> None:
    clock = Clock(app)
    # Paid at 10:00: three on jd, two on pdd.
    await sync(hub, *(_order(oid, "PAID", ch, TEN) for oid, ch in (
        ("J1", "jd"), ("J2", "jd"), ("J3", "jd"), ("P1", "pdd"), ("P2", "pdd"))))
    # 11:00: J1 goes through the warehouse and ships; P1 and P2 ship.
    clock.now_s = TEN + H
    await move(hub, "J1", "ALLOCATED", actor="wms")
    await move(hub, "J1", "PRINTED", actor="wms")
    for oid, ch in (("J1", "jd"), ("P1", "pdd"), ("P2", "pdd")):
        await _ship(hub, oid, ch, clock.now_s)
    # 12:00: jd says J1 shipped (its tracking number reached it); P1's never does.
    clock.now_s = TEN + 2 * H
    await sync(hub, _order("J1", "SHIPPED", "jd", clock.now_s))
    # 13:00: pdd says P2 was cancelled: the hub has it shipped and cannot follow.
    clock.now_s = TEN + 3 * H
    [refused] = await sync(hub, _order("P2", "CANCELLED", "pdd", clock.now_s))
    assert refused.outcome == opb.SYNC_OUTCOME_REFUSED

    # 13:10: P1 has disagreed for 2 h 10 min, P2 for 10 minutes only.
    clock.now_s = TEN + 3 * H + 10 * MIN
    rows = await _rows(hub)
    assert _inconsistent(rows["pdd"]) == {("P1", "SHIPPED", "PAID", "paid")}
    assert _inconsistent(rows["jd"]) == set()

    # 13:40: P2's cancellation, missed by the hub, is an inconsistency with both sides.
    clock.now_s = TEN + 3 * H + 40 * MIN
    rows = await _rows(hub)
    assert _inconsistent(rows["pdd"]) == {("P1", "SHIPPED", "PAID", "paid"),
                                          ("P2", "SHIPPED", "CANCELLED", "cancelled")}
    assert rows["pdd"].consistent_rate == 0.0 and rows["jd"].consistent_rate == 1.0
    assert rows[""].consistent_rate == 1 - 2 / 5
    # Nothing delivered and no promise due yet (10:00 + 76 h + 2 h).
    assert (rows["jd"].promised, rows["jd"].lifecycles) == (0, 0)

    # Day 3, 08:00 (70 h after payment): J1 delivered, through every node.
    clock.now_s = TEN + 70 * H
    await sync(hub, _order("J1", "DELIVERED", "jd", clock.now_s))
    # 10:00 + 79 h: J2 delivered, 3 h past its promise, and no shipment ever reported.
    clock.now_s = TEN + 79 * H
    await sync(hub, _order("J2", "DELIVERED", "jd", clock.now_s))

    clock.now_s = TEN + 80 * H
    rows = await _rows(hub)
    jd, pdd = rows["jd"], rows["pdd"]
    # Every paid order is past its promise + 2 h: J1 kept it; J2 late; J3, P1, P2 not
    # delivered.
    assert (jd.promised, jd.on_promise_rate) == (3, 1 / 3)
    assert (pdd.promised, pdd.on_promise_rate) == (2, 0.0)
    assert (rows[""].promised, rows[""].on_promise_rate) == (5, 1 / 5)
    # Delivered: J1 complete, J2 missing its carrier and tracking number.
    assert (jd.lifecycles, jd.complete_rate) == (2, 0.5)
    assert (pdd.lifecycles, pdd.complete_rate) == (0, 0.0)
    assert jd.consistent_rate == 1.0  # J1 and J2 delivered on both sides, J3 paid/routed


def _sides(row: opb.FulfilmentStats) -> set[tuple[str, ...]]:
    return {(i.key.order_id, i.hub_state, i.channel_state, i.wms_state, i.wms_raw_status,
             ",".join(i.disagree)) for i in row.inconsistent}


async def test_a_wms_state_the_hub_missed_is_an_inconsistency_with_all_sides(
        app: Any, hub: Any) -> None:
    """The WMS reports its own state (the reference WMS client, over gRPC): it agrees
    with the hub while both are in the warehouse's work or both shipped; a WMS that
    shipped an order the hub still has PRINTED (ReportShipment lost), or the reverse,
    disagrees, and counts after the 30-minute grace."""
    clock = Clock(app)
    ids = ("W1", "W2", "W3", "W4")
    await sync(hub, *(_order(oid, "PAID", "jd", TEN) for oid in ids))
    clock.now_s = TEN + H
    for oid in ids:
        await move(hub, oid, "ALLOCATED", actor="wms")
        await move(hub, oid, "PRINTED", actor="wms")
    # 11:05: W1 leaves the warehouse, but its ReportShipment never reaches the hub; W2 is
    # packed; W3 leaves and the hub hears it; the hub has W4 shipped, the WMS says packed.
    clock.now_s = TEN + H + 5 * MIN
    await _ship(hub, "W3", "jd", clock.now_s)
    await _ship(hub, "W4", "jd", clock.now_s)
    said = {"W1": "OUTBOUND_DONE", "W2": "PACKED", "W3": "OUTBOUND_DONE", "W4": "PACKED"}
    with grpc.insecure_channel(app.target) as channel:
        for oid, status in said.items():
            outcome = await asyncio.to_thread(report_state, channel, key(oid), status,
                                              clock.now_s * 1000, "wms:main")
            assert outcome == "UPDATED"
        events = await history(hub, "W1")
        again = await asyncio.to_thread(report_state, channel, key("W1"), "OUTBOUND_DONE",
                                        clock.now_s * 1000, "wms:main")
        older = await asyncio.to_thread(report_state, channel, key("W1"), "PICKING",
                                        (clock.now_s - 10 * MIN) * 1000, "wms:main")
        assert (again, older) == ("UNCHANGED", "STALE")
        assert await history(hub, "W1") == events
        with pytest.raises(ValueError):
            report_state(channel, key("W1"), "LOST_IN_SPACE", clock.now_s * 1000)
    w1 = await get_order(hub, "W1")
    assert (w1.state, w1.wms_state, w1.wms_raw_status) == ("PRINTED", "SHIPPED",
                                                           "OUTBOUND_DONE")

    # 11:10: jd hears W3's tracking number (W4's never reaches it).
    clock.now_s = TEN + H + 10 * MIN
    await sync(hub, _order("W3", "SHIPPED", "jd", clock.now_s))
    # 11:30: within the grace, nothing is flagged.
    clock.now_s = TEN + H + 30 * MIN
    assert _sides((await _rows(hub))["jd"]) == set()
    # 11:40: W1 (the WMS shipped it, the hub did not hear) and W4 (the hub shipped it,
    # the WMS did not, and jd still says paid) are; W2 and W3 agree.
    clock.now_s = TEN + H + 40 * MIN
    row = (await _rows(hub))["jd"]
    assert _sides(row) == {("W1", "PRINTED", "PAID", "SHIPPED", "OUTBOUND_DONE", "wms"),
                           ("W4", "SHIPPED", "PAID", "PRINTED", "PACKED", "channel,wms")}
    assert row.consistent_rate == 1 - 2 / 4


async def test_a_bad_warehouse_state_report_names_the_field_and_changes_nothing(
        app: Any, hub: Any) -> None:
    Clock(app)
    await sync(hub, _order("W9", "PAID", "jd", TEN))
    at = Timestamp()
    at.FromSeconds(TEN)
    good = opb.ReportWarehouseStateRequest(key=key("W9"), state="SHIPPED",
                                           raw_status="OUTBOUND_DONE", reported_at=at,
                                           actor="wms")
    for field, change in (("state", {"state": "DELIVERED"}), ("state", {"state": ""}),
                          ("reported_at", {"reported_at": Timestamp()}),
                          ("actor", {"actor": ""})):
        bad = opb.ReportWarehouseStateRequest()
        bad.CopyFrom(good)
        for name, value in change.items():
            if isinstance(value, Timestamp):
                bad.ClearField(name)
            else:
                setattr(bad, name, value)
        fields, _ = await refused(hub.ReportWarehouseState(bad, timeout=10))
        assert fields == [field]
    assert (await get_order(hub, "W9")).wms_state == ""
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await hub.ReportWarehouseState(opb.ReportWarehouseStateRequest(
            key=key("NOPE"), state="SHIPPED", reported_at=at, actor="wms"), timeout=10)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND

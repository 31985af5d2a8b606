"""Every class of difference, produced by a scripted case against the real hub (orders
synced over gRPC, kept in SQL by the follower) and the fake channels' statements, on
SQLite and PostgreSQL, and closed by the right event: the hub catching up, a statement
that agrees, or a person resolving it.

The expectations are the rules as finance states them (classes.py), not read back from
the code's tables."""

from __future__ import annotations

import grpc

from reservation.clients.channels.fake_statements import Payout
from reservation.server.app import App
from reservation.v1 import settlement_service_pb2 as pb
from reservation.v1 import settlement_service_pb2_grpc as pb_grpc
from tests.helpers.orders import move
from tests.helpers.settlement import (
    PRICE,
    differences,
    import_statement,
    open_classes,
    paid,
    settle,
    ship,
    today,
)


def _engine(app: App):  # type: ignore[no-untyped-def]
    assert app.records is not None
    return app.records


async def test_a_system_delay_closes_on_the_next_run_after_the_sync_catches_up(
        settle_app: App, settle_stub) -> None:
    await paid(settle_stub, "D1")
    import_statement(_engine(settle_app), "jd", today(), Payout("D1", goods_cents=PRICE,
                                                                fee_cents=20))
    first = await settle(settle_app, today())
    assert open_classes(_engine(settle_app)) == {"D1": "SYSTEM_DELAY"}
    assert (first.opened, first.matched) == (1, 0)
    await ship(settle_stub, "D1", "SF-D1")
    # Not yet in SQL: the hub has it, the records store does not until the follower runs.
    second = await settle(settle_app, today(1))
    assert open_classes(_engine(settle_app)) == {}
    assert second.closed == 1
    assert differences(_engine(settle_app)) == {"jd:shop-1/D1#SYSTEM_DELAY":
                                                ("SYSTEM_DELAY", "CLOSED")}


async def test_a_refund_not_synced_closes_once_the_hub_has_it(
        settle_app: App, settle_stub) -> None:
    await paid(settle_stub, "R1")
    await ship(settle_stub, "R1", "SF-R1")
    import_statement(_engine(settle_app), "jd", today(), Payout("R1", goods_cents=PRICE))
    assert (await settle(settle_app, today())).matched == 1
    import_statement(_engine(settle_app), "jd", today(1), Payout("R1", refund_cents=PRICE))
    await settle(settle_app, today(1))
    assert open_classes(_engine(settle_app)) == {"R1": "REFUND_NOT_SYNCED"}
    await move(settle_stub, "R1", "REFUND_REQUESTED")
    await settle(settle_app, today(1))
    assert open_classes(_engine(settle_app)) == {"R1": "REFUND_NOT_SYNCED"}  # requested
    await move(settle_stub, "R1", "REFUNDED")
    await settle(settle_app, today(2))
    assert open_classes(_engine(settle_app)) == {}


async def test_an_amount_mismatch_closes_when_a_corrected_statement_agrees(
        settle_app: App, settle_stub) -> None:
    await paid(settle_stub, "M1")
    await ship(settle_stub, "M1", "SF-M1")
    engine = _engine(settle_app)
    import_statement(engine, "jd", today(), Payout("M1", goods_cents=PRICE - 100))
    await settle(settle_app, today())
    assert open_classes(engine) == {"M1": "AMOUNT_MISMATCH"}
    # The channel replaces the day's file (a late, corrected one).
    import_statement(engine, "jd", today(), Payout("M1", goods_cents=PRICE + 300,
                                                   discount_cents=300))
    await settle(settle_app, today())
    assert open_classes(engine) == {}


async def test_missing_in_hub_closes_once_the_order_reaches_the_hub(
        settle_app: App, settle_stub) -> None:
    engine = _engine(settle_app)
    import_statement(engine, "jd", today(), Payout("X9", goods_cents=PRICE, fee_cents=5))
    await settle(settle_app, today())
    assert open_classes(engine) == {"X9": "MISSING_IN_HUB"}
    await paid(settle_stub, "X9")
    await ship(settle_stub, "X9", "SF-X9")
    result = await settle(settle_app, today(1))
    assert open_classes(engine) == {}
    assert result.closed == 1


async def test_a_reorder_and_a_deduction_stay_open_until_a_person_resolves_them(
        settle_app: App, settle_stub) -> None:
    engine = _engine(settle_app)
    # RE1: a re-order the service desk made; the channel's payout names no order number
    # of the hub's, only the parcel's tracking number.
    await paid(settle_stub, "RE1")
    await ship(settle_stub, "RE1", "SF-RE1")
    import_statement(engine, "jd", today(), Payout("", goods_cents=PRICE,
                                                   tracking_number="SF-RE1"),
                     Payout("", fee_cents=5_000))
    await settle(settle_app, today())
    found = open_classes(engine)
    assert sorted(found.values()) == ["MANUAL_REORDER", "PLATFORM_FEE"]
    await settle(settle_app, today(1))  # nothing in the hub changes them
    assert sorted(open_classes(engine).values()) == ["MANUAL_REORDER", "PLATFORM_FEE"]
    async with grpc.aio.insecure_channel(settle_app.target) as channel:
        stub = pb_grpc.SettlementServiceStub(channel)
        for diff_id in differences(engine):
            done = (await stub.ResolveDifference(pb.ResolveDifferenceRequest(
                difference_id=diff_id, operator="finance-li", reason="booked by hand"))
            ).difference
            assert (done.state, done.closed_by, done.reason) == (
                "RESOLVED", "finance-li", "booked by hand")
    await settle(settle_app, today(1))
    assert open_classes(engine) == {}
    assert {state for _, state in differences(engine).values()} == {"RESOLVED"}


async def test_a_deduction_leaves_with_the_replaced_file_that_drops_it(
        settle_app: App, settle_stub) -> None:
    engine = _engine(settle_app)
    import_statement(engine, "pdd", today(), Payout("", fee_cents=800))
    await settle(settle_app, today())
    assert list(open_classes(engine).values()) == ["PLATFORM_FEE"]
    import_statement(engine, "pdd", today())
    await settle(settle_app, today())
    assert open_classes(engine) == {}


async def test_shipped_but_unsettled_after_n_days_closes_once_paid(
        settle_app: App, settle_stub) -> None:
    engine = _engine(settle_app)
    await paid(settle_stub, "U1")
    await ship(settle_stub, "U1", "SF-U1")
    await settle(settle_app, today(6), unsettled_days=7)
    assert open_classes(engine) == {}  # six days on: not yet
    await settle(settle_app, today(7), unsettled_days=7)
    assert open_classes(engine) == {"U1": "SHIPPED_UNSETTLED"}
    import_statement(engine, "jd", today(7), Payout("U1", goods_cents=PRICE))
    await settle(settle_app, today(7), unsettled_days=7)
    assert open_classes(engine) == {}


async def test_missing_at_channel_closes_once_a_statement_takes_the_refund_back(
        settle_app: App, settle_stub) -> None:
    engine = _engine(settle_app)
    await paid(settle_stub, "MC1")
    await ship(settle_stub, "MC1", "SF-MC1")
    import_statement(engine, "jd", today(), Payout("MC1", goods_cents=PRICE))
    await move(settle_stub, "MC1", "REFUND_REQUESTED")
    await move(settle_stub, "MC1", "REFUNDED")
    await settle(settle_app, today(7), unsettled_days=7)
    assert open_classes(engine) == {"MC1": "MISSING_AT_CHANNEL"}
    import_statement(engine, "jd", today(8), Payout("MC1", refund_cents=PRICE))
    await settle(settle_app, today(8), unsettled_days=7)
    assert open_classes(engine) == {}


async def test_a_run_again_changes_nothing(settle_app: App, settle_stub) -> None:
    engine = _engine(settle_app)
    await paid(settle_stub, "S1", "S2")
    await ship(settle_stub, "S1", "SF-S1")
    import_statement(engine, "jd", today(), Payout("S1", goods_cents=PRICE, fee_cents=40),
                     Payout("S2", goods_cents=PRICE), Payout("S3", goods_cents=10))
    first = await settle(settle_app, today())
    before = differences(engine)
    again = await settle(settle_app, today())
    assert (again.opened, again.closed, again.found) == (0, 0, first.found) == (0, 0, 2)
    assert differences(engine) == before

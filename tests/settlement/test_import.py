"""Statements from the fake channels into the service, the way the adapter process does
it (StatementFetcher: download, parse, SettlementService.ImportStatement), on SQLite and
PostgreSQL: a day not generated yet is NOT_READY, then NEW; fetched again, SAME and not a
row changes; replaced by a late file, SUPERSEDED. A bad request is refused naming the
field, and nothing is stored."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import Engine, create_engine, select

from reservation.clients.channels.fake_server import APP_KEY, APP_SECRET, FakeChannels
from reservation.clients.channels.fake_statements import Payout
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.settlement import NOT_READY, StatementFetcher, due_days
from reservation.records.schema import settlement_files, settlement_lines
from reservation.server.app import App
from reservation.v1 import settlement_service_pb2 as pb
from reservation.v1 import settlement_service_pb2_grpc as pb_grpc
from tests.helpers.errors import bad_request_fields

DAY = "2026-12-06"
PAYOUTS = [Payout("T1", goods_cents=10_000, fee_cents=500), Payout("T2", goods_cents=2_000)]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeChannels]:
    server = FakeChannels(pos_dir=tmp_path / "pos").start()
    yield server
    server.stop()


@pytest.fixture
def engine(records_url: str) -> Iterator[Engine]:
    made = create_engine(records_url)
    yield made
    made.dispose()


def _fetcher(fake: FakeChannels, app: App, channel: str, grpc_channel: grpc.Channel
             ) -> StatementFetcher:
    api = fake.api(channel) if channel == "pos" else ChannelApi(
        channel, fake.url, APP_KEY, APP_SECRET, rate=1000.0)
    return StatementFetcher(api, "main", grpc_channel)


def _lines(engine: Engine) -> list[tuple[str, int, int]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(select(
            settlement_lines.c.channel_order_id, settlement_lines.c.line_no,
            settlement_lines.c.payout_cents).order_by(settlement_lines.c.line_no))]


@pytest.mark.parametrize("channel", ["taobao", "pos"])
async def test_a_day_is_fetched_once_ready_again_unchanged_and_replaced_cleanly(
        settle_app: App, fake: FakeChannels, engine: Engine, channel: str) -> None:
    with grpc.insecure_channel(settle_app.target) as grpc_channel:
        fetcher = _fetcher(fake, settle_app, channel, grpc_channel)
        assert (await asyncio.to_thread(fetcher.fetch, DAY)).outcome == NOT_READY
        fake.put_statement(channel, DAY, PAYOUTS)
        first = await asyncio.to_thread(fetcher.fetch, DAY)
        assert first.outcome == "NEW"
        rows = _lines(engine)
        assert sum(payout for _, _, payout in rows) == 9_500 + 2_000
        with engine.connect() as c:
            fetched_at = c.execute(select(settlement_files.c.fetched_at_ms)).scalar_one()
        again = await asyncio.to_thread(fetcher.fetch, DAY)
        assert (again.outcome, _lines(engine)) == ("SAME", rows)
        with engine.connect() as c:
            assert c.execute(select(settlement_files.c.fetched_at_ms)).scalar_one() == fetched_at
        # A late, corrected file: T2's payout is gone, a refund of T0 arrived.
        fake.put_statement(channel, DAY, [PAYOUTS[0], Payout("T0", refund_cents=300)])
        late = await asyncio.to_thread(fetcher.fetch, DAY)
        assert late.outcome == "SUPERSEDED"
        assert {order for order, _, _ in _lines(engine)} == {"T1", "T0"}
        assert sum(payout for _, _, payout in _lines(engine)) == 9_500 - 300


async def test_a_round_asks_for_each_due_day_and_goes_on_past_a_missing_one(
        settle_app: App, fake: FakeChannels, engine: Engine) -> None:
    fake.put_statement("jd", "2026-12-05", PAYOUTS)
    with grpc.insecure_channel(settle_app.target) as grpc_channel:
        fetcher = _fetcher(fake, settle_app, "jd", grpc_channel)
        days = due_days(1_796_608_800.0)  # 2026-12-07 10:00 China time
        assert days == ["2026-12-06", "2026-12-05", "2026-12-04"]
        assert due_days(1_796_608_800.0 - 60) == []  # 09:59: not yet
        done = await asyncio.to_thread(fetcher.round, days)
    assert [(f.day, f.outcome) for f in done] == [
        ("2026-12-06", NOT_READY), ("2026-12-05", "NEW"), ("2026-12-04", NOT_READY)]


def _request(**change: object) -> pb.ImportStatementRequest:
    line = pb.SettlementLine(line_no=2, kind=pb.SETTLEMENT_LINE_KIND_SALE,
                             channel_order_id="J1", goods_cents=1_000, fee_cents=6,
                             payout_cents=994)
    base: dict[str, object] = {"channel": "jd", "shop": "main", "settle_day": DAY,
                               "name": "f.csv", "sha256": hashlib.sha256(b"f").hexdigest(),
                               "lines": [line]}
    return pb.ImportStatementRequest(**{**base, **change})


@pytest.mark.parametrize(("change", "field"), [
    ({"lines": [pb.SettlementLine(line_no=2, kind=pb.SETTLEMENT_LINE_KIND_SALE,
                                  goods_cents=1_000, fee_cents=6, payout_cents=995)]},
     "payout_cents"),
    ({"lines": [pb.SettlementLine(line_no=2)]}, "lines[0].kind"),
    ({"settle_day": "6/12/2026"}, "settle_day"),
    ({"sha256": "not-a-digest"}, "sha256"),
    ({"channel": "amazon"}, "channel"),
])
async def test_a_bad_statement_is_refused_naming_the_field_and_nothing_is_kept(
        settle_app: App, engine: Engine, change: dict[str, object], field: str) -> None:
    async with grpc.aio.insecure_channel(settle_app.target) as channel:
        stub = pb_grpc.SettlementServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ImportStatement(_request(**change))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(refused.value) == [field]
    assert _lines(engine) == []


async def test_without_a_records_store_import_is_a_failed_precondition(
        app: App) -> None:
    async with grpc.aio.insecure_channel(app.target) as channel:
        stub = pb_grpc.SettlementServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ImportStatement(_request())
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "RESERVATION_RECORDS_URL" in (refused.value.details() or "")

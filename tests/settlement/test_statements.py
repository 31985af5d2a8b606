"""Statements into the records store, on SQLite and PostgreSQL: a repeat changes nothing,
a replaced file supersedes the earlier lines, a statement whose parts do not add up to its
payout is refused naming the line, and nothing of it is stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from reservation.errors import InvalidArgument
from reservation.records.database import open_records
from reservation.records.schema import settlement_files, settlement_lines
from reservation.settlement.lines import FEE, SALE, SettlementLine, Statement, digest_of
from reservation.settlement.statements import NEW, SAME, SUPERSEDED, store

DAY = "2026-12-06"


@pytest.fixture
def engine(records_url: str) -> Iterator[Engine]:
    made = open_records(records_url)
    yield made
    made.dispose()


def _sale(line_no: int, order: str, goods: int, fee: int) -> SettlementLine:
    return SettlementLine(line_no=line_no, kind=SALE, channel_order_id=order,
                          goods_cents=goods, fee_cents=fee, payout_cents=goods - fee)


def _statement(content: bytes, *lines: SettlementLine) -> Statement:
    return Statement(channel="jd", shop="main", settle_day=DAY, name="jd-settle.csv",
                     digest=digest_of(content), lines=lines)


def _rows(engine: Engine) -> list[tuple[int, str, int]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(
            select(settlement_lines.c.line_no, settlement_lines.c.channel_order_id,
                   settlement_lines.c.payout_cents).order_by(settlement_lines.c.line_no))]


def test_the_same_file_twice_changes_nothing(engine: Engine) -> None:
    first = _statement(b"v1", _sale(2, "JD-1", 10_000, 60))
    assert store(engine, first).outcome == NEW
    with engine.connect() as c:
        fetched = c.execute(select(settlement_files.c.fetched_at_ms)).scalar_one()
    again = store(engine, first)
    assert (again.outcome, again.version) == (SAME, 1)
    assert _rows(engine) == [(2, "JD-1", 9_940)]
    with engine.connect() as c:
        assert c.execute(select(settlement_files.c.fetched_at_ms)).scalar_one() == fetched


def test_a_replaced_file_supersedes_the_earlier_lines(engine: Engine) -> None:
    store(engine, _statement(b"v1", _sale(2, "JD-1", 10_000, 60), _sale(3, "JD-2", 500, 3)))
    late = _statement(b"v2", _sale(2, "JD-1", 10_000, 60),
                      SettlementLine(line_no=3, kind=FEE, fee_cents=120, payout_cents=-120))
    stored = store(engine, late)
    assert (stored.outcome, stored.version, stored.lines) == (SUPERSEDED, 2, 2)
    assert _rows(engine) == [(2, "JD-1", 9_940), (3, "", -120)]
    with engine.connect() as c:
        row = c.execute(select(settlement_files)).one()
    assert (row.version, row.lines, row.digest) == (2, 2, late.digest)


def test_parts_that_do_not_add_up_to_the_payout_are_refused_and_nothing_stored(
        engine: Engine) -> None:
    wrong = SettlementLine(line_no=7, kind=SALE, channel_order_id="JD-9", goods_cents=1_000,
                           fee_cents=6, payout_cents=995)
    with pytest.raises(InvalidArgument) as refused:
        store(engine, _statement(b"x", _sale(2, "JD-1", 100, 1), wrong))
    assert refused.value.field == "payout_cents"
    assert "line 7" in refused.value.description and "994" in refused.value.description
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(settlement_files)).scalar_one() == 0
    assert _rows(engine) == []


@pytest.mark.parametrize(("change", "field"), [
    ({"settle_day": "2026-12-6"}, "settle_day"), ({"shop": ""}, "shop"),
    ({"channel": "amazon"}, "channel"), ({"digest": "ABC"}, "sha256"),
])
def test_a_statement_without_its_channel_day_shop_or_digest_is_refused(
        engine: Engine, change: dict[str, str], field: str) -> None:
    base = _statement(b"x", _sale(2, "JD-1", 100, 1))
    bad = Statement(**{**base.__dict__, **change})
    with pytest.raises(InvalidArgument) as refused:
        store(engine, bad)
    assert refused.value.field == field
    assert _rows(engine) == []


def test_an_unknown_kind_or_a_line_twice_is_refused(engine: Engine) -> None:
    for lines, field in (((SettlementLine(line_no=2, kind="PAYOUT"),), "kind"),
                         ((_sale(2, "A", 1, 0), _sale(2, "B", 1, 0)), "line_no")):
        with pytest.raises(InvalidArgument) as refused:
            store(engine, _statement(b"x", *lines))
        assert refused.value.field == field
    assert _rows(engine) == []

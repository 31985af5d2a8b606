"""The day's report and hand-off on SQLite and PostgreSQL: totals per channel whose
parts add up to the payout to the cent; the XLSX opens with openpyxl with the
differences in red; the CSV's splits; vouchers in 用友 U8's and 金蝶's import columns,
each balanced; the differences listed by channel, day and class, paged; resolving one
names who and why, and a bad call is refused naming the field."""

from __future__ import annotations

import csv
from pathlib import Path

import grpc
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from reservation.clients.channels.fake_statements import Payout
from reservation.server.app import App
from reservation.settlement import exports
from reservation.settlement.differences import Filter, page
from reservation.settlement.report import day_report, splits
from reservation.v1 import settlement_service_pb2 as pb
from reservation.v1 import settlement_service_pb2_grpc as pb_grpc
from tests.helpers.errors import bad_request_fields
from tests.helpers.settlement import PRICE, import_statement, paid, settle, ship, today

# The templates' columns, as their import guides list them (not read from exports.py).
U8 = ["制单日期", "凭证类别字", "凭证号", "附单据数", "摘要", "科目编码", "借方金额", "贷方金额",
      "数量", "外币金额", "汇率", "制单人"]
KINGDEE = ["日期", "凭证字", "凭证号", "附单据数", "摘要", "科目代码", "科目名称", "借方金额",
           "贷方金额", "币别", "汇率", "数量", "单价", "制单人", "审核人", "过账人"]


async def _day(app: App, stub: object) -> Engine:
    """Three channels' statements: two matched orders, one the hub never saw, a fee
    without an order, a refund, WeChat Pay's rounding."""
    assert app.records is not None
    engine = app.records
    await paid(stub, "A1", "A2")
    await ship(stub, "A1", "SF-A1")
    await ship(stub, "A2", "SF-A2")
    await paid(stub, "W1", channel="wechat")
    await ship(stub, "W1", "SF-W1", channel="wechat")
    import_statement(engine, "jd", today(), Payout("A1", goods_cents=PRICE, fee_cents=120,
                                                   subsidy_cents=500),
                     Payout("A2", goods_cents=PRICE + 200, discount_cents=200, fee_cents=3),
                     Payout("Z9", goods_cents=777), Payout("", fee_cents=10_000))
    import_statement(engine, "pdd", today(), Payout("P7", refund_cents=1_500))
    import_statement(engine, "wechat", today(), Payout("W1", goods_cents=PRICE))
    await settle(app, today())
    return engine


async def test_totals_and_splits_add_up_to_the_payout_to_the_cent(
        settle_app: App, settle_stub) -> None:
    engine = await _day(settle_app, settle_stub)
    with engine.connect() as c:
        report = day_report(c, today())
        rows = list(splits(c, today()))
    for t in report.channels:
        assert t.payout_cents == (t.goods_cents - t.discount_cents - t.fee_cents
                                  + t.subsidy_cents - t.refund_cents)
    by_channel = {t.channel: t.payout_cents for t in report.channels}
    for channel, payout in by_channel.items():
        assert sum(s.payout_cents for s in rows if s.channel == channel) == payout
    assert by_channel["jd"] == (PRICE - 120 + 500) + (PRICE - 3) + 777 - 10_000
    assert by_channel["pdd"] == -1_500
    # WeChat Pay: 0.6 % of 19.99 is 0.11994 yuan, 12 cents.
    assert by_channel["wechat"] == PRICE - 12
    a1 = next(s for s in rows if s.order_key == "A1")
    assert (a1.goods_cents, a1.fee_cents, a1.subsidy_cents, a1.difference) == (
        PRICE, 120, 500, "")
    fee = next(s.order_key for s in rows if "#" in s.order_key)  # file#line: no order
    assert fee.startswith(f"jd:shop-1/{today()}#")
    assert {s.order_key: s.difference for s in rows if s.difference} == {
        "Z9": "MISSING_IN_HUB", "P7": "MISSING_IN_HUB", fee: "PLATFORM_FEE"}


async def test_the_xlsx_opens_with_the_differences_in_red_and_the_csv_has_every_order(
        settle_app: App, settle_stub, tmp_path: Path) -> None:
    engine = await _day(settle_app, settle_stub)
    with engine.connect() as c:
        report = day_report(c, today())
        xlsx = exports.write_xlsx(tmp_path / "r.xlsx", report, splits(c, today()),
                                  page(c, Filter(state="OPEN")))
        table = exports.write_csv(tmp_path / "r.csv", splits(c, today()))
    book = load_workbook(xlsx)
    assert book.sheetnames == ["Channels", "Orders", "Differences"]
    orders = book["Orders"]
    header = [cell.value for cell in orders[1]]
    red = {}
    for row in orders.iter_rows(min_row=2):
        values = dict(zip(header, (cell.value for cell in row), strict=True))
        red[values["order"]] = row[0].fill.fgColor.rgb == "FFFFC7CE"
        cents = {k: round(float(values[k]) * 100) for k in
                 ("goods", "discount", "fee", "subsidy", "refund", "payout")}
        assert cents["payout"] == (cents["goods"] - cents["discount"] - cents["fee"]
                                   + cents["subsidy"] - cents["refund"])
    assert red["Z9"] and red["P7"] and not red["A1"] and not red["A2"]
    differences = book["Differences"]
    assert differences.max_row == 1 + 3
    assert all(row[0].fill.fgColor.rgb == "FFFFC7CE"
               for row in differences.iter_rows(min_row=2))
    with table.open(encoding="utf-8-sig") as f:
        lines = list(csv.DictReader(f))
    assert {x["order"] for x in lines} >= {"A1", "A2", "Z9", "P7", "W1"}
    assert sum(int(x["lines"]) for x in lines) == sum(t.lines for t in report.channels)


async def test_vouchers_match_their_templates_columns_and_balance(
        settle_app: App, settle_stub, tmp_path: Path) -> None:
    engine = await _day(settle_app, settle_stub)
    with engine.connect() as c:
        report = day_report(c, today())
    u8 = exports.write_u8(tmp_path / "u8.csv", report)
    with u8.open(encoding="gbk") as f:
        rows = list(csv.reader(f))
    assert rows[0] == U8
    kingdee = load_workbook(exports.write_kingdee(tmp_path / "k.xlsx", report))["凭证"]
    k_rows = [[cell.value for cell in row] for row in kingdee.iter_rows()]
    assert k_rows[0] == KINGDEE
    for entries, debit, credit, number in ((rows[1:], 6, 7, 2), (k_rows[1:], 7, 8, 2)):
        vouchers: dict[str, list[int]] = {}
        for entry in entries:
            d_, c_ = (round(float(entry[i] or 0) * 100) for i in (debit, credit))
            assert (d_ == 0) != (c_ == 0)  # one side per entry
            v = vouchers.setdefault(str(entry[number]), [0, 0])
            v[0] += d_
            v[1] += c_
        assert len(vouchers) == len(report.channels) == 3
        assert all(d_ == c_ for d_, c_ in vouchers.values())


async def test_differences_are_listed_by_channel_day_and_class_and_paged(
        settle_app: App, settle_stub) -> None:
    await _day(settle_app, settle_stub)
    async with grpc.aio.insecure_channel(settle_app.target) as channel:
        stub = pb_grpc.SettlementServiceStub(channel)
        report = await stub.GetSettlementReport(pb.GetSettlementReportRequest(day=today()))
        assert {c.difference_class: c.count for c in report.open_by_class} == {
            "MISSING_IN_HUB": 2, "PLATFORM_FEE": 1}
        assert sorted(t.channel for t in report.totals) == ["jd", "pdd", "wechat"]
        seen, token = [], ""
        while True:
            reply = await stub.ListSettlementDifferences(pb.ListSettlementDifferencesRequest(
                day=today(), page_size=1, page_token=token))
            seen += [x.difference_id for x in reply.differences]
            token = reply.next_page_token
            if not token:
                break
        assert len(seen) == len(set(seen)) == 3 and seen == sorted(seen)
        jd = await stub.ListSettlementDifferences(pb.ListSettlementDifferencesRequest(
            channel="jd", difference_class="MISSING_IN_HUB"))
        assert [(x.order_key, x.settled_cents) for x in jd.differences] == [("Z9", 777)]


@pytest.mark.parametrize(("request_", "code", "field"), [
    (pb.ResolveDifferenceRequest(difference_id="jd:shop-1/NOPE#AMOUNT_MISMATCH",
                                 operator="li", reason="x"), grpc.StatusCode.NOT_FOUND, ""),
    (pb.ResolveDifferenceRequest(difference_id="jd:shop-1/Z9#MISSING_IN_HUB", operator="li"),
     grpc.StatusCode.INVALID_ARGUMENT, "reason"),
    (pb.ResolveDifferenceRequest(difference_id="jd:shop-1/Z9#MISSING_IN_HUB", reason="x"),
     grpc.StatusCode.INVALID_ARGUMENT, "operator"),
])
async def test_a_bad_resolve_is_refused_and_changes_nothing(
        settle_app: App, settle_stub, request_: pb.ResolveDifferenceRequest,
        code: grpc.StatusCode, field: str) -> None:
    await _day(settle_app, settle_stub)
    async with grpc.aio.insecure_channel(settle_app.target) as channel:
        stub = pb_grpc.SettlementServiceStub(channel)
        before = await stub.ListSettlementDifferences(pb.ListSettlementDifferencesRequest())
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ResolveDifference(request_)
        assert refused.value.code() == code
        if field:
            assert bad_request_fields(refused.value) == [field]
        after = await stub.ListSettlementDifferences(pb.ListSettlementDifferencesRequest())
    assert after == before


async def test_resolving_twice_is_a_failed_precondition(settle_app: App, settle_stub) -> None:
    await _day(settle_app, settle_stub)
    async with grpc.aio.insecure_channel(settle_app.target) as channel:
        stub = pb_grpc.SettlementServiceStub(channel)
        ask = pb.ResolveDifferenceRequest(difference_id="jd:shop-1/Z9#MISSING_IN_HUB",
                                          operator="li", reason="a test order of the shop")
        done = await stub.ResolveDifference(ask)
        assert (done.difference.state, done.difference.closed_by) == ("RESOLVED", "li")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ResolveDifference(ask)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(("request_", "field"), [
    (pb.ListSettlementDifferencesRequest(difference_class="LATE"), "difference_class"),
    (pb.ListSettlementDifferencesRequest(day="yesterday"), "day"),
    (pb.ListSettlementDifferencesRequest(page_size=5000), "page_size"),
    (pb.ListSettlementDifferencesRequest(page_token="%%%"), "page_token"),
    (pb.ListSettlementDifferencesRequest(state="DONE"), "state"),
])
async def test_a_bad_listing_is_refused_naming_the_field(
        settle_app: App, request_: pb.ListSettlementDifferencesRequest, field: str) -> None:
    async with grpc.aio.insecure_channel(settle_app.target) as channel:
        stub = pb_grpc.SettlementServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListSettlementDifferences(request_)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(refused.value) == [field]

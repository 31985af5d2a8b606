"""Each channel's settlement statement, as the fake channel writes it in the channel's
own shape, read back by that channel's parser: every line's parts add up to its payout,
and each order's lines to what the channel paid for it, to the cent; the noise each
channel has (fee rows, a row not yet settled, a deduction without an order, WeChat Pay's
five-decimal fees rounded per day) is read as the channel means it; a file that is not
right is refused naming the line."""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest

from reservation.clients.channels.fake_statements import Payout, render
from reservation.clients.channels.statements import CHANNELS, StatementError, parse
from reservation.clients.channels.statements.common import ADJUSTMENT, FEE, REFUND, SALE

DAY = "2026-12-06"
PAYOUTS = [
    Payout("1001", goods_cents=19_900, discount_cents=1_000, fee_cents=567, subsidy_cents=800,
           tracking_number="SF1001", hub_ref="pos:main/1001"),
    Payout("1002", goods_cents=333, fee_cents=2, tracking_number="SF1002",
           hub_ref="pos:main/1002"),
    # a refund days after the sale (the sale was on an earlier day's statement)
    Payout("0990", refund_cents=5_050, hub_ref="pos:main/0990"),
    Payout("1003", goods_cents=1_001, fee_cents=7, hub_ref="pos:main/1003"),
]
DEDUCTION = Payout("", fee_cents=20_000)  # a penalty or a monthly fee: no order


def _by_order(lines: list) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for line in lines:
        out[line.channel_order_id] += line.payout_cents
    return dict(out)


def _wechat_fee(cents: int) -> Decimal:
    return Decimal(cents) * Decimal("0.00006")  # 0.6 % of yuan, in yuan


@pytest.mark.parametrize("channel", [c for c in CHANNELS if c != "wechat"])
def test_every_order_is_paid_what_the_channel_paid_to_the_cent(channel: str) -> None:
    payouts = [*PAYOUTS, DEDUCTION] if channel in ("taobao", "jd", "pdd") else PAYOUTS
    lines = parse(channel, render(channel, DAY, payouts))
    for line in lines:
        assert line.payout_cents == (line.goods_cents - line.discount_cents - line.fee_cents
                                     + line.subsidy_cents - line.refund_cents), line
    expected = defaultdict(int)
    for p in payouts:
        expected[p.order_id] += (p.goods_cents - p.discount_cents - p.fee_cents
                                 + p.subsidy_cents - p.refund_cents)
    assert _by_order(lines) == dict(expected)
    assert {line.kind for line in lines if line.channel_order_id == "0990"} == {REFUND}
    if channel in ("taobao", "jd", "pdd"):
        assert [line.kind for line in lines if not line.channel_order_id] == [FEE]


def test_jd_rows_not_yet_settled_are_left_out_and_tracking_numbers_kept() -> None:
    lines = parse("jd", render("jd", DAY, PAYOUTS))
    assert sum(line.fee_cents for line in lines) == 567 + 2 + 7  # not the unsettled 1.00
    assert {line.tracking_number for line in lines if line.channel_order_id == "1001"} \
        == {"SF1001"}


def test_jd_splits_each_fee_item_into_its_part() -> None:
    lines = [x for x in parse("jd", render("jd", DAY, PAYOUTS)) if x.channel_order_id == "1001"]
    totals = {part: sum(getattr(x, part) for x in lines) for part in
              ("goods_cents", "discount_cents", "fee_cents", "subsidy_cents")}
    assert totals == {"goods_cents": 19_900, "discount_cents": 1_000, "fee_cents": 567,
                      "subsidy_cents": 800}
    assert {x.kind for x in lines} == {SALE, FEE}


def test_pos_lines_carry_the_hubs_id() -> None:
    lines = parse("pos", render("pos", DAY, PAYOUTS))
    assert [line.hub_ref for line in lines] == [p.hub_ref for p in PAYOUTS]


def test_wechat_fees_are_rounded_per_row_and_the_days_rounding_is_one_adjustment() -> None:
    # Fees of 0.6 %: 3 rows of 0.05550 yuan each round up to 6 cents per row (18 cents),
    # while the day's total 0.16650 rounds to 17 cents: one cent back as an ADJUSTMENT.
    payouts = [Payout(f"W{n}", goods_cents=925) for n in range(3)]
    lines = parse("wechat", render("wechat", DAY, payouts))
    rows = [line for line in lines if line.kind == SALE]
    assert [line.fee_cents for line in rows] == [6, 6, 6]
    assert [(line.kind, line.fee_cents) for line in lines if line.kind != SALE] \
        == [(ADJUSTMENT, -1)]
    day_fee = sum(_wechat_fee(925) for _ in range(3))
    settled = 3 * 925 - int((day_fee * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert sum(line.payout_cents for line in lines) == settled == 2_758


def test_wechat_refunds_give_the_fee_back() -> None:
    lines = parse("wechat", render("wechat", DAY, [Payout("W9", refund_cents=10_000)]))
    assert [(x.kind, x.refund_cents, x.fee_cents, x.payout_cents) for x in lines] \
        == [(REFUND, 10_000, -60, -9_940)]


def test_wechat_discount_is_what_the_order_cost_less_what_settles() -> None:
    (line,) = parse("wechat", render("wechat", DAY, [Payout("W1", goods_cents=10_000,
                                                            discount_cents=1_000)]))
    assert (line.goods_cents, line.discount_cents, line.fee_cents) == (10_000, 1_000, 54)


@pytest.mark.parametrize(("channel", "content", "where"), [
    ("pdd", ("\ufeff商户订单号,发生时间,收入金额（+元）,支出金额（-元）,账务类型,备注,业务描述\n"
            "P1,2026-12-06 10:00:00,1.00,0.00,红包返现,,\n"), "line 2: 账务类型: unknown"),
    ("pdd", ("\ufeff商户订单号,发生时间,收入金额（+元）,支出金额（-元）,账务类型,备注,业务描述\n"
            "P1,2026-12-06 10:00:00,1.005,0.00,交易收入,,\n"), "more than 2 decimals"),
    ("douyin", ("\ufeff结算时间,结算单类型,订单号,订单总价（元）,商家优惠（元）,平台补贴（元）,"
               "运费（元）,平台服务费（元）,佣金（元）,渠道分成（元）,退款金额（元）,"
               "结算金额（元）,运单号\n"
               "2026-12-06,已结算,D1,10.00,0,0,0,0.06,0,0,0,9.95,\n"),
     "line 2: pays 995 cents but its parts add up to 994"),
    ("jd", "\ufeff订单编号,费用项,金额,收支方向,结算状态,运单号\nJ1,货款,x,收入,已结算,\n",
     "金额: 'x' is not an amount"),
    ("wechat", ("交易时间,商户订单号,交易状态,订单金额,应结订单金额,退款金额,手续费\n"
               "`2026-12-06,`W1,`SUCCESS,`1.00,`1.00,`0,`0.00600\n"), "总交易单数"),
    ("taobao", "#支付宝账务明细查询\n", "no header line"),
])
def test_a_statement_that_is_not_right_is_refused_naming_the_line(
        channel: str, content: str, where: str) -> None:
    with pytest.raises(StatementError, match=where):
        parse(channel, content.encode("utf-8"))

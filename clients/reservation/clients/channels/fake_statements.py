"""The fake channels' settlement statements: a day's payouts rendered in each channel's
own file shape (what statements/<channel>.py reads back), for tests, the demo and the
benchmark.

A `Payout` is what the channel paid (or took back) for one order on one day, split as
the channel books it; `render(channel, day, payouts)` writes the channel's file. Each
shape keeps its own habits: Alipay's '#' preamble and totals in GBK, JD's row per fee
item (and a row not yet settled), Pinduoduo's income and expense columns, Douyin's wide
row, WeChat Pay's backticks, five-decimal fees and summary, the POS's receipt rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

WECHAT_FEE_RATE = Decimal("0.006")


@dataclass(frozen=True)
class Payout:
    order_id: str
    """The channel's order number; '' for a deduction not tied to an order."""
    goods_cents: int = 0
    discount_cents: int = 0
    fee_cents: int = 0
    subsidy_cents: int = 0
    refund_cents: int = 0
    tracking_number: str = ""
    hub_ref: str = ""
    at: str = "12:00:00"

    @property
    def payout_cents(self) -> int:
        return (self.goods_cents - self.discount_cents - self.fee_cents + self.subsidy_cents
                - self.refund_cents)


def yuan(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _csv(header: Sequence[str], rows: Sequence[Sequence[str]], pre: Sequence[str] = (),
         post: Sequence[str] = ()) -> str:
    out = io.StringIO()
    out.writelines(line + "\n" for line in pre)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    out.writelines(line + "\n" for line in post)
    return out.getvalue()


def _alipay(day: str, payouts: Sequence[Payout]) -> bytes:
    rows: list[list[str]] = []

    def row(order: str, kind: str, cents: int, p: Payout) -> None:
        n = len(rows) + 1
        income, expense = (yuan(cents), "") if cents >= 0 else ("", yuan(cents))
        rows.append([f"2026{n:012d}\t", f"{n:010d}\t", f"T200P{order}\t" if order else "\t",
                     "", f"{day} {p.at}", "buyer@example.com", income, expense, "0.00",
                     "支付宝", kind, ""])

    for p in payouts:
        if p.goods_cents:
            row(p.order_id, "交易付款", p.goods_cents - p.discount_cents + p.subsidy_cents, p)
        if p.fee_cents:
            row(p.order_id, "天猫佣金" if p.order_id else "软件服务费", -p.fee_cents, p)
        if p.refund_cents:
            row(p.order_id, "交易退款", -p.refund_cents, p)
    income = sum(Decimal(r[6] or 0) for r in rows)
    expense = sum(Decimal(r[7] or 0) for r in rows)
    text = _csv(
        ["账务流水号", "业务流水号", "商户订单号", "商品名称", "发生时间", "对方账号",
         "收入金额（+元）", "支出金额（-元）", "账户余额（元）", "交易渠道", "业务类型", "备注"],
        rows,
        pre=["#支付宝账务明细查询", "#账号：[20880000000000000156]",
             f"#起始日期：[{day} 00:00:00]   终止日期：[{day} 23:59:59]",
             ("#-----------------------------------------账务明细列表"
             "----------------------------------------")],
        post=[("#-----------------------------------------账务明细列表结束"
              "------------------------------------"),
              f"#收入合计：{sum(1 for r in rows if r[6])}笔，共{income:.2f}元",
              f"#支出合计：{sum(1 for r in rows if r[7])}笔，共{expense:.2f}元",
              f"#导出时间：[{day} 23:59:59]"])
    return text.encode("gbk")


def _jd(day: str, payouts: Sequence[Payout]) -> bytes:
    rows: list[list[str]] = []
    for p in payouts:
        items = [("货款", p.goods_cents, "收入"), ("店铺优惠", p.discount_cents, "支出"),
                 ("运费补贴", p.subsidy_cents, "收入"),
                 ("佣金" if p.order_id else "违规扣款", p.fee_cents, "支出"),
                 ("售后退款", p.refund_cents, "支出")]
        for item, cents, direction in items:
            if cents:
                rows.append([p.order_id, f"S{len(rows) + 1:09d}", "订单", "100001", "商品",
                             item, yuan(cents), direction, "已结算", f"{day} {p.at}",
                             f"{day} 23:00:00", p.tracking_number, ""])
    # Noise: a fee booked but not settled yet (no money moved: the parser skips it).
    rows.append(["", f"S{len(rows) + 1:09d}", "订单", "", "", "佣金", "1.00", "支出",
                 "未结算", f"{day} 23:30:00", "", "", ""])
    return ("\ufeff" + _csv(
        ["订单编号", "单据编号", "单据类型", "商品编号", "商品名称", "费用项", "金额",
         "收支方向", "结算状态", "费用发生时间", "费用结算时间", "运单号", "备注"],
        rows)).encode("utf-8")


def _pdd(day: str, payouts: Sequence[Payout]) -> bytes:
    rows: list[list[str]] = []
    for p in payouts:
        items = [("交易收入", p.goods_cents - p.discount_cents), ("优惠券结算", p.subsidy_cents),
                 ("技术服务费" if p.order_id else "扣款", -p.fee_cents),
                 ("退款", -p.refund_cents)]
        for kind, cents in items:
            if cents:
                income, expense = (yuan(cents), "0.00") if cents > 0 else ("0.00", yuan(cents))
                rows.append([p.order_id, f"{day} {p.at}", income, expense, kind, "", ""])
    return ("\ufeff" + _csv(["商户订单号", "发生时间", "收入金额（+元）", "支出金额（-元）",
                             "账务类型", "备注", "业务描述"], rows)).encode("utf-8")


def _douyin(day: str, payouts: Sequence[Payout]) -> bytes:
    rows: list[list[str]] = []
    for p in payouts:
        service = p.fee_cents * 6 // 10  # split over three columns: the parser sums them
        commission = p.fee_cents // 4
        share = p.fee_cents - service - commission
        kind = "退款" if p.refund_cents and not p.goods_cents else "已结算"
        rows.append([f"{day} {p.at}", kind, p.order_id, p.order_id + "1", "3500000001",
                     yuan(p.goods_cents), yuan(p.discount_cents), yuan(p.subsidy_cents), "0.00",
                     yuan(service), yuan(commission), yuan(share), yuan(p.refund_cents),
                     yuan(p.payout_cents), p.tracking_number, ""])
    return ("\ufeff" + _csv(
        ["结算时间", "结算单类型", "订单号", "子订单号", "商品ID", "订单总价（元）",
         "商家优惠（元）", "平台补贴（元）", "运费（元）", "平台服务费（元）", "佣金（元）",
         "渠道分成（元）", "退款金额（元）", "结算金额（元）", "运单号", "备注"],
        rows)).encode("utf-8")


def wechat_fee(cents: int) -> Decimal:
    """WeChat Pay's fee on an amount, to five decimals of a yuan (rounded per day)."""
    return (Decimal(cents) / 100 * WECHAT_FEE_RATE).quantize(Decimal("0.00001"))


def _wechat(day: str, payouts: Sequence[Payout]) -> bytes:
    """WeChat Pay's fee is its rate on each amount (a payout's fee_cents is not used)."""
    rows: list[list[str]] = []
    settle_total, refund_total, fee_total = 0, 0, Decimal(0)
    for n, p in enumerate(payouts):
        common = [f"{day} {p.at}", "wx2421b1c4370ec43b", "1900000109", "", "",
                  f"42000{n:023d}", p.order_id, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "JSAPI"]
        if p.goods_cents:
            settle = p.goods_cents - p.discount_cents
            fee = wechat_fee(settle)
            rows.append([*common, "SUCCESS", "OTHERS", "CNY", yuan(settle),
                         yuan(p.discount_cents), "0", "0", "0.00", "0.00", "", "", "商品", "",
                         f"{fee:.5f}", "0.60%", yuan(p.goods_cents), "0.00", ""])
            settle_total, fee_total = settle_total + settle, fee_total + fee
        if p.refund_cents:
            fee = -wechat_fee(p.refund_cents)
            rows.append([*common, "REFUND", "OTHERS", "CNY", "0.00", "0.00",
                         f"50300{n:023d}", f"R{p.order_id}", yuan(p.refund_cents), "0.00",
                         "ORIGINAL", "SUCCESS", "商品", "", f"{fee:.5f}", "0.60%", "0.00",
                         yuan(p.refund_cents), ""])
            refund_total, fee_total = refund_total + p.refund_cents, fee_total + fee
    header = ["交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号",
              "商户订单号", "用户标识", "交易类型", "交易状态", "付款银行", "货币种类",
              "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
              "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费",
              "费率", "订单金额", "申请退款金额", "费率备注"]
    out = io.StringIO()
    out.write(",".join(header) + "\n")
    for row in rows:
        out.write(",".join("`" + cell for cell in row) + "\n")
    out.write("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,"
              "申请退款总金额\n")
    out.write(",".join("`" + cell for cell in [
        str(len(rows)), yuan(settle_total), yuan(refund_total), "0.00", f"{fee_total:.5f}",
        yuan(settle_total), yuan(refund_total)]) + "\n")
    return out.getvalue().encode("utf-8")


def _pos(day: str, payouts: Sequence[Payout]) -> bytes:
    rows: list[list[str]] = []
    for p in payouts:
        kind = "退货" if p.refund_cents and not p.goods_cents else "销售"
        rows.append([p.order_id, p.hub_ref, "S001", day, kind, yuan(p.goods_cents),
                     yuan(p.discount_cents), yuan(p.fee_cents), yuan(p.subsidy_cents),
                     yuan(p.refund_cents), yuan(p.payout_cents)])
    return ("\ufeff" + _csv(["小票号", "中台单号", "门店编号", "营业日期", "类型", "销售金额",
                             "优惠金额", "手续费", "商场补贴", "退款金额", "结算金额"],
                            rows)).encode("utf-8")


RENDERERS: dict[str, Callable[[str, Sequence[Payout]], bytes]] = {
    "taobao": _alipay, "jd": _jd, "pdd": _pdd, "douyin": _douyin, "wechat": _wechat,
    "pos": _pos,
}


def render(channel: str, day: str, payouts: Sequence[Payout]) -> bytes:
    return RENDERERS[channel](day, payouts)

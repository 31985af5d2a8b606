"""Pinduoduo: the payout detail (货款明细 / 账务明细), a CSV.

One row per movement: the order's income (交易收入), a platform coupon settled to the
shop (优惠券结算), a refund, the technical service fee, a Duoduo Jinbao commission, a
deduction; in 收入金额（+元） or 支出金额（-元）, the order in 商户订单号.
"""

from __future__ import annotations

from reservation.clients.channels.statements import common as c

NAME = "pdd"
HEADER = "商户订单号"
COLUMNS = {"order": "商户订单号", "income": "收入金额（+元）", "expense": "支出金额（-元）",
           "type": "账务类型"}
KINDS: dict[str, tuple[str, str]] = {
    "交易收入": (c.SALE, "goods_cents"),
    "优惠券结算": (c.SALE, "subsidy_cents"),
    "退款": (c.REFUND, "refund_cents"),
    "技术服务费": (c.FEE, "fee_cents"),
    "多多进宝佣金": (c.FEE, "fee_cents"),
    "扣款": (c.FEE, "fee_cents"),
}


def parse(content: bytes) -> list[c.StatementLine]:
    text = c.decode(NAME, content, ("utf-8-sig", "gbk"))
    lines = []
    for row in c.csv_rows(NAME, text, HEADER):
        kind, part = c.kind_of(NAME, row, COLUMNS["type"], KINDS)
        signed = c.net(NAME, row, COLUMNS["income"], COLUMNS["expense"])
        lines.append(c.one_part(NAME, row, kind, part, signed,
                                order=row.get(NAME, COLUMNS["order"])))
    return lines

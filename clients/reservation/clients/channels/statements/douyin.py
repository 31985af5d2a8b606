"""Douyin shop: the settlement bill (结算账单), a CSV with one row per settled order.

Unlike the others, a row carries the whole split: the order's total, the shop's
discount, the platform's subsidy, the shipping paid, the platform service fee, the
commission and the channel's share, a refund, and the amount settled. The parser sums
the columns of each part and checks the split against 结算金额（元）.
"""

from __future__ import annotations

from reservation.clients.channels.statements import common as c

NAME = "douyin"
HEADER = "结算时间"
COLUMNS = {"order": "订单号", "type": "结算单类型", "payout": "结算金额（元）",
           "tracking": "运单号"}
KINDS: dict[str, tuple[str, str]] = {
    "已结算": (c.SALE, "goods_cents"),
    "退款": (c.REFUND, "refund_cents"),
}
# Each part of the canonical line: the columns that add up to it.
PARTS: dict[str, tuple[str, ...]] = {
    "goods_cents": ("订单总价（元）",),
    "discount_cents": ("商家优惠（元）",),
    "subsidy_cents": ("平台补贴（元）", "运费（元）"),
    "fee_cents": ("平台服务费（元）", "佣金（元）", "渠道分成（元）"),
    "refund_cents": ("退款金额（元）",),
}


def parse(content: bytes) -> list[c.StatementLine]:
    text = c.decode(NAME, content, ("utf-8-sig",))
    lines = []
    for row in c.csv_rows(NAME, text, HEADER):
        kind, _ = c.kind_of(NAME, row, COLUMNS["type"], KINDS)
        parts = {part: sum(abs(c.amount(NAME, row, col)) for col in cols)
                 for part, cols in PARTS.items()}
        lines.append(c.split_line(
            NAME, row.line_no, kind, parts, c.amount(NAME, row, COLUMNS["payout"]),
            order=row.get(NAME, COLUMNS["order"]),
            tracking=row.get(NAME, COLUMNS["tracking"])))
    return lines

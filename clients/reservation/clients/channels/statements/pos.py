"""The store POS: the daily takings file (日结单), a CSV per store and day.

One row per receipt: the POS order number (the order's id in the hub, as the POS
adapter syncs it), the hub's id of the order when the POS knows it, the sale, the
discount given, the card or wallet fee, a mall's coupon subsidy, a refund, and the amount banked.
"""

from __future__ import annotations

from reservation.clients.channels.statements import common as c

NAME = "pos"
HEADER = "小票号"
COLUMNS = {"order": "小票号", "hub_ref": "中台单号", "type": "类型", "payout": "结算金额"}
KINDS: dict[str, tuple[str, str]] = {
    "销售": (c.SALE, "goods_cents"),
    "退货": (c.REFUND, "refund_cents"),
}
PARTS: dict[str, str] = {
    "goods_cents": "销售金额", "discount_cents": "优惠金额", "fee_cents": "手续费",
    "subsidy_cents": "商场补贴", "refund_cents": "退款金额",
}


def parse(content: bytes) -> list[c.StatementLine]:
    text = c.decode(NAME, content, ("utf-8-sig", "gbk"))
    lines = []
    for row in c.csv_rows(NAME, text, HEADER):
        kind, _ = c.kind_of(NAME, row, COLUMNS["type"], KINDS)
        parts = {part: abs(c.amount(NAME, row, col)) for part, col in PARTS.items()}
        lines.append(c.split_line(
            NAME, row.line_no, kind, parts, c.amount(NAME, row, COLUMNS["payout"]),
            order=row.get(NAME, COLUMNS["order"]), hub_ref=row.get(NAME, COLUMNS["hub_ref"])))
    return lines

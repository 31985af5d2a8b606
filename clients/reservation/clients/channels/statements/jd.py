"""JD (POP): the settlement detail (结算单明细), a CSV (UTF-8 with a BOM).

One row per fee item of an order: its goods payment (货款), the shop's discount, the
commission, JD Pay's fee, a shipping subsidy, an after-sale refund; each with its
amount and its direction (收入 / 支出). Deductions not tied to an order (a penalty) have
an empty 订单编号. Rows whose 结算状态 is not 已结算 have not moved money yet and are
left out.
"""

from __future__ import annotations

from reservation.clients.channels.statements import common as c

NAME = "jd"
HEADER = "订单编号"
COLUMNS = {"order": "订单编号", "item": "费用项", "amount": "金额", "direction": "收支方向",
           "state": "结算状态", "tracking": "运单号"}
SETTLED = "已结算"
DIRECTION = {"收入": 1, "支出": -1}
# 费用项 -> (canonical kind, the part its amount is)
KINDS: dict[str, tuple[str, str]] = {
    "货款": (c.SALE, "goods_cents"),
    "店铺优惠": (c.SALE, "discount_cents"),
    "运费补贴": (c.SALE, "subsidy_cents"),
    "佣金": (c.FEE, "fee_cents"),
    "京东支付服务费": (c.FEE, "fee_cents"),
    "广告联合活动降扣佣金": (c.FEE, "fee_cents"),
    "违规扣款": (c.FEE, "fee_cents"),
    "售后退款": (c.REFUND, "refund_cents"),
}


def parse(content: bytes) -> list[c.StatementLine]:
    text = c.decode(NAME, content, ("utf-8-sig",))
    lines = []
    for row in c.csv_rows(NAME, text, HEADER):
        if row.get(NAME, COLUMNS["state"]) != SETTLED:
            continue
        kind, part = c.kind_of(NAME, row, COLUMNS["item"], KINDS)
        direction = row.get(NAME, COLUMNS["direction"])
        if direction not in DIRECTION:
            raise c.StatementError(NAME, row.line_no,
                                   f"{COLUMNS['direction']}: {direction!r} is not 收入 or 支出")
        signed = DIRECTION[direction] * abs(c.amount(NAME, row, COLUMNS["amount"]))
        lines.append(c.one_part(NAME, row, kind, part, signed,
                                order=row.get(NAME, COLUMNS["order"]),
                                tracking=row.get(NAME, COLUMNS["tracking"])))
    return lines

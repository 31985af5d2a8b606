"""Taobao / Tmall settle through Alipay: the account statement (账务明细), a CSV in GBK.

The file opens with '#' lines (the account, the period), then a header, one row per
movement of the account, and '#' lines with the totals. Each order's payout, refund and
each fee billed on it (commission, Taobaoke, Huabei) are rows of their own; the order is
in 商户订单号 as 'T200P' + the trade id (tid). A fee with no order (a monthly software
fee) has an empty 商户订单号.
"""

from __future__ import annotations

from reservation.clients.channels.statements import common as c

NAME = "taobao"
HEADER = "账务流水号"
COLUMNS = {"order": "商户订单号", "income": "收入金额（+元）", "expense": "支出金额（-元）",
           "type": "业务类型"}
# 业务类型 -> (canonical kind, the part its amount is)
KINDS: dict[str, tuple[str, str]] = {
    "在线支付": (c.SALE, "goods_cents"),
    "交易付款": (c.SALE, "goods_cents"),
    "交易退款": (c.REFUND, "refund_cents"),
    "服务费": (c.FEE, "fee_cents"),
    "天猫佣金": (c.FEE, "fee_cents"),
    "淘宝客佣金": (c.FEE, "fee_cents"),
    "花呗服务费": (c.FEE, "fee_cents"),
    "软件服务费": (c.FEE, "fee_cents"),
    "保证金扣款": (c.FEE, "fee_cents"),
}
ORDER_PREFIX = "T200P"
"""How Taobao writes a trade's id into Alipay's merchant order number."""


def parse(content: bytes) -> list[c.StatementLine]:
    text = c.decode(NAME, content, ("gbk", "utf-8-sig"))
    lines = []
    for row in c.csv_rows(NAME, text, HEADER, stop=lambda cells: cells[0].startswith("#")):
        kind, part = c.kind_of(NAME, row, COLUMNS["type"], KINDS)
        amount = c.net(NAME, row, COLUMNS["income"], COLUMNS["expense"])
        order = row.get(NAME, COLUMNS["order"]).removeprefix(ORDER_PREFIX)
        lines.append(c.one_part(NAME, row, kind, part, amount, order=order))
    return lines

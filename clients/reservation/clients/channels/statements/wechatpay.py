"""WeChat Pay: the daily transaction bill (交易账单, bill_type ALL), a CSV.

A header, one row per payment or refund, every cell prefixed with a backtick (so Excel
keeps long numbers whole), then a summary header (总交易单数, ...) and its one row. A
payment's row has the order amount, the amount to settle (less the shop's own coupons),
and the fee to five decimals; a refund's row the amount refunded and the fee given back
(negative). The order is the merchant order number (商户订单号).

Rounding: the fee is settled per day, rounded once, while each row's fee is rounded
here to the cent; the difference between the two (a cent or two) becomes one ADJUSTMENT
line on the summary's line, so the day's lines add up to what WeChat Pay settles.
"""

from __future__ import annotations

from reservation.clients.channels.statements import common as c

NAME = "wechat"
HEADER = "交易时间"
SUMMARY = "总交易单数"
COLUMNS = {"order": "商户订单号", "state": "交易状态", "ordered": "订单金额",
           "settle": "应结订单金额", "refund": "退款金额", "fee": "手续费",
           "fee_total": "手续费总金额"}
FEE_PLACES = 5
KINDS: dict[str, tuple[str, str]] = {
    "SUCCESS": (c.SALE, "goods_cents"),
    "REFUND": (c.REFUND, "refund_cents"),
}


def parse(content: bytes) -> list[c.StatementLine]:
    text = c.decode(NAME, content, ("utf-8-sig", "gbk"))
    lines = []
    for row in c.csv_rows(NAME, text, HEADER, stop=lambda cells: cells[0] == SUMMARY):
        kind, _ = c.kind_of(NAME, row, COLUMNS["state"], KINDS)
        fee = c.amount(NAME, row, COLUMNS["fee"], FEE_PLACES)
        order = row.get(NAME, COLUMNS["order"])
        if kind == c.SALE:
            ordered = c.amount(NAME, row, COLUMNS["ordered"])
            settle = c.amount(NAME, row, COLUMNS["settle"])
            line = c.StatementLine(line_no=row.line_no, kind=kind, channel_order_id=order,
                                   goods_cents=ordered, discount_cents=ordered - settle,
                                   fee_cents=fee)
        else:
            line = c.StatementLine(line_no=row.line_no, kind=kind, channel_order_id=order,
                                   refund_cents=abs(c.amount(NAME, row, COLUMNS["refund"])),
                                   fee_cents=fee)
        lines.append(c.with_payout(line))
    return lines + _rounding(text, lines)


def _rounding(text: str, lines: list[c.StatementLine]) -> list[c.StatementLine]:
    """The day's fee as WeChat Pay settles it (the summary's total, rounded once) less
    the rows' fees rounded each: an ADJUSTMENT line when they differ."""
    summary = next(c.csv_rows(NAME, text, SUMMARY), None)
    if summary is None:
        raise c.StatementError(NAME, 0, f"no summary row after {SUMMARY!r}")
    total = c.amount(NAME, summary, COLUMNS["fee_total"], FEE_PLACES)
    difference = total - sum(line.fee_cents for line in lines)
    if difference == 0:
        return []
    return [c.with_payout(c.StatementLine(line_no=summary.line_no, kind=c.ADJUSTMENT,
                                          fee_cents=difference))]

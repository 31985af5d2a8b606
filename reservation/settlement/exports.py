"""The day's settlement for finance: an XLSX report (the differences' cells red), a CSV
of every order's split, and vouchers in the import formats of 用友 (Yonyou) U8 and 金蝶
(Kingdee) KIS / K/3.

The voucher templates followed:
- 用友 U8 (V10.1 and later), 总账工具 "凭证引入" text file: one row per entry, comma
  separated; [制单日期 + 凭证类别字 + 凭证号] identifies a voucher, its entries in
  consecutive rows; exactly one of the debit and credit amounts is non-zero.
- 金蝶 KIS 标准版 / K/3 WISE "引入凭证" Excel template: one row per entry under a header
  row, 日期 凭证字 凭证号 附单据数 摘要 科目代码 科目名称 借方金额 贷方金额 币别 汇率
  数量 单价 制单人 审核人 过账人.

One voucher per channel and shop and day, balanced: the payout received and the fees
paid (and refunds, which reduce revenue) on the debit side; the goods sold less the
shop's discount, and the subsidies, on the credit side. The accounts are data
(ACCOUNTS, codes of the Chinese accounting standards' chart), to be mapped to a
company's own chart before import.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from reservation.settlement.differences import Difference
from reservation.settlement.report import ChannelTotal, DayReport, Split

CENT = Decimal("0.01")
RED = PatternFill(start_color="FFFFC7CE", end_color="FFFFC7CE", fill_type="solid")
RED_FONT = Font(color="FF9C0006")
BOLD = Font(bold=True)

U8_COLUMNS = ("制单日期", "凭证类别字", "凭证号", "附单据数", "摘要", "科目编码", "借方金额",
              "贷方金额", "数量", "外币金额", "汇率", "制单人")
KINGDEE_COLUMNS = ("日期", "凭证字", "凭证号", "附单据数", "摘要", "科目代码", "科目名称",
                   "借方金额", "贷方金额", "币别", "汇率", "数量", "单价", "制单人", "审核人",
                   "过账人")
# Entry -> (account code, account name, side): the payout, fees and refunds are debits.
ACCOUNTS: dict[str, tuple[str, str, str]] = {
    "payout_cents": ("1012.01", "其他货币资金-平台账户", "debit"),
    "fee_cents": ("6601.01", "销售费用-平台服务费", "debit"),
    "refund_cents": ("6001", "主营业务收入", "debit"),
    "sold_cents": ("1122", "应收账款", "credit"),
    "subsidy_cents": ("6051", "其他业务收入", "credit"),
}
MAKER = "settlement"
VOUCHER_KIND = "记"

SPLIT_COLUMNS = ("channel", "shop", "order", "hub order", "lines", "goods", "discount",
                 "fee", "subsidy", "refund", "payout", "difference")
DIFFERENCE_COLUMNS = ("difference", "class", "channel", "shop", "order", "hub order",
                      "day found", "hub", "settled", "state", "detail", "closed by",
                      "reason")


def yuan(cents: int) -> Decimal:
    """Exact yuan for a spreadsheet or a voucher (Decimal: never a float)."""
    return (Decimal(cents) / 100).quantize(CENT)


@dataclass(frozen=True)
class Entry:
    summary: str
    code: str
    name: str
    debit_cents: int
    credit_cents: int


def voucher(t: ChannelTotal, day: str) -> list[Entry]:
    """The day's entries of one channel and shop; debits equal credits to the cent."""
    amounts = {"payout_cents": t.payout_cents, "fee_cents": t.fee_cents,
               "refund_cents": t.refund_cents,
               "sold_cents": t.goods_cents - t.discount_cents,
               "subsidy_cents": t.subsidy_cents}
    summary = f"{t.channel} {t.shop} {day} 平台结算"
    entries = []
    for part, cents in amounts.items():
        if cents:
            code, name, side = ACCOUNTS[part]
            debit = side == "debit"
            entries.append(Entry(summary, code, name, cents if debit else 0,
                                 0 if debit else cents))
    return entries


def _split_row(s: Split) -> list[object]:
    return [s.channel, s.shop, s.order_key, s.hub_ref, s.lines, yuan(s.goods_cents),
            yuan(s.discount_cents), yuan(s.fee_cents), yuan(s.subsidy_cents),
            yuan(s.refund_cents), yuan(s.payout_cents), s.difference]


def _difference_row(x: Difference) -> list[object]:
    return [x.diff_id, x.cls, x.channel, x.shop, x.order_key, x.hub_ref, x.settle_day,
            yuan(x.hub_cents), yuan(x.settled_cents), x.state, x.detail, x.closed_by,
            x.reason]


def write_xlsx(path: Path, report: DayReport, splits: Iterable[Split],
               differences: Iterable[Difference]) -> Path:
    """Three sheets: the channels' totals, every order's split (a row with a difference
    in red), and the differences (open ones red). Written row by row (openpyxl's
    write-only mode), so a day of any size fits in memory."""
    book = Workbook(write_only=True)

    def sheet(title: str, header: Sequence[str]):  # type: ignore[no-untyped-def]
        ws = book.create_sheet(title)
        ws.append([_cell(ws, h, font=BOLD) for h in header])
        return ws

    totals = sheet("Channels", ("channel", "shop", "lines", "goods", "discount", "fee",
                                "subsidy", "refund", "payout"))
    for t in report.channels:
        totals.append([t.channel, t.shop, t.lines, *(yuan(getattr(t, p)) for p in (
            "goods_cents", "discount_cents", "fee_cents", "subsidy_cents", "refund_cents",
            "payout_cents"))])
    orders = sheet("Orders", SPLIT_COLUMNS)
    for s in splits:
        orders.append(_row(orders, _split_row(s), red=bool(s.difference)))
    found = sheet("Differences", DIFFERENCE_COLUMNS)
    for x in differences:
        found.append(_row(found, _difference_row(x), red=x.state == "OPEN"))
    book.save(path)
    return path


def _cell(ws: object, value: object, font: Font | None = None,
          fill: PatternFill | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)  # type: ignore[arg-type]
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    return cell


def _row(ws: object, values: list[object], red: bool) -> list[object]:
    if not red:
        return values
    return [_cell(ws, v, font=RED_FONT, fill=RED) for v in values]


def write_csv(path: Path, splits: Iterable[Split]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as f:  # BOM: Excel reads UTF-8
        w = csv.writer(f)
        w.writerow(SPLIT_COLUMNS)
        w.writerows(_split_row(s) for s in splits)
    return path


def _vouchers(report: DayReport) -> Iterable[tuple[int, Entry]]:
    for number, t in enumerate(report.channels, start=1):
        for entry in voucher(t, report.day):
            yield number, entry


def write_u8(path: Path, report: DayReport) -> Path:
    """用友 U8 凭证引入 text, GBK (what U8's import reads), a header row first."""
    with path.open("w", newline="", encoding="gbk") as f:
        w = csv.writer(f)
        w.writerow(U8_COLUMNS)
        for number, e in _vouchers(report):
            w.writerow([report.day, VOUCHER_KIND, number, 0, e.summary, e.code,
                        yuan(e.debit_cents), yuan(e.credit_cents), "", "", "", MAKER])
    return path


def write_kingdee(path: Path, report: DayReport) -> Path:
    """金蝶 引入凭证 Excel: the template's header row, one row per entry."""
    book = Workbook(write_only=True)
    ws = book.create_sheet("凭证")
    ws.append(list(KINGDEE_COLUMNS))
    for number, e in _vouchers(report):
        ws.append([report.day, VOUCHER_KIND, number, 0, e.summary, e.code, e.name,
                   yuan(e.debit_cents), yuan(e.credit_cents), "RMB", 1, None, None, MAKER,
                   None, None])
    book.save(path)
    return path

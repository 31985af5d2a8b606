"""What the statement parsers share: the canonical line, exact amounts, CSV rows with
the lines they came from, and the mapping of a channel's line types."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

SALE, REFUND, FEE, ADJUSTMENT = "SALE", "REFUND", "FEE", "ADJUSTMENT"
PARTS = ("goods_cents", "discount_cents", "fee_cents", "subsidy_cents", "refund_cents")
# How each part counts towards the payout.
SIGN = {"goods_cents": 1, "discount_cents": -1, "fee_cents": -1, "subsidy_cents": 1,
        "refund_cents": -1}


class StatementError(ValueError):
    """A statement that cannot be read as it is: refused whole, naming where."""

    def __init__(self, channel: str, line_no: int, message: str) -> None:
        super().__init__(f"{channel} statement line {line_no}: {message}")
        self.channel, self.line_no = channel, line_no


@dataclass(frozen=True)
class StatementLine:
    """One line of a channel's statement in the service's canonical shape (the
    SettlementLine message of SettlementService.ImportStatement)."""

    line_no: int
    kind: str
    channel_order_id: str = ""
    hub_ref: str = ""
    tracking_number: str = ""
    goods_cents: int = 0
    discount_cents: int = 0
    fee_cents: int = 0
    subsidy_cents: int = 0
    refund_cents: int = 0
    payout_cents: int = 0

    def parts_total(self) -> int:
        return sum(SIGN[p] * getattr(self, p) for p in PARTS)


def with_payout(line: StatementLine) -> StatementLine:
    """The line with its payout as its parts say (a channel without a payout column)."""
    return replace(line, payout_cents=line.parts_total())


def checked(channel: str, line: StatementLine) -> StatementLine:
    if line.parts_total() != line.payout_cents:
        raise StatementError(channel, line.line_no,
                             f"pays {line.payout_cents} cents but its parts add up to "
                             f"{line.parts_total()}")
    return line


def cents(channel: str, line_no: int, field: str, text: str, places: int = 2) -> int:
    """Yuan as written ('1,234.50', '-3', '¥12.3') to integer cents, exactly. `places`:
    the most decimals the channel writes there; past 2 they are rounded half up to the
    cent (WeChat Pay's fee has 5), which is where a statement's rounding lives."""
    raw = text.strip().lstrip("`").replace(",", "").replace("¥", "").strip()
    if raw in ("", "-"):
        return 0
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise StatementError(channel, line_no, f"{field}: {text!r} is not an amount") from None
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent > places:
        raise StatementError(channel, line_no,
                             f"{field}: {text!r} has more than {places} decimals")
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Row:
    """A data row of a CSV statement by its header's names, with its line in the file."""

    line_no: int
    values: Mapping[str, str]

    def get(self, channel: str, column: str) -> str:
        if column not in self.values:
            raise StatementError(channel, self.line_no, f"no column {column!r}")
        return (self.values[column] or "").strip().lstrip("`").strip()


def csv_rows(channel: str, text: str, header_first: str,
             stop: Callable[[list[str]], bool] = lambda _: False) -> Iterator[Row]:
    """The rows after the header line whose first cell is `header_first` (the lines
    before it are the file's preamble), up to a line `stop` says ends the detail (its
    summary). Cells are stripped of Excel-guarding backticks and tab padding."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    for cells in reader:
        line_no = reader.line_num
        cells = [c.strip().lstrip("`").strip() for c in cells]
        if header is None:
            if cells and cells[0] == header_first:
                header = cells
            continue
        if stop(cells):
            return
        if not any(cells):
            continue
        yield Row(line_no, dict(zip(header, cells, strict=False)))
    if header is None:
        raise StatementError(channel, 0, f"no header line starting {header_first!r}")


def decode(channel: str, content: bytes, encodings: Sequence[str]) -> str:
    """The file's text in the first encoding that reads it (Alipay's are GBK)."""
    for encoding in encodings:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise StatementError(channel, 0, f"not text in {', '.join(encodings)}")


def kind_of(channel: str, row: Row, column: str, kinds: Mapping[str, tuple[str, str]]
            ) -> tuple[str, str]:
    """(canonical kind, the part its amount goes to) for a row's line type."""
    text = row.get(channel, column)
    if text not in kinds:
        raise StatementError(channel, row.line_no,
                             f"{column}: unknown line type {text!r} (known: "
                             f"{', '.join(sorted(kinds))})")
    return kinds[text]


def amount(channel: str, row: Row, column: str, places: int = 2) -> int:
    return cents(channel, row.line_no, column, row.get(channel, column), places)


def net(channel: str, row: Row, income: str, expense: str) -> int:
    """Income less expense, in the payout's direction (an expense column is written with
    or without its minus sign, depending on the export)."""
    return amount(channel, row, income) - abs(amount(channel, row, expense))


def split_line(channel: str, line_no: int, kind: str, parts: Mapping[str, int],
               payout: int, order: str = "", hub_ref: str = "",
               tracking: str = "") -> StatementLine:
    """A line from its parts (missing ones 0), checked against its payout."""
    return checked(channel, StatementLine(
        line_no=line_no, kind=kind, channel_order_id=order, hub_ref=hub_ref,
        tracking_number=tracking, goods_cents=parts.get("goods_cents", 0),
        discount_cents=parts.get("discount_cents", 0), fee_cents=parts.get("fee_cents", 0),
        subsidy_cents=parts.get("subsidy_cents", 0),
        refund_cents=parts.get("refund_cents", 0), payout_cents=payout))


def one_part(channel: str, row: Row, kind: str, part: str, signed: int,
             order: str = "", tracking: str = "") -> StatementLine:
    """A line whose whole amount (`signed`, in the payout's direction) is one part."""
    return split_line(channel, row.line_no, kind, {part: SIGN[part] * signed}, signed,
                      order=order, tracking=tracking)

"""The canonical settlement line: what every channel's statement line becomes.

A channel's parser (in the clients' distribution, beside its adapter) maps its own
columns to these fields; the service never reads a channel's shape. Money is integer
cents: a statement's yuan amounts are parsed as Decimal and converted exactly, so a
rounding in the channel's own file shows as the cent it is, never as a float's noise.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta, timezone

from reservation.errors import InvalidArgument
from reservation.ordersync.model import CHANNELS

SALE, REFUND, FEE, ADJUSTMENT = "SALE", "REFUND", "FEE", "ADJUSTMENT"
KINDS = frozenset({SALE, REFUND, FEE, ADJUSTMENT})
"""SALE: a payout for goods; REFUND: money back to a buyer; FEE: a deduction that is not
for goods (a service fee billed on its own line, a penalty); ADJUSTMENT: anything else the
channel moves (a compensation, a correction)."""

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CST = timezone(timedelta(hours=8))
"""The channels settle in China time: a settlement day is a day there."""
SHA256 = re.compile(r"^[0-9a-f]{64}$")



@dataclass(frozen=True)
class SettlementLine:
    """One line of a statement, split into its parts.

    payout = goods - discount - fee + subsidy - refund, to the cent (`check`)."""

    line_no: int
    """The line in the source file (1 = its first line), so a difference names it."""
    kind: str
    channel_order_id: str = ""
    hub_ref: str = ""
    """The hub's id of the order when the file carries it (a store POS's does)."""
    tracking_number: str = ""
    goods_cents: int = 0
    discount_cents: int = 0
    fee_cents: int = 0
    subsidy_cents: int = 0
    refund_cents: int = 0
    payout_cents: int = 0

    def split_total(self) -> int:
        return (self.goods_cents - self.discount_cents - self.fee_cents + self.subsidy_cents
                - self.refund_cents)


@dataclass(frozen=True)
class Statement:
    """One channel's statement for one shop and one settlement day."""

    channel: str
    shop: str
    settle_day: str
    name: str
    """The file's name at the channel (for people: reports name it)."""
    digest: str
    """SHA-256 of the file's bytes (hex): tells a replaced file from a repeat."""
    lines: Sequence[SettlementLine] = ()

    @property
    def file_id(self) -> str:
        return f"{self.channel}:{self.shop}/{self.settle_day}"


def digest_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def check(statement: Statement) -> None:
    """Refuse a statement that cannot be stored as it is, naming the field and the line."""
    if statement.channel not in CHANNELS:
        raise InvalidArgument("channel", f"{statement.channel!r} is not one of "
                                         f"{sorted(CHANNELS)}")
    if not statement.shop:
        raise InvalidArgument("shop", "required")
    if not SHA256.match(statement.digest):
        raise InvalidArgument("sha256", "64 lower-case hex digits (the file's SHA-256)")
    if not DAY.match(statement.settle_day):
        raise InvalidArgument("settle_day", f"{statement.settle_day!r} is not YYYY-MM-DD")
    seen: set[int] = set()
    for line in statement.lines:
        where = f"{statement.name} line {line.line_no}"
        if line.line_no in seen:
            raise InvalidArgument("line_no", f"{where} appears twice")
        seen.add(line.line_no)
        if line.kind not in KINDS:
            raise InvalidArgument("kind", f"{where} has {line.kind!r}, not one of "
                                          f"{sorted(KINDS)}")
        if line.split_total() != line.payout_cents:
            raise InvalidArgument(
                "payout_cents", f"{where} pays {line.payout_cents} but its parts add up to "
                f"{line.split_total()}")

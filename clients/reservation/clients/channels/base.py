"""What every channel adapter shares: the canonical order it maps to, the one interface
its module fills in, and the errors it may raise.

An adapter is thin: a mapping table (the channel's fields and status codes to the
service's canonical order and states) plus three small functions behind `Adapter`:

    fetch(api, window, page_token) -> Page      one page of raw orders modified in a window
    to_order(raw, shop) -> CanonicalOrder       one raw order mapped, nothing decided
    refunds(api, raw) -> [RefundReason]         an order in refund: the channel's reasons
    push(api, Push) -> None                     a tracking number back to the channel
    push_stock(api, [ItemPush]) -> Outcome      listings' quantities (stock.py), if any

No business rule lives here: the hub decides what a state means for stock, review and
shipping. An unknown status is `UnknownStatus` naming the channel, the field and the
value, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from reservation.clients.channels.http import ChannelApi
    from reservation.clients.channels.stock import ItemPush, Outcome

# The hub's canonical states an adapter may report (the hub adds ROUTED, ALLOCATED,
# PRINTED itself). A mapping table naming anything else fails its module's test.
PENDING_PAYMENT = "PENDING_PAYMENT"
PAID = "PAID"
ON_HOLD = "ON_HOLD"
SHIPPED = "SHIPPED"
DELIVERED = "DELIVERED"
CANCELLED = "CANCELLED"
REFUND_REQUESTED = "REFUND_REQUESTED"
REFUNDED = "REFUNDED"
CHANNEL_STATES = frozenset({PENDING_PAYMENT, PAID, ON_HOLD, SHIPPED, DELIVERED, CANCELLED,
                            REFUND_REQUESTED, REFUNDED})

# Every channel here stamps times in China Standard Time (no daylight saving).
CST = timezone(timedelta(hours=8))


class ChannelError(Exception):
    """The channel answered with an error (rate limit, timeout, bad signature, ...).
    `auth`: the channel refused the app's or the shop's credentials: nothing will pass
    until they are renewed, so callers keep their work and say so."""

    def __init__(self, channel: str, code: str, message: str, retryable: bool = True,
                 auth: bool = False) -> None:
        super().__init__(f"{channel}: error {code}: {message}")
        self.channel, self.code, self.retryable, self.auth = channel, code, retryable, auth


class MappingError(ValueError):
    """A raw order that cannot be mapped: refused, never guessed."""

    def __init__(self, channel: str, order_id: str, message: str) -> None:
        super().__init__(f"{channel} order {order_id or '?'}: {message}")
        self.channel, self.order_id = channel, order_id


class UnknownStatus(MappingError):
    """A status value the channel's table does not list."""

    def __init__(self, channel: str, order_id: str, field_name: str, value: object) -> None:
        super().__init__(channel, order_id, f"unknown {field_name} {value!r}")
        self.field, self.value = field_name, value


@dataclass(frozen=True)
class Address:
    province: str = ""
    city: str = ""
    district: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int
    price_cents: int = 0


@dataclass(frozen=True)
class RefundReason:
    """Why the buyer sent one SKU back, in the channel's words (its after-sales API)."""

    sku: str
    code: str
    """The channel's reason code, or its reason text where it has no codes: the key of
    the adapter's REASONS table."""
    words: str = ""
    """The buyer's own words, when the channel gives them (else the reason's text)."""
    level1: str = ""
    level2: str = ""
    """The hub's taxonomy reason the adapter's table maps `code` to; empty: the table
    does not list it, left for service staff."""


@dataclass(frozen=True)
class CanonicalOrder:
    """One order in the hub's canonical model (what SyncOrders takes), as mapped."""

    channel: str
    shop: str
    order_id: str
    state: str
    raw_status: str
    """The channel's own status value(s), for the audit trail (e.g. 'LOCKED',
    'order_status=1 refund_status=3')."""
    modified_at_ms: int
    created_at_ms: int
    paid_at_ms: int
    receiver_phone: str
    address: Address
    lines: tuple[Line, ...]
    total_cents: int = 0
    paid_cents: int = 0
    refund_reasons: tuple[RefundReason, ...] = ()
    """Filled by the poller for an order in refund (Adapter.refunds), mapped."""


@dataclass(frozen=True)
class Window:
    """Orders modified in [start_ms, end_ms)."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Page:
    orders: list[dict[str, Any]]
    next_token: str | None = None
    """Token for the next page of the same window; None on the last page."""


@dataclass(frozen=True)
class Push:
    """A shipment to tell the channel about."""

    shop: str
    order_id: str
    carrier: str
    tracking_number: str
    skus: tuple[str, ...] = ()


@dataclass(frozen=True)
class Adapter:
    """One channel: its name, its tables and its three functions."""

    name: str
    """The hub's channel code (taobao, jd, pdd, douyin, wechat, pos)."""
    status_table: Mapping[Any, str]
    field_table: Mapping[str, str]
    """Canonical field -> the channel's field (documentation and tests; to_order uses it)."""
    to_order: Callable[[dict[str, Any], str], CanonicalOrder]
    fetch: Callable[[ChannelApi, Window, str | None], Page]
    push: Callable[[ChannelApi, Push], None]
    max_window_ms: int = 24 * 3600 * 1000
    """Longest window one query may span (Pinduoduo: 24 h)."""
    extra_tables: Mapping[str, Mapping[Any, str | None]] = field(default_factory=dict)
    """Other status fields the mapping reads (refund, group, confirm status, ...)."""
    push_stock: Callable[[ChannelApi, Sequence[ItemPush]], Outcome] | None = None
    """The listings' quantities to the channel (stock.py); None: no listing to push (POS)."""
    refunds: Callable[[ChannelApi, dict[str, Any]], list[RefundReason]] | None = None
    """The channel's refund reasons of a raw order in refund (its after-sales API)."""
    reasons: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """The channel's refund reason code (or text) -> (level1, level2) of the hub's
    after-sales taxonomy; a reason not listed is left for service staff."""


REFUND_STATES = frozenset({REFUND_REQUESTED, REFUNDED})
"""States in which the poller asks the channel why (Adapter.refunds)."""


def mapped(reasons: Mapping[str, tuple[str, str]], found: Sequence[RefundReason]
           ) -> tuple[RefundReason, ...]:
    """Each reason with its (level1, level2) from the adapter's table; one the table
    does not list keeps them empty (never guessed)."""
    out = []
    for r in found:
        level1, level2 = reasons.get(r.code, ("", ""))
        out.append(RefundReason(r.sku, r.code, r.words or r.code, level1, level2))
    return tuple(out)


V = TypeVar("V")


# --- small helpers the mapping functions share -------------------------------------------

def lookup(table: Mapping[Any, V], channel: str, order_id: str, field_name: str,
           value: object) -> V:
    """table[value], or UnknownStatus naming channel, field and value."""
    try:
        return table[value]
    except (KeyError, TypeError):
        raise UnknownStatus(channel, order_id, field_name, value) from None


def require(raw: Mapping[str, Any], key: str, channel: str, order_id: str = "") -> Any:
    value = raw.get(key)
    if value is None or value == "":
        raise MappingError(channel, order_id, f"missing {key}")
    return value


def yuan_to_cents(value: object, channel: str, order_id: str, field_name: str) -> int:
    """'199.00' / 19.9 yuan -> 1990 cents, exactly (no float rounding)."""
    if value is None or value == "":
        return 0
    try:
        cents = Decimal(str(value)) * 100
    except InvalidOperation:
        raise MappingError(channel, order_id, f"{field_name} {value!r} is not an amount") from None
    if cents != cents.to_integral_value() or cents < 0:
        raise MappingError(channel, order_id, f"{field_name} {value!r} is not an amount")
    return int(cents)


def int_field(value: object, channel: str, order_id: str, field_name: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise MappingError(channel, order_id, f"{field_name} {value!r} is not a whole number") \
            from None


def cst_ms(value: object, channel: str, order_id: str, field_name: str) -> int:
    """'2026-11-11 00:00:05' (China time) -> epoch ms; empty -> 0."""
    if value is None or value == "":
        return 0
    try:
        at = datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
    except ValueError:
        raise MappingError(channel, order_id, f"{field_name} {value!r} is not a time") from None
    return int(at.timestamp() * 1000)


def epoch_s_ms(value: object, channel: str, order_id: str, field_name: str) -> int:
    """Unix seconds -> epoch ms; empty/0 -> 0."""
    if value in (None, "", 0):
        return 0
    return int_field(value, channel, order_id, field_name) * 1000


def cst_text(ms: int) -> str:
    """epoch ms -> '2026-11-11 00:00:05' (China time), as the channels' queries take it."""
    return datetime.fromtimestamp(ms / 1000, CST).strftime("%Y-%m-%d %H:%M:%S")

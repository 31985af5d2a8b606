"""Checks on orders as adapters send them: InvalidArgument naming the field, before
anything is read or written. Turns a RawOrder (clear phone) into a ChannelOrder (phone
hash only)."""

from __future__ import annotations

import hashlib
import hmac
import re

from reservation import clock
from reservation.domain import validation as v
from reservation.errors import InvalidArgument
from reservation.ordersync import states
from reservation.ordersync.model import (
    CHANNELS,
    GIFT_SUFFIX,
    Address,
    ChannelOrder,
    Line,
    RawOrder,
)
from reservation.settings import Settings

# Shops become part of the reservation's order id ("<shop>/<order_id>"), so no '/'.
_SHOP = re.compile(r"[A-Za-z0-9_.-]+")
# A phone: optional '+', digits with spaces or dashes, possibly masked with '*' as
# channels deliver them (138****1234); at least 4 real digits.
_PHONE = re.compile(r"\+?[0-9*][0-9 *-]{4,22}[0-9*]")
_FIXED_KEY = b"reservation-order-buyer"
TEXT_MAX = 256
MONEY_MAX = 10**12


def buyer_hash(phone: str, settings: Settings) -> str:
    """Stable keyed hash of a phone (separators dropped): the only form that is kept."""
    key = settings.order_buyer_hash_key.encode() or _FIXED_KEY
    canonical = phone.replace(" ", "").replace("-", "")
    # The one-shot C digest: hmac.new(...).hexdigest() cost a tenth of a sync's validation.
    return hmac.digest(key, canonical.encode(), hashlib.sha256).hex()[:32]


def phone(field: str, value: str) -> None:
    if not value:
        raise InvalidArgument(field, "must not be empty")
    # Never echo the number itself: it must not reach logs through an error message.
    if not _PHONE.fullmatch(value) or sum(c.isdigit() for c in value) < 4:
        raise InvalidArgument(field, "is not a phone number")


def text(field: str, value: str, required: bool = False) -> None:
    if not value:
        if required:
            raise InvalidArgument(field, "must not be empty")
        return
    if len(value) > TEXT_MAX:
        raise InvalidArgument(field, f"is longer than {TEXT_MAX} characters")
    if not value.isprintable():
        raise InvalidArgument(field, "must be printable (no control characters)")


def address(field: str, a: Address) -> None:
    text(f"{field}.province", a.province, required=True)
    text(f"{field}.city", a.city, required=True)
    text(f"{field}.district", a.district)
    text(f"{field}.detail", a.detail)


def money(field: str, cents: int) -> None:
    if not 0 <= cents <= MONEY_MAX:
        raise InvalidArgument(field, f"must be between 0 and {MONEY_MAX}")


EARLIEST_MS = 946_684_800_000
"""2000-01-01T00:00:00Z: no channel order is older; an earlier time is a mistake."""


def time_ms(field: str, ms: int, settings: Settings, now_ms: int,
            required: bool = False) -> None:
    """A channel's time: set when required (0 is unset otherwise), not before 2000, not
    more than the allowed skew (RESERVATION_ORDER_FUTURE_SKEW_MS) in the future."""
    if ms == 0:
        if required:
            raise InvalidArgument(field, "must be set")
        return
    if ms < EARLIEST_MS:
        raise InvalidArgument(field, "must not be before 2000-01-01")
    skew = settings.order_future_skew_ms
    if ms > now_ms + skew:
        raise InvalidArgument(field, f"is more than {skew} ms in the future "
                                     "(RESERVATION_ORDER_FUTURE_SKEW_MS)")


def lines(field: str, values: tuple[Line, ...], order_id: str, settings: Settings) -> None:
    if not values:
        raise InvalidArgument(field, "must hold at least one line")
    if len(values) > settings.max_lines:
        raise InvalidArgument(field, f"holds {len(values)} lines, at most {settings.max_lines}")
    if all(line.is_gift for line in values):
        raise InvalidArgument(field, "holds only gift lines")
    for i, line in enumerate(values):
        f = f"{field}[{i}]"
        v.code(f"{f}.sku", line.sku)
        v.quantity(f"{f}.quantity", line.quantity, settings)
        v.code(f"{f}.warehouse_id", line.warehouse_id, required=False)
        money(f"{f}.price", line.price_cents)
        text(f"{f}.brand", line.brand)
        text(f"{f}.category", line.category)
        if line.gift_of and line.gift_of != order_id:
            raise InvalidArgument(f"{f}.gift_of", "must name this order (a gift is bound "
                                                  "to its parent order)")


def order_key(channel: str, shop: str, order_id: str, settings: Settings) -> None:
    if channel not in CHANNELS:
        raise InvalidArgument("channel", f"unknown channel {channel!r} "
                                         f"(one of {', '.join(CHANNELS)})")
    v.code("shop", shop, pattern=_SHOP)
    v.text_id("order_id", order_id, settings)
    if order_id.endswith(GIFT_SUFFIX):
        raise InvalidArgument("order_id", f"ends with {GIFT_SUFFIX}: gift lines travel "
                                          "with their parent order")


def actor(field: str, value: str) -> None:
    text(field, value)


def channel_order(raw: RawOrder, settings: Settings, prefix: str = "",
                  now_ms: int | None = None) -> ChannelOrder:
    """Validate everything; the field names carry `prefix` (orders[3].)."""
    now = clock.now_ms() if now_ms is None else now_ms
    try:
        order_key(raw.channel, raw.shop, raw.order_id, settings)
        state = states.parse("state", raw.state)
        text("raw_status", raw.raw_status, required=True)
        time_ms("modified_at", raw.modified_at_ms, settings, now, required=True)
        time_ms("created_at", raw.created_at_ms, settings, now)
        time_ms("paid_at", raw.paid_at_ms, settings, now)
        phone("receiver_phone", raw.receiver_phone)
        address("address", raw.address)
        lines("lines", raw.lines, raw.order_id, settings)
        money("total", raw.total_cents)
        money("paid", raw.paid_cents)
        actor("actor", raw.actor)
    except InvalidArgument as exc:
        if not prefix:
            raise
        raise InvalidArgument(prefix + exc.field, exc.description) from None
    return ChannelOrder(
        channel=raw.channel, shop=raw.shop, order_id=raw.order_id, state=state,
        raw_status=raw.raw_status, modified_at_ms=raw.modified_at_ms,
        created_at_ms=raw.created_at_ms or raw.modified_at_ms,
        buyer_hash=buyer_hash(raw.receiver_phone, settings), address=raw.address,
        lines=raw.lines, total_cents=raw.total_cents, paid_cents=raw.paid_cents,
        paid_at_ms=raw.paid_at_ms, actor=raw.actor or f"adapter:{raw.channel}")

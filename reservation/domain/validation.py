"""Checks on what callers send, before anything touches Redis.

Each failure names the field (as a path like ``lines[2].quantity``) so the gRPC edge
can attach google.rpc.BadRequest details.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from reservation.domain.models import (
    BlockKind,
    OrderLine,
    RateLimit,
    ReserveCommand,
    StockItem,
)
from reservation.errors import InvalidArgument
from reservation.settings import Settings

# Ids that become part of Redis keys and of the scripts' encodings ('|' ';' ',' separate
# fields there), so they keep to a plain alphabet.
_CODE = re.compile(r"[A-Za-z0-9_.:/#@+-]+")
_CHANNEL = re.compile(r"[A-Za-z0-9_.-]+")
CODE_MAX = 64


def code(field: str, value: str, required: bool = True, pattern: re.Pattern[str] = _CODE) -> None:
    if not value:
        if required:
            raise InvalidArgument(field, "must not be empty")
        return
    if len(value) > CODE_MAX:
        raise InvalidArgument(field, f"is longer than {CODE_MAX} characters")
    if not pattern.fullmatch(value):
        raise InvalidArgument(field, f"has characters outside {pattern.pattern}")


def text_id(field: str, value: str, settings: Settings) -> None:
    """Free-form ids (order, buyer): non-empty, bounded, printable."""
    if not value:
        raise InvalidArgument(field, "must not be empty")
    if len(value.encode()) > settings.max_id_length:
        raise InvalidArgument(field, f"is longer than {settings.max_id_length} bytes")
    if not value.isprintable():
        raise InvalidArgument(field, "must be printable (no control characters)")


def channel(field: str, value: str) -> None:
    """A channel name: it becomes part of keys and of "<channel>:<order_id>" refs."""
    code(field, value, pattern=_CHANNEL)


def order_key(channel: str, order_id: str, settings: Settings) -> None:
    code("channel", channel, pattern=_CHANNEL)
    text_id("order_id", order_id, settings)


def quantity(field: str, value: int, settings: Settings, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if value < low:
        raise InvalidArgument(field, f"must be at least {low}, got {value}")
    if value > settings.max_quantity:
        raise InvalidArgument(field, f"must be at most {settings.max_quantity}, got {value}")


def lines(field: str, values: Sequence[OrderLine], settings: Settings) -> None:
    if not values:
        raise InvalidArgument(field, "must hold at least one line")
    if len(values) > settings.max_lines:
        raise InvalidArgument(field, f"holds {len(values)} lines, at most {settings.max_lines}")
    for i, line in enumerate(values):
        code(f"{field}[{i}].sku", line.sku)
        quantity(f"{field}[{i}].quantity", line.quantity, settings)
        code(f"{field}[{i}].warehouse_id", line.warehouse_id, required=False)


def hold_ttl(field: str, ttl_ms: int, settings: Settings) -> None:
    if ttl_ms == 0:
        return
    if ttl_ms < 100 or ttl_ms > settings.max_hold_ttl_ms:
        raise InvalidArgument(
            field, f"must be between 0.1 s and {settings.max_hold_ttl_ms / 1000:g} s")


def reserve(cmd: ReserveCommand, settings: Settings) -> None:
    order_key(cmd.channel, cmd.order_id, settings)
    text_id("buyer_id", cmd.buyer_id, settings)
    lines("lines", cmd.lines, settings)
    hold_ttl("hold_ttl", cmd.hold_ttl_ms, settings)


def stock_items(field: str, items: Sequence[StockItem], settings: Settings,
                allow_zero: bool) -> None:
    if not items:
        raise InvalidArgument(field, "must hold at least one item")
    if len(items) > settings.max_batch:
        raise InvalidArgument(field, f"holds {len(items)} items, at most {settings.max_batch}")
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(items):
        code(f"{field}[{i}].sku", item.sku)
        code(f"{field}[{i}].warehouse_id", item.warehouse_id)
        quantity(f"{field}[{i}].quantity", item.quantity, settings, allow_zero=allow_zero)
        if (item.sku, item.warehouse_id) in seen:
            raise InvalidArgument(f"{field}[{i}]", "repeats an earlier sku and warehouse_id")
        seen.add((item.sku, item.warehouse_id))


JSON_MAX_DEPTH = 32
"""Deepest nesting of a JSON document callers send (a rule set needs 5)."""
# A string (to its closing quote, or to the end when unterminated: so every character
# is looked at once, never rescanned from a later quote) or a bracket.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\Z)|[\[\]{}]', re.DOTALL)


def json_document(field: str, text: str, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """`text` parsed as JSON, or InvalidArgument naming the field (and, for a number, its
    path inside): not JSON, nested deeper than max_depth (measured before parsing, so a
    document nested 100,000 deep costs one scan, not a RecursionError), NaN or an
    infinity (also 1e400, which parses as one), an integer too long to convert."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(text):
        mark = token.group()
        if mark in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > max_depth:
                raise InvalidArgument(field, f"nests deeper than {max_depth} levels")
        elif mark in ("]", "}"):
            depth -= 1
    try:
        value = json.loads(text)
    except RecursionError:  # cannot happen after the scan; never INTERNAL all the same
        raise InvalidArgument(field, f"nests deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, or an integer beyond Python's limit
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise InvalidArgument(field, f"is not JSON: {reason}") from None
    finite(field, value)
    return value


def finite(field: str, value: Any) -> None:
    """InvalidArgument naming the path of the first NaN or infinite number in a parsed
    JSON value (walked with an explicit stack)."""
    stack: list[tuple[str, Any]] = [(field, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidArgument(where, f"must be a finite number, not {item}")
        if isinstance(item, dict):
            stack.extend((f"{where}.{str(k)[:64]}", v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))


RATE_PER_MAX_MS = 24 * 3600 * 1000


def rate_limit(field: str, rate: RateLimit, settings: Settings) -> None:
    """A flash sale's rate limit: off (0 orders), or 1..max_quantity orders per 1 s..1 day
    (whole milliseconds)."""
    if rate.orders == 0:
        if rate.per_ms:
            raise InvalidArgument(f"{field}.orders", "must be set when per is")
        return
    if not 0 < rate.orders <= settings.max_quantity:
        raise InvalidArgument(f"{field}.orders", f"must be between 0 and {settings.max_quantity}")
    if not 1000 <= rate.per_ms <= RATE_PER_MAX_MS:
        raise InvalidArgument(f"{field}.per", "must be between 1 s and 1 day")


def device_id(field: str, value: str) -> str:
    """x-device-id: an id of the code alphabet, up to 64 characters ("" : not sent)."""
    code(field, value, required=False)
    return value


def client_ip(field: str, value: str) -> str:
    """x-client-ip: an IPv4 or IPv6 address, written the one canonical way ("" : not
    sent), so 2001:DB8::1 and 2001:db8:0::1 are one client."""
    if not value:
        return ""
    try:
        return ipaddress.ip_address(value.strip()).compressed
    except ValueError:
        raise InvalidArgument(field, "must be an IPv4 or IPv6 address") from None


def block_value(field: str, kind: BlockKind, value: str, settings: Settings) -> str:
    """A blocklist entry's value, as the gate compares it."""
    if kind == BlockKind.BUYER:
        text_id(field, value, settings)
        return value
    if kind == BlockKind.DEVICE:
        code(field, value)
        return value
    if not value:
        raise InvalidArgument(field, "must not be empty")
    return client_ip(field, value)

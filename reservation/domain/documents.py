"""Field checks for the rule documents operators put (interception, channel listings):
each raises InvalidArgument naming the field's path (``rules[2].then.shares.jd``), so a
document with a bad field is refused whole and changes nothing."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from reservation.errors import InvalidArgument

MAX_TEXT = 128
MAX_VALUES = 500


def no_unknown(where: str, raw: Mapping[str, Any], known: Collection[str]) -> None:
    for k in raw:
        if k not in known:
            raise InvalidArgument(f"{where}.{k}", f"unknown field (known: {', '.join(known)})")


def mapping(where: str, raw: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidArgument(where, f"must be a mapping {what}")
    return raw


def text(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidArgument(where, f"must be text of 1 to {MAX_TEXT} characters")
    return value.strip()


def texts(where: str, raw: Any) -> list[str]:
    if not isinstance(raw, list) or len(raw) > MAX_VALUES:
        raise InvalidArgument(where, f"must be a list of at most {MAX_VALUES} values")
    return [text(f"{where}[{j}]", v) for j, v in enumerate(raw)]


def count(where: str, value: Any, top: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise InvalidArgument(where, f"must be a whole number from 0 to {top}")
    return value


def number(where: str, value: Any, low: float, high: float) -> float:
    """A finite number in [low, high] (JSON has no NaN, but YAML and Python do)."""
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or not low <= value <= high:
        raise InvalidArgument(where, f"must be a number from {low:g} to {high:g}")
    return float(value)

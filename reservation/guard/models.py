"""What operators see of a SKU's guard, built from what Redis holds (storage/guard.py)."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from enum import StrEnum

from reservation.storage.guard import GuardRecord

DAY_MS = 86_400_000


class BreakerState(StrEnum):
    NONE = ""
    CLOSED = "CLOSED"
    OPEN = "OPEN"


@dataclass(frozen=True)
class Breaker:
    channel: str
    state: BreakerState
    forced: BreakerState
    threshold: int
    own_threshold: bool
    closes_at: int
    opened_at_ms: int = 0


@dataclass(frozen=True)
class SkuGuard:
    sku: str
    available: int
    safety_stock: int
    computed_safety_stock: int
    override: int | None
    average_daily_sales: float
    factor: float
    live_stream: bool
    daily_sales: tuple[tuple[str, int], ...]
    breakers: tuple[Breaker, ...]


@dataclass(frozen=True)
class OpenBreaker:
    sku: str
    channel: str
    opened_at_ms: int


def close_level(threshold: int, hysteresis: float, margin: int) -> int:
    """Where an automatic breaker closes again; the same rule as close_level in Lua
    (_guard_admin.lua), which is the one that acts."""
    if threshold <= 0:
        return 0
    band = math.ceil(threshold * round(hysteresis * 1000) / 1000)
    return threshold + max(margin, band)


def day_name(day: int) -> str:
    """A UTC day number (days since 1970-01-01) as YYYY-MM-DD."""
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()


def sale_open(sale: dict[str, str], now_ms: int) -> bool:
    """The same rule as sale_of in _lib.lua: started, not ended, not stopped."""
    if not sale or sale.get("stopped") == "1":
        return False
    return int(sale.get("starts", "0")) <= now_ms < int(sale.get("ends", "0"))


def factor_in_force(record: GuardRecord, now_ms: int, factor: float, hot: float) -> float:
    """The factor of the safety stock shown: the one it was computed with, or, for a SKU
    whose safety stock was never computed (no sale, live mode or override yet), the one
    that applies now (hot while its sale is open or it is live)."""
    if "factor" in record.guard:
        return float(record.guard["factor"])
    live = record.guard.get("live") == "1"
    return hot if live or sale_open(record.sale, now_ms) else factor


def build(sku: str, record: GuardRecord, opened: dict[str, int], now_ms: int, days: int,
          hysteresis: float, margin: int, factor: float = 0.0,
          hot_factor: float = 0.0) -> SkuGuard:
    g = record.guard
    computed = int(g.get("ss", "0"))
    override = int(g["ss_set"]) if "ss_set" in g else None
    safety = override if override is not None else computed
    today = now_ms // DAY_MS
    daily = tuple((day_name(d), int(record.sold.get(str(d), "0")))
                  for d in range(today - days, today + 1))
    channels = sorted({f.split(":", 1)[1] for f in g
                       if f.startswith(("th:", "force:", "open:"))})
    breakers = []
    for ch in channels:
        forced = BreakerState(g.get(f"force:{ch}", ""))
        automatic = BreakerState.OPEN if g.get(f"open:{ch}") == "1" else BreakerState.CLOSED
        own = f"th:{ch}" in g
        threshold = int(g[f"th:{ch}"]) if own else safety
        breakers.append(Breaker(ch, forced or automatic, forced, threshold, own,
                                close_level(threshold, hysteresis, margin),
                                opened.get(ch, 0)))
    return SkuGuard(sku, record.available, safety, computed, override,
                    float(g.get("avg", "0")),
                    factor_in_force(record, now_ms, factor, hot_factor),
                    g.get("live") == "1", daily, tuple(breakers))

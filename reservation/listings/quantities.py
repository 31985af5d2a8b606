"""What a listing may show, decided without I/O from a SKU's stock, guard and the rule set.

    pool     = max(0, available at the SKU's warehouses - its safety stock)
    a rule   : its reservations come off the top of the pool (first named, first served),
               its shares are floor(percent x what is left); "rest" takes what the others
               leave, rounding included. A channel the rule does not name lists nothing.
    no rule  : floor(default_share x pool)
    cap      : a channel served by some warehouses only shows at most what those hold
               above the safety stock
    breaker  : while the SKU's breaker for the channel is OPEN the listing shows 0, closed

So the listings of one SKU (one shop per channel named) add up to at most the pool, which
is at most what is available: no channel is told it may sell a unit another was promised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from reservation.listings.rules import REST_SHARE, Rule, RuleSet, percent


@dataclass(frozen=True)
class SkuStock:
    sku: str
    available: Mapping[str, int]
    """warehouse -> available units"""
    safety_stock: int
    open_breakers: frozenset[str]
    """channels whose breaker for this SKU is OPEN (forced or tripped)"""


@dataclass(frozen=True)
class Quantity:
    sku: str
    quantity: int
    listed: bool
    """False: the listing is closed (the channel's breaker is OPEN)."""
    reason: str


def quantity(stock: SkuStock, channel: str, shop: str, rules: RuleSet) -> Quantity:
    if channel in stock.open_breakers:
        return Quantity(stock.sku, 0, False, f"breaker OPEN for {channel}")
    total = sum(stock.available.values())
    pool = max(0, total - stock.safety_stock)
    rule = rules.rule_for(stock.sku)
    if rule is None:
        units = math.floor(pool * percent(rules.default_share) / 100)
        why = f"default {rules.default_share:g}%"
    else:
        parts = allot(rule, pool)
        key = f"{channel}/{shop}" if f"{channel}/{shop}" in parts else channel
        if key not in parts:
            return Quantity(stock.sku, 0, True, f"rule {rule.name!r} names no {channel}")
        units, why = parts[key], f"rule {rule.name!r}"
    served = rules.channel_warehouses.get(channel)
    if served is not None:
        own = sum(n for wh, n in stock.available.items() if wh in served)
        cap = max(0, own - stock.safety_stock)
        if cap < units:
            units, why = cap, f"{why}, capped by {channel}'s warehouses"
    return Quantity(stock.sku, units, True,
                    f"{why} of pool {pool} (available {total} - safety stock "
                    f"{stock.safety_stock})")


def allot(rule: Rule, pool: int) -> dict[str, int]:
    """Listing key -> units of `pool` under `rule`."""
    parts: dict[str, int] = {}
    left = pool
    for key, units in rule.reserve:
        taken = min(units, left)
        parts[key] = parts.get(key, 0) + taken
        left -= taken
    given = 0
    rest_key = None
    for key, share in rule.shares:
        if share == REST_SHARE:
            rest_key = key
            continue
        units = math.floor(left * percent(share) / 100)
        parts[key] = parts.get(key, 0) + units
        given += units
    if rest_key is not None:
        parts[rest_key] = parts.get(rest_key, 0) + left - given
    return parts

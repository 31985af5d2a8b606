"""What a listing may show, decided without I/O from a SKU's stock, guard and the rule set.

    pool     = max(0, available at the SKU's warehouses - its safety stock
                      - the rule's dynamic safety: ceil(sale velocity x lag_s))
    a rule   : its reservations come off the top of the pool (first named, first served),
               its shares are floor(percent x what is left); "rest" takes what the others
               leave, rounding included. A channel the rule does not name lists nothing.
    no rule  : floor(default_share x pool)
    cap      : a channel served by some warehouses only shows at most what those hold
               above the safety stock
    breaker  : while the SKU's breaker for the channel is OPEN the listing shows 0, closed
    dynamic  : when the dynamic safety leaves a pool of 0, the channels the rule names in
               dynamic_safety.close are closed too (a live sale's listing taken down)

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
    velocity: float = 0.0
    """units a second the SKU sold lately (velocity.py); 0 when not estimated"""


@dataclass(frozen=True)
class Quantity:
    sku: str
    quantity: int
    listed: bool
    """False: the listing is closed (the channel's breaker is OPEN, or the rule's dynamic
    safety left nothing)."""
    reason: str
    by_dynamic_safety: bool = False


def quantity(stock: SkuStock, channel: str, shop: str, rules: RuleSet) -> Quantity:
    if channel in stock.open_breakers:
        return Quantity(stock.sku, 0, False, f"breaker OPEN for {channel}")
    total = sum(stock.available.values())
    rule = rules.rule_for(stock.sku)
    held_back = dynamic_units(rule, stock.velocity)
    pool = max(0, total - stock.safety_stock - held_back)
    if held_back and pool == 0 and rule is not None and rule.dynamic is not None \
            and channel in rule.dynamic.close:
        return Quantity(stock.sku, 0, False,
                        f"closed by rule {rule.name!r}'s dynamic safety: available {total} "
                        f"- safety stock {stock.safety_stock} is within {held_back} "
                        f"(selling {stock.velocity:.1f}/s x {rule.dynamic.lag_s:g} s)",
                        by_dynamic_safety=True)
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
    dynamic = f" - dynamic safety {held_back}" if held_back else ""
    return Quantity(stock.sku, units, True,
                    f"{why} of pool {pool} (available {total} - safety stock "
                    f"{stock.safety_stock}{dynamic})")


def dynamic_units(rule: Rule | None, velocity: float) -> int:
    """What the rule's dynamic safety holds back at this velocity (0 without one)."""
    if rule is None or rule.dynamic is None:
        return 0
    return math.ceil(velocity * rule.dynamic.lag_s)


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

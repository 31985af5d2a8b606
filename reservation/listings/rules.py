"""The listing rule set: how a SKU's sellable stock is shared among the channels' listings.
Versioned, hot-reloaded and edited whole like the routing and interception rule sets
(storage/rulesets.py), with history and rollback.

    rules:
      - name: douyin live sale
        when: {sku: [PHONE-X]}                      # or sku_prefix: [BP-]; first match wins
        then:
          reserve: {taobao/flagship: 20}            # fixed units for a listing, off the top
          shares: {douyin: 60, tmall: 30, pos: rest}  # percent of what is left, or "rest"
          dynamic_safety: {lag_s: 3, window_s: 10, close: [douyin]}   # optional, below
    channels:
      pos: {warehouses: [WH-STORE]}                 # the warehouses that serve a channel
    default_share: 100                              # listings of a SKU no rule matches

A listing is a channel's shop: its key is "channel/shop", or "channel" for every shop of
the channel (name each shop of a channel that has several, or each gets the channel's
part). A SKU a rule matches lists nothing on a channel the rule does not name.

A rule's `dynamic_safety` holds back, on top of the SKU's safety stock, what the SKU
sells in `lag_s` seconds at the rate it sold over the last `window_s` (velocity.py): the
units the channels have sold that the hub has not seen yet (an order reaches the hub an
adapter poll after the buyer paid, and a listing is told a push later), which a
listing told the hub's count would otherwise sell a second time. Set lag_s to the
adapters' poll interval plus the channel's order delay plus the push lag
(GetChannelStock). When that leaves nothing, the listings of the channels in `close`
(a live sale's Douyin or Kuaishou) are closed, not set to 0, and operators are alerted;
they reopen when the sale slows.

`parse` checks everything and raises InvalidArgument naming the rule and field
(``rules[1].then.shares.douyin``), so a bad rule set changes nothing. Shares of one rule
add up to at most 100 (with "rest", the rest is what the others leave, rounding included).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from reservation.domain.documents import count, mapping, no_unknown, number, text, texts
from reservation.errors import InvalidArgument

MAX_RULES = 200
MAX_LISTINGS = 100
MAX_UNITS = 10**9
REST = "rest"
_KEY = re.compile(r"^[A-Za-z0-9_.:#@+-]{1,64}(/[A-Za-z0-9_.:#@+-]{1,64})?$")


@dataclass(frozen=True)
class Rule:
    index: int
    name: str
    skus: frozenset[str]
    prefixes: tuple[str, ...]
    reserve: tuple[tuple[str, int], ...]
    """(listing key, units) in the order given: taken off the top, first come first."""
    shares: tuple[tuple[str, float], ...]
    """(listing key, percent) of what the reservations leave; REST_SHARE for "rest"."""
    dynamic: DynamicSafety | None = None

    def matches(self, sku: str) -> bool:
        return sku in self.skus or sku.startswith(self.prefixes)

    def names(self, key: str) -> bool:
        return any(k == key for k, _ in self.reserve) or any(k == key for k, _ in self.shares)


REST_SHARE = -1.0
MAX_LAG_S = 3600.0
MAX_WINDOW_S = 600.0


@dataclass(frozen=True)
class DynamicSafety:
    """Units held back: the SKU's sale velocity (over window_s) times lag_s."""

    lag_s: float
    window_s: float = 10.0
    close: frozenset[str] = frozenset()
    """channels whose listing is closed (not set to 0) when nothing is left to list"""


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    channel_warehouses: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """channel -> the warehouses whose stock it may sell (a channel not named: all)."""
    default_share: float = 100.0
    version: int = 0
    document: Mapping[str, Any] = field(default_factory=dict)

    def rule_for(self, sku: str) -> Rule | None:
        return next((r for r in self.rules if r.matches(sku)), None)


DEFAULT_DOCUMENT: dict[str, Any] = {"rules": [], "default_share": 100}
"""In force until an operator puts a rule set: every listing shows all it may sell."""


def parse(doc: Any, version: int = 0) -> RuleSet:
    doc = mapping("rules", doc, "with a 'rules' list")
    no_unknown("rules", doc, ("rules", "channels", "default_share"))
    raw = doc.get("rules", [])
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        raise InvalidArgument("rules", f"must be a list of at most {MAX_RULES} rules")
    rules = tuple(_rule(i, r) for i, r in enumerate(raw))
    names = [r.name for r in rules]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InvalidArgument(f"rules[{i}].name", f"{name!r} is used twice")
    return RuleSet(rules, _channels(doc.get("channels", {})),
                   number("default_share", doc.get("default_share", 100), 0, 100),
                   version, dict(doc))


def _rule(i: int, raw: Any) -> Rule:
    where = f"rules[{i}]"
    raw = mapping(where, raw, "with name, when and then")
    no_unknown(where, raw, ("name", "when", "then"))
    when = mapping(f"{where}.when", raw.get("when"), "with sku and/or sku_prefix")
    no_unknown(f"{where}.when", when, ("sku", "sku_prefix"))
    skus = texts(f"{where}.when.sku", when.get("sku", []))
    prefixes = texts(f"{where}.when.sku_prefix", when.get("sku_prefix", []))
    if not skus and not prefixes:
        raise InvalidArgument(f"{where}.when", "names no sku and no sku_prefix")
    then = mapping(f"{where}.then", raw.get("then"), "with shares and/or reserve")
    no_unknown(f"{where}.then", then, ("shares", "reserve", "dynamic_safety"))
    reserve = _reserve(f"{where}.then.reserve", then.get("reserve", {}))
    shares = _shares(f"{where}.then.shares", then.get("shares", {}))
    if not reserve and not shares:
        raise InvalidArgument(f"{where}.then", "gives no listing anything (shares, reserve)")
    named = {k.partition("/")[0] for k, _ in (*reserve, *shares)}
    dynamic = _dynamic(f"{where}.then.dynamic_safety", then["dynamic_safety"], named) \
        if "dynamic_safety" in then else None
    return Rule(i, text(f"{where}.name", raw.get("name")), frozenset(skus), tuple(prefixes),
                reserve, shares, dynamic)


def _dynamic(where: str, raw: Any, named: set[str]) -> DynamicSafety:
    raw = mapping(where, raw, "with lag_s, and optionally window_s and close")
    no_unknown(where, raw, ("lag_s", "window_s", "close"))
    if "lag_s" not in raw:
        raise InvalidArgument(f"{where}.lag_s", "is required: the seconds from a sale on "
                                                "the channel to its listing being told")
    close = texts(f"{where}.close", raw.get("close", []))
    for j, ch in enumerate(close):
        if "/" in ch or not _KEY.match(ch):
            raise InvalidArgument(f"{where}.close[{j}]", "must be a channel name")
        if ch not in named:  # a close that could never happen is a mistake, said now
            raise InvalidArgument(f"{where}.close[{j}]",
                                  f"{ch!r} has no listing in this rule")
    return DynamicSafety(number(f"{where}.lag_s", raw["lag_s"], 0, MAX_LAG_S),
                         number(f"{where}.window_s", raw.get("window_s", 10.0), 1,
                                MAX_WINDOW_S),
                         frozenset(close))


def _listing_key(where: str, key: Any) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidArgument(where, "a listing is 'channel' or 'channel/shop' (letters, "
                                     "digits and _.:#@+- up to 64 each)")
    return key


def _reserve(where: str, raw: Any) -> tuple[tuple[str, int], ...]:
    raw = mapping(where, raw, "of listing -> units")
    if len(raw) > MAX_LISTINGS:
        raise InvalidArgument(where, f"names more than {MAX_LISTINGS} listings")
    return tuple((_listing_key(f"{where}.{k}", k), count(f"{where}.{k}", v, MAX_UNITS))
                 for k, v in raw.items())


def _shares(where: str, raw: Any) -> tuple[tuple[str, float], ...]:
    raw = mapping(where, raw, "of listing -> percent (or 'rest')")
    if len(raw) > MAX_LISTINGS:
        raise InvalidArgument(where, f"names more than {MAX_LISTINGS} listings")
    out: list[tuple[str, float]] = []
    for k, v in raw.items():
        key = _listing_key(f"{where}.{k}", k)
        if v == REST:
            if any(s == REST_SHARE for _, s in out):
                raise InvalidArgument(f"{where}.{k}", "only one listing takes the rest")
            out.append((key, REST_SHARE))
        else:
            out.append((key, number(f"{where}.{k}", v, 0, 100)))
    # As written, in decimal (33.3 + 33.3 + 33.4 is 100, whatever binary floats make of it).
    total = sum(percent(s) for _, s in out if s != REST_SHARE)
    if total > 100:
        raise InvalidArgument(where, f"add up to {float(total):g} percent, more than 100")
    return tuple(out)


def percent(value: float) -> Fraction:
    """A share as the decimal the operator wrote (via its shortest repr), exactly."""
    return Fraction(repr(value))


def _channels(raw: Any) -> dict[str, frozenset[str]]:
    raw = mapping("channels", raw, "of channel -> {warehouses: [...]}")
    out = {}
    for ch, spec in raw.items():
        where = f"channels.{ch}"
        if not isinstance(ch, str) or "/" in ch or not _KEY.match(ch):
            raise InvalidArgument(where, "must be a channel name")
        spec = mapping(where, spec, "with warehouses")
        no_unknown(where, spec, ("warehouses",))
        warehouses = texts(f"{where}.warehouses", spec.get("warehouses", []))
        if not warehouses:
            raise InvalidArgument(f"{where}.warehouses", "names no warehouse")
        out[ch] = frozenset(warehouses)
    return out

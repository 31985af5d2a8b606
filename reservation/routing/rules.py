"""The routing rule set: an ordered list of rules plus the scoring weights, edited whole.

A rule file (YAML or JSON; the RPC takes the same shape as a Struct):

    weights: {distance: 1.0, load: 1.0, shipments: 2.0, cost: 0.0, priority: 0.1}
    load_threshold: 1.0          # share of daily_capacity at which a warehouse stops
    rules:
      - name: 奶粉 East China
        when: {category: [奶粉], city: [上海, 杭州, 南京]}
        then: {prefer: [WH-EAST-A]}

`parse` checks everything and raises InvalidArgument naming the rule and field
(``rules[2].then.prefer[0]``), so a bad rule set changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reservation.errors import InvalidArgument
from reservation.routing.geography import REGIONS, geography, short
from reservation.routing.warehouses import CAPABILITIES, Warehouse

MAX_RULES = 1000
MAX_VALUES = 1000
MAX_TEXT = 128

# Conditions on a line (a rule with any of these applies to the lines that match) ...
LINE_FIELDS = ("sku", "sku_prefix", "category", "brand")
# ... and on the whole order.
ORDER_LIST_FIELDS = ("region", "province", "city", "channel", "payment", "customer_grade")
ORDER_NUMBER_FIELDS = ("amount_above", "amount_at_most", "promised_hours_at_most")
WHEN_FIELDS = (*LINE_FIELDS, *ORDER_LIST_FIELDS, *ORDER_NUMBER_FIELDS)
# Enumerated values, matched without regard to case: kept lower-case on both sides (a rule
# written `payment: [CREDIT_CARD]` matches the `credit_card` orders carry).
CASELESS_FIELDS = ("channel", "payment", "customer_grade")
THEN_FIELDS = ("prefer", "min_stock", "require", "exclude", "review", "rush", "split")
SPLITS = ("", "together", "by_brand")
WEIGHTS = ("distance", "load", "shipments", "cost", "priority")
DEFAULT_WEIGHTS = {"distance": 1.0, "load": 1.0, "shipments": 2.0, "cost": 0.0,
                   "priority": 0.1}


@dataclass(frozen=True)
class When:
    values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    numbers: Mapping[str, float] = field(default_factory=dict)

    @property
    def on_lines(self) -> bool:
        return any(f in self.values for f in LINE_FIELDS)


@dataclass(frozen=True)
class Then:
    prefer: tuple[str, ...] = ()
    min_stock: int = 0
    require: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    review: str = ""
    rush: bool = False
    split: str = ""


@dataclass(frozen=True)
class Rule:
    index: int
    name: str
    when: When
    then: Then


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    load_threshold: float = 1.0
    version: int = 0
    document: Mapping[str, Any] = field(default_factory=dict)  # as put, for get/history
    passing: dict[tuple[str, ...], tuple[Rule, ...]] = field(
        default_factory=dict, compare=False, repr=False)
    """Memo of matching.plan: per (region, province, city, channel, payment, grade), the
    rules whose text conditions hold. A set is immutable once parsed, so it never goes
    stale; orders repeat a few dozen places and channels, so it stays small."""

    def weight_vector(self) -> tuple[float, ...]:
        return tuple(float(self.weights[w]) for w in WEIGHTS)

    @functools.cached_property
    def weight_array(self) -> np.ndarray:
        """The weights as the kernel takes them, built once per rule set rather than
        once per routing call (read only: the kernel does not write it)."""
        return np.array(self.weight_vector(), dtype=np.float64)


def parse(doc: Any, warehouses: Collection[Warehouse], version: int = 0,
          strict: bool = True) -> RuleSet:
    """A validated RuleSet from a document; warehouse names or ids are both accepted in
    prefer/exclude and stored as ids. `strict=False` reads a version stored before the
    language grew stricter (unknown places, repeated names, control characters were
    accepted then): it must still load, as it was put."""
    if not isinstance(doc, Mapping):
        raise InvalidArgument("rules", "must be a mapping with a 'rules' list")
    _no_unknown("", doc, ("rules", "weights", "load_threshold", "comment"))
    ids = _warehouse_ids(warehouses)
    weights = _weights(doc.get("weights", {}))
    threshold = _number("load_threshold", doc.get("load_threshold", 1.0), 0.01, 10.0)
    raw_rules = doc.get("rules", [])
    if not isinstance(raw_rules, list):
        raise InvalidArgument("rules", "must be a list")
    if len(raw_rules) > MAX_RULES:
        raise InvalidArgument("rules", f"holds {len(raw_rules)} rules, at most {MAX_RULES}")
    rules = tuple(_rule(i, r, ids, strict) for i, r in enumerate(raw_rules))
    names = [r.name for r in rules] if strict else []
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InvalidArgument(f"rules[{i}].name", f"{name!r} is used twice (rules "
                                  f"{names.index(name)} and {i}); names say which rule decided")
    return RuleSet(rules, weights, threshold, version, dict(doc))


def _warehouse_ids(warehouses: Collection[Warehouse]) -> dict[str, str]:
    ids = {w.warehouse_id: w.warehouse_id for w in warehouses}
    ids.update({w.name: w.warehouse_id for w in warehouses if w.name not in ids})
    return ids


def _rule(i: int, raw: Any, ids: Mapping[str, str], strict: bool = True) -> Rule:
    where = f"rules[{i}]"
    if not isinstance(raw, Mapping):
        raise InvalidArgument(where, "must be a mapping with 'when' and 'then'")
    _no_unknown(where, raw, ("name", "when", "then"))
    name = raw.get("name", f"rule {i}")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_TEXT \
            or strict and not name.isprintable():
        raise InvalidArgument(f"{where}.name", f"must be text of 1..{MAX_TEXT} printable "
                              "characters")
    return Rule(i, name, _when(where, raw.get("when", {}), strict),
                _then(where, raw.get("then"), ids, strict))


def _when(where: str, raw: Any, strict: bool = True) -> When:
    where = f"{where}.when"
    if not isinstance(raw, Mapping):
        raise InvalidArgument(where, "must be a mapping of conditions")
    _no_unknown(where, raw, WHEN_FIELDS)
    values = {k: frozenset(_texts(f"{where}.{k}", v, strict=strict)) for k, v in raw.items()
              if k not in ORDER_NUMBER_FIELDS}
    for place, rank in (("province", 0), ("city", 1)):  # 杭州 and 杭州市 name one city
        if place in values and strict:
            for j, v in enumerate(raw[place] if isinstance(raw[place], list) else [raw[place]]):
                _known_place(f"{where}.{place}[{j}]", place, v, rank)
        if place in values:
            values[place] = frozenset(short(v) for v in values[place])
    for name in CASELESS_FIELDS:
        if name in values:
            values[name] = frozenset(v.lower() for v in values[name])
    for region in sorted(values.get("region", ())):
        if region not in REGIONS:
            raise InvalidArgument(f"{where}.region", f"unknown region {region!r}; "
                                  f"one of {', '.join(REGIONS)}")
    numbers = {k: _number(f"{where}.{k}", v, 0, 1e12) for k, v in raw.items()
               if k in ORDER_NUMBER_FIELDS}
    return When(values, numbers)


def _then(where: str, raw: Any, ids: Mapping[str, str], strict: bool = True) -> Then:
    where = f"{where}.then"
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidArgument(where, "must name at least one action")
    _no_unknown(where, raw, THEN_FIELDS)
    prefer = tuple(_warehouse(f"{where}.prefer[{j}]", w, ids)
                   for j, w in enumerate(_texts(f"{where}.prefer", raw.get("prefer", []),
                                                allow_empty=True)))
    exclude = frozenset(_warehouse(f"{where}.exclude[{j}]", w, ids)
                        for j, w in enumerate(_texts(f"{where}.exclude",
                                                     raw.get("exclude", []),
                                                     allow_empty=True)))
    require = _texts(f"{where}.require", raw.get("require", []), allow_empty=True)
    for j, cap in enumerate(require):
        if cap not in CAPABILITIES:
            raise InvalidArgument(f"{where}.require[{j}]", f"unknown capability {cap!r}; "
                                  f"one of {', '.join(CAPABILITIES)}")
    min_stock = int(_number(f"{where}.min_stock", raw.get("min_stock", 0), 0, 1e9,
                            integral=True))
    if min_stock and not prefer:
        raise InvalidArgument(f"{where}.min_stock", "applies to 'prefer'; name warehouses")
    review = raw.get("review", "")
    if not isinstance(review, str) or len(review) > MAX_TEXT \
            or strict and not review.isprintable():
        raise InvalidArgument(f"{where}.review", f"must be a reason of at most {MAX_TEXT} "
                              "printable characters")
    rush = raw.get("rush", False)
    if not isinstance(rush, bool):
        raise InvalidArgument(f"{where}.rush", "must be true or false")
    split = raw.get("split", "")
    if split not in SPLITS:
        raise InvalidArgument(f"{where}.split", "must be 'together' or 'by_brand'")
    return Then(prefer, min_stock, frozenset(require), exclude, review, rush, split)


def _warehouse(where: str, value: str, ids: Mapping[str, str]) -> str:
    if value not in ids:
        raise InvalidArgument(where, f"unknown warehouse {value!r}")
    return ids[value]


def _weights(raw: Any) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise InvalidArgument("weights", "must be a mapping")
    _no_unknown("weights", raw, WEIGHTS)
    out = dict(DEFAULT_WEIGHTS)
    out.update({k: _number(f"weights.{k}", v, 0, 1000) for k, v in raw.items()})
    return out


def _no_unknown(where: str, raw: Mapping[str, Any], known: Collection[str]) -> None:
    for key in raw:
        if key not in known:
            path = f"{where}.{key}" if where else str(key)
            raise InvalidArgument(path, f"unknown field; known: {', '.join(known)}")


def _texts(where: str, raw: Any, allow_empty: bool = False, strict: bool = True) -> list[str]:
    """A condition value: one text or a list of texts (1..MAX_VALUES of them)."""
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or (not values and not allow_empty):
        raise InvalidArgument(where, "must be a text or a non-empty list of texts")
    if len(values) > MAX_VALUES:
        raise InvalidArgument(where, f"holds {len(values)} values, at most {MAX_VALUES}")
    for j, v in enumerate(values):
        if not isinstance(v, str) or not 0 < len(v) <= MAX_TEXT \
                or strict and not v.isprintable():
            raise InvalidArgument(f"{where}[{j}]", f"must be text of 1..{MAX_TEXT} printable "
                                  "characters")
    return values


def _known_place(where: str, kind: str, value: str, rank: int) -> None:
    """A province or city the geography does not know would never match: refused, with
    the closest known name."""
    geo = geography()
    if not geo.known(value, rank):
        close = geo.suggest(value, rank)
        raise InvalidArgument(where, f"unknown {kind} {value!r}" +
                              (f" (did you mean {close}?)" if close else ""))


def _number(where: str, raw: Any, low: float, high: float, integral: bool = False) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise InvalidArgument(where, "must be a number")
    if not low <= raw <= high or (integral and raw != int(raw)):
        kind = "a whole number" if integral else "a number"
        raise InvalidArgument(where, f"must be {kind} in {low:g}..{high:g}")
    return float(raw)

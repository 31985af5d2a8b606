"""The interception rule set: the same shape as the routing rule set (an ordered list of
named rules, each `when` -> `then`), versioned and hot-reloaded the same way (routing's
`rules_put` script, one hash per rule set), edited whole, switched on and off per rule.

    rules:
      - name: refund within 10 minutes
        when: {refund_within_minutes: 10}
        then: {hold: refund requested right after ordering, grade: A}
      - name: vague address
        when: {address_words: [附近, 旁边, 对面, 大概, 不详]}
        then: {hold: confirm the address, grade: A}
      - name: double 11 limit                     # a promotion rule, switched off after
        enabled: false
        when: {channel: [taobao], amount_above: 100000}
        then: {hold: promotion amount check, grade: B, suggest: SKU-LITE}
      - name: no carrier                          # the pre-shipping checks
        when: {no_carrier: true}
        then: {hold: no carrier serves this city, weight and promise, grade: C}
    carriers: [...]                               # tables.py: the carrier table
    substitutes: {MUG-RED: [MUG-BLUE]}            # and the substitute SKUs

`parse` checks everything and raises InvalidArgument naming the rule and field
(``rules[2].when.address_words[0]``), so a bad rule set changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reservation.domain.documents import count as _count
from reservation.domain.documents import mapping as _mapping
from reservation.domain.documents import no_unknown as _no_unknown
from reservation.domain.documents import text as _text
from reservation.domain.documents import texts as _texts
from reservation.errors import InvalidArgument
from reservation.interception import tables
from reservation.interception.tables import CarrierRow

MAX_RULES = 200
GRADES = ("A", "B", "C")
"""A: an automatic reminder, escalated after 2 minutes without action; B: a substitute
SKU is suggested; C: the order is frozen until a person decides."""
ADDRESS_PARTS = ("province", "city", "district")
CREDIT_GRADES = ("A", "B", "C", "D", "E")
"""A customer's credit grade as the seller keeps it, A the best: what an order may carry
and `credit_grades` may name (a grade outside the list would never match)."""
WHEN_FIELDS = ("refund_within_minutes", "address_words", "address_missing",
               "phone_orders_per_day_at_least", "amount_above", "payment", "channel",
               # the pre-shipping checks
               "credit_grades", "stock_short", "no_carrier", "tax_id_invalid",
               "params_missing")
_FLAGS = ("stock_short", "no_carrier", "tax_id_invalid")
THEN_FIELDS = ("hold", "grade", "suggest")


@dataclass(frozen=True)
class When:
    refund_within_minutes: int = 0
    address_words: tuple[str, ...] = ()
    address_missing: tuple[str, ...] = ()
    phone_orders_per_day_at_least: int = 0
    amount_above: int = 0
    """cents"""
    payment: frozenset[str] = frozenset()
    channel: frozenset[str] = frozenset()
    credit_grades: frozenset[str] = frozenset()
    """The customer's credit grade is one of these."""
    stock_short: bool = False
    """A line's units are not held for the order and the stock snapshot cannot cover
    them (a review suggests a substitute with stock, grade B, when the table has one)."""
    no_carrier: bool = False
    """No row of the carrier table serves the order's city, weight and promise."""
    tax_id_invalid: bool = False
    """A company customer's tax id is missing or fails GB 32100's check (taxid.py)."""
    params_missing: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """category -> custom parameters an order with a line of that category must carry."""


@dataclass(frozen=True)
class Then:
    hold: str
    grade: str = "C"
    suggest: str = ""


@dataclass(frozen=True)
class Rule:
    index: int
    name: str
    enabled: bool
    when: When
    then: Then


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    version: int = 0
    document: Mapping[str, Any] = field(default_factory=dict)
    carriers: tuple[CarrierRow, ...] = ()
    substitutes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


VAGUE_WORDS = ["附近", "旁边", "对面", "大概", "不详", "周边", "左右", "一带"]

# Seed 004's table (and seed 003's finance review), ready to put (`PutInterceptionRules`).
SEED_DOCUMENT: dict[str, Any] = {"rules": [
    {"name": "refund within 10 minutes", "when": {"refund_within_minutes": 10},
     "then": {"hold": "refund requested within 10 minutes of ordering: printing paused",
              "grade": "A"}},
    {"name": "vague address", "when": {"address_words": VAGUE_WORDS},
     "then": {"hold": "vague address: confirm with the buyer", "grade": "A"}},
    {"name": "incomplete address", "when": {"address_missing": list(ADDRESS_PARTS)},
     "then": {"hold": "address lacks province, city or district", "grade": "A"}},
    {"name": "same phone 3 times a day", "when": {"phone_orders_per_day_at_least": 3},
     "then": {"hold": "same receiver phone ordered 3 or more times today: frozen",
              "grade": "C"}},
    {"name": "large credit card payment",
     "when": {"amount_above": 500000, "payment": ["credit_card"]},
     "then": {"hold": "finance review: large credit card payment", "grade": "C"}},
]}
DEFAULT_DOCUMENT: dict[str, Any] = {"rules": []}
"""In force until an operator puts a rule set: nothing is intercepted."""


def parse(doc: Any, version: int = 0) -> RuleSet:
    if not isinstance(doc, Mapping):
        raise InvalidArgument("rules", "must be a mapping with a 'rules' list")
    _no_unknown("rules", doc, ("rules", "carriers", "substitutes"))
    raw = doc.get("rules", [])
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        raise InvalidArgument("rules", f"must be a list of at most {MAX_RULES} rules")
    rules = tuple(_rule(i, r) for i, r in enumerate(raw))
    names = [r.name for r in rules]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InvalidArgument(f"rules[{i}].name", f"{name!r} is used twice")
    carriers = tables.parse_carriers(doc.get("carriers", []))
    substitutes = tables.parse_substitutes(doc.get("substitutes", {}))
    _tables_used(rules, carriers, substitutes)
    return RuleSet(rules, version, dict(doc), carriers, substitutes)


def _tables_used(rules: tuple[Rule, ...], carriers: tuple[CarrierRow, ...],
                 substitutes: Mapping[str, Any]) -> None:
    """A rule that needs a table the document lacks would hold every order, and a table
    no rule reads would never be used: both are refused rather than left to surprise."""
    for r in rules:
        if r.when.no_carrier and not carriers:
            raise InvalidArgument(f"rules[{r.index}].when.no_carrier",
                                  "the document has no carriers table: every order would "
                                  "be held")
    if substitutes and not any(r.when.stock_short for r in rules):
        raise InvalidArgument("substitutes", "no rule checks stock_short, so no review "
                              "would ever suggest them")


def _rule(i: int, raw: Any) -> Rule:
    where = f"rules[{i}]"
    if not isinstance(raw, Mapping):
        raise InvalidArgument(where, "must be a mapping")
    _no_unknown(where, raw, ("name", "enabled", "when", "then"))
    name = _text(f"{where}.name", raw.get("name"))
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidArgument(f"{where}.enabled", "must be true or false")
    when = _when(f"{where}.when", raw.get("when"))
    then = _then(f"{where}.then", raw.get("then"))
    return Rule(i, name, enabled, when, then)


def _when(where: str, raw: Any) -> When:
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidArgument(where, "must be a non-empty mapping of conditions")
    _no_unknown(where, raw, WHEN_FIELDS)
    missing = tuple(_texts(f"{where}.address_missing", raw.get("address_missing", [])))
    for j, part in enumerate(missing):
        if part not in ADDRESS_PARTS:
            raise InvalidArgument(f"{where}.address_missing[{j}]",
                                  f"must be one of {', '.join(ADDRESS_PARTS)}")
    payment = _texts(f"{where}.payment", raw.get("payment", []))
    if payment and "amount_above" not in raw:
        raise InvalidArgument(f"{where}.payment", "is only checked with amount_above")
    return When(
        refund_within_minutes=_count(f"{where}.refund_within_minutes",
                                     raw.get("refund_within_minutes", 0), 24 * 60),
        address_words=tuple(_texts(f"{where}.address_words", raw.get("address_words", []))),
        address_missing=missing,
        phone_orders_per_day_at_least=_count(f"{where}.phone_orders_per_day_at_least",
                                             raw.get("phone_orders_per_day_at_least", 0),
                                             10_000),
        amount_above=_count(f"{where}.amount_above", raw.get("amount_above", 0), 10**12),
        payment=frozenset(payment),
        channel=frozenset(_texts(f"{where}.channel", raw.get("channel", []))),
        credit_grades=_grades(f"{where}.credit_grades", raw.get("credit_grades", [])),
        params_missing=_params(f"{where}.params_missing", raw.get("params_missing", {})),
        **{flag: _flag(f"{where}.{flag}", raw[flag]) for flag in _FLAGS if flag in raw})


def _flag(where: str, value: Any) -> bool:
    if value is not True:
        raise InvalidArgument(where, "must be true (false checks nothing: leave it out)")
    return True


def _grades(where: str, raw: Any) -> frozenset[str]:
    grades = _texts(where, raw)
    for j, grade in enumerate(grades):
        if grade not in CREDIT_GRADES:
            raise InvalidArgument(f"{where}[{j}]", f"must be one of {', '.join(CREDIT_GRADES)}"
                                  " (no order carries another grade)")
    return frozenset(grades)


def _params(where: str, raw: Any) -> dict[str, tuple[str, ...]]:
    _mapping(where, raw, "of category -> list of required parameters")
    out = {}
    for category, names in raw.items():
        listed = _texts(f"{where}.{category}", names)
        if not listed:
            raise InvalidArgument(f"{where}.{category}", "must name at least one parameter")
        out[_text(where, category)] = tuple(listed)
    return out


def _then(where: str, raw: Any) -> Then:
    if not isinstance(raw, Mapping):
        raise InvalidArgument(where, "must be a mapping with 'hold'")
    _no_unknown(where, raw, THEN_FIELDS)
    grade = raw.get("grade", "C")
    if grade not in GRADES:
        raise InvalidArgument(f"{where}.grade", f"must be one of {', '.join(GRADES)}")
    suggest = raw.get("suggest", "")
    if suggest and grade != "B":
        raise InvalidArgument(f"{where}.suggest", "a substitute SKU is grade B's answer")
    return Then(_text(f"{where}.hold", raw.get("hold")), grade,
                _text(f"{where}.suggest", suggest) if suggest else "")

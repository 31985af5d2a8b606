"""Which rules an order meets: the conditions of the rule language, evaluated without I/O
on what the check gathered (the order, today's orders of its phone, the facts sent with
it, a stock snapshot). A rule's conditions all hold for a hit; each condition says in
the hit's detail what it found, so the review's reason shows the facts checked.

The pre-shipping checks (credit grade, stock snapshot, carrier, tax id, custom
parameters) read `Facts`: what the adapter sends with the order at a sync (the
customer's grade and type, the invoice's tax id, the parcel's weight, the delivery
promise, the custom parameters), read at that sync and not stored, like the payment
method.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from reservation.errors import InvalidArgument
from reservation.interception import tables, taxid
from reservation.interception.rules import CREDIT_GRADES, Rule, RuleSet, When
from reservation.ordersync import validation as ov
from reservation.ordersync.effects import Units
from reservation.ordersync.model import Order
from reservation.ordersync.states import OrderState

S = OrderState
COMPANY = "company"
CUSTOMER_TYPES = ("", "person", COMPANY)


@dataclass(frozen=True)
class Facts:
    """What an adapter sends with an order for the checks; empty: not known."""

    payment: str = ""
    credit_grade: str = ""
    customer_type: str = ""
    tax_id: str = ""
    weight_g: int = 0
    promised_hours: int = 0
    params: Mapping[str, str] = field(default_factory=dict)


MAX_PARAMS = 50


def validated(where: str, f: Facts) -> Facts:
    """Facts an adapter sent, refused naming the field when they cannot be read. A tax
    id failing its check is not refused here: holding the order for review is the
    rules' answer, and the order itself is good."""
    ov.text(f"{where}payment_method", f.payment)
    p = f"{where}pre_shipping."
    if f.credit_grade and f.credit_grade not in CREDIT_GRADES:
        raise InvalidArgument(f"{p}credit_grade", f"must be one of {', '.join(CREDIT_GRADES)}"
                              " or empty")
    if f.customer_type not in CUSTOMER_TYPES:
        raise InvalidArgument(f"{p}customer_type", "must be person, company or empty")
    ov.text(f"{p}tax_id", f.tax_id)
    if not 0 <= f.weight_g <= tables.MAX_WEIGHT_G:
        raise InvalidArgument(f"{p}weight_grams", f"must be 0 to {tables.MAX_WEIGHT_G}")
    if not 0 <= f.promised_hours <= tables.MAX_HOURS:
        raise InvalidArgument(f"{p}promised_hours", f"must be 0 to {tables.MAX_HOURS}")
    if len(f.params) > MAX_PARAMS:
        raise InvalidArgument(f"{p}custom_params", f"holds more than {MAX_PARAMS} parameters")
    for name, value in f.params.items():
        ov.text(f"{p}custom_params[{name!r}]", name, required=True)
        ov.text(f"{p}custom_params[{name!r}]", value)
    return f


@dataclass(frozen=True)
class Subject:
    """Everything one evaluation reads."""

    order: Order
    facts: Facts = field(default_factory=Facts)
    phone_orders_today: int = 0
    available: Mapping[str, int] = field(default_factory=dict)
    """SKU -> units available now over its warehouses (read only when a rule needs it)."""
    rules: RuleSet = field(default_factory=RuleSet)


@dataclass(frozen=True)
class Hit:
    rule: Rule
    detail: str
    suggest: str = ""
    """A substitute SKU with stock, found for this order (a stock_short hit)."""

    @property
    def grade(self) -> str:
        """B when a substitute was found: the stock is short but the order can go on."""
        return "B" if self.suggest else self.rule.then.grade

    @property
    def suggestion(self) -> str:
        return self.suggest or self.rule.then.suggest


def evaluate(s: Subject) -> list[Hit]:
    """The enabled rules the order meets, in rule order."""
    hits = []
    for rule in s.rules.rules:
        w = rule.when
        if not rule.enabled or (w.channel and s.order.channel not in w.channel):
            continue
        found = [check(w, s) for field_, check in CONDITIONS if _set(w, field_)]
        if all(d is not None for d in found):  # (a channel-only rule holds them all)
            details = [d for d in found if d]
            hits.append(Hit(rule, "; ".join(details), _substitute(w, s)))
    return hits


def _set(w: When, name: str) -> bool:
    return bool(getattr(w, name))


def needs_stock(order: Order) -> bool:
    """The order's units are not held for it (the hub's stock was refused), so only a
    snapshot of the counters says whether they could be."""
    return order.units == Units.NONE


def short_lines(s: Subject) -> dict[str, int]:
    """SKU -> units the order needs and the snapshot cannot cover."""
    if not needs_stock(s.order):
        return {}
    need: dict[str, int] = {}
    for line in s.order.lines:
        need[line.sku] = need.get(line.sku, 0) + line.quantity
    return {sku: n for sku, n in need.items() if s.available.get(sku, 0) < n}


def _substitute(w: When, s: Subject) -> str:
    if not w.stock_short:
        return ""
    short = short_lines(s)
    return next((sub for sku, n in short.items()
                 if (sub := tables.substitute(s.rules.substitutes, sku, n, s.available))), "")


def amount(order: Order) -> int:
    return (order.paid_cents or order.total_cents
            or sum(ln.quantity * ln.price_cents for ln in order.lines))


# Each condition: None when the order does not meet it, else what it found.
def _refund(w: When, s: Subject) -> str | None:
    o = s.order
    age = o.modified_at_ms - o.created_at_ms
    if o.state != S.REFUND_REQUESTED or age > w.refund_within_minutes * 60_000:
        return None
    return f"refund requested {age // 1000} s after ordering"


def _vague(w: When, s: Subject) -> str | None:
    a = s.order.address
    text = f"{a.province} {a.city} {a.district} {a.detail}"
    found = [word for word in w.address_words if word in text]
    return "address says " + ", ".join(found) if found else None


def _incomplete(w: When, s: Subject) -> str | None:
    missing = [p for p in w.address_missing if not getattr(s.order.address, p).strip()]
    return "address lacks " + ", ".join(missing) if missing else None


def _phone(w: When, s: Subject) -> str | None:
    if s.phone_orders_today < w.phone_orders_per_day_at_least:
        return None
    return f"{s.phone_orders_today} orders from this phone today"


def _amount(w: When, s: Subject) -> str | None:
    total, payment = amount(s.order), s.facts.payment
    if total <= w.amount_above or (w.payment and payment not in w.payment):
        return None
    return f"amount {total / 100:.2f}" + (f" by {payment}" if payment else "")


def _credit(w: When, s: Subject) -> str | None:
    grade = s.facts.credit_grade
    return f"customer credit grade {grade}" if grade in w.credit_grades else None


def _stock(w: When, s: Subject) -> str | None:
    short = short_lines(s)
    if not short:
        return None
    return "stock short: " + ", ".join(
        f"{sku} needs {n}, {s.available.get(sku, 0)} available" for sku, n in short.items())


def _carrier(w: When, s: Subject) -> str | None:
    f = s.facts
    if tables.choose(s.rules.carriers, s.order.address.city, f.weight_g,
                     f.promised_hours) is not None:
        return None
    promise = f", delivery within {f.promised_hours} h" if f.promised_hours else ""
    return f"no carrier serves {s.order.address.city}, {f.weight_g} g{promise}"


def _tax_id(w: When, s: Subject) -> str | None:
    f = s.facts
    if f.customer_type != COMPANY:
        return None
    if not f.tax_id.strip():
        return "company customer without a tax id"
    why = taxid.problem(f.tax_id)
    return f"tax id {f.tax_id.strip()} {why}" if why else None


def _params(w: When, s: Subject) -> str | None:
    missing: list[str] = []
    for line in s.order.lines:
        for name in w.params_missing.get(line.category.strip(), ()):
            if not s.facts.params.get(name, "").strip() and name not in missing:
                missing.append(name)
    return "custom parameters missing: " + ", ".join(missing) if missing else None


CONDITIONS: tuple[tuple[str, Callable[[When, Subject], str | None]], ...] = (
    ("refund_within_minutes", _refund), ("address_words", _vague),
    ("address_missing", _incomplete), ("phone_orders_per_day_at_least", _phone),
    ("amount_above", _amount), ("credit_grades", _credit), ("stock_short", _stock),
    ("no_carrier", _carrier), ("tax_id_invalid", _tax_id), ("params_missing", _params),
)
"""Every `when` field but `channel` (checked first) and `payment` (with amount_above)."""

"""The data tables of the interception rule set: the carrier table (which carrier ships
an order, by destination city, weight band and delivery promise, at what cost) and the
substitute SKUs (what a review suggests when a SKU is short). They sit beside the rules
in the same document, so they are versioned, validated and hot-reloaded with them.

    carriers:
      - {carrier: 顺丰, cities: [杭州, 上海], weight_to_g: 20000, within_hours: 24, cost: 2300}
      - {carrier: 中通, weight_to_g: 20000, within_hours: 72, cost: 800}
      - {carrier: 德邦, weight_from_g: 20000, weight_to_g: 1000000, within_hours: 96, cost: 4500}
    substitutes:
      MUG-RED: [MUG-BLUE, MUG-WHITE]

A row serves an order when its cities name the order's city (no cities: every city), the
order's weight lies in [weight_from_g, weight_to_g), and the row's `within_hours` keeps
the order's promise (at most the promised hours; an order without a promise takes any
row). Of the rows that serve an order the cheapest is chosen, the first in the table on
a tie. A row that could never serve an order (an empty weight band, a city the
geography does not know) is refused, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reservation.domain.documents import count, mapping, no_unknown, text, texts
from reservation.errors import InvalidArgument
from reservation.routing.geography import geography, short

MAX_ROWS = 500
MAX_WEIGHT_G = 10**9
MAX_HOURS = 24 * 60
MAX_COST = 10**9
CARRIER_FIELDS = ("carrier", "cities", "weight_from_g", "weight_to_g", "within_hours", "cost")


@dataclass(frozen=True)
class CarrierRow:
    index: int
    carrier: str
    cities: frozenset[str]
    """Short city names (杭州, not 杭州市); empty: every city."""
    weight_from_g: int
    weight_to_g: int
    within_hours: int
    cost_cents: int

    def serves(self, city: str, weight_g: int, promised_hours: int) -> bool:
        return ((not self.cities or short(city.strip()) in self.cities)
                and self.weight_from_g <= weight_g < self.weight_to_g
                and (not promised_hours or self.within_hours <= promised_hours))


@dataclass(frozen=True)
class CarrierChoice:
    carrier: str
    cost_cents: int
    row: int


def choose(rows: Sequence[CarrierRow], city: str, weight_g: int,
           promised_hours: int) -> CarrierChoice | None:
    """The cheapest row that serves the order (the first on a tie); None: none does."""
    best = min((r for r in rows if r.serves(city, weight_g, promised_hours)),
               key=lambda r: (r.cost_cents, r.index), default=None)
    return CarrierChoice(best.carrier, best.cost_cents, best.index) if best else None


def parse_carriers(raw: Any) -> tuple[CarrierRow, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_ROWS:
        raise InvalidArgument("carriers", f"must be a list of at most {MAX_ROWS} rows")
    return tuple(_row(i, r) for i, r in enumerate(raw))


def _row(i: int, raw: Any) -> CarrierRow:
    where = f"carriers[{i}]"
    mapping(where, raw, "with carrier, weight_to_g, within_hours and cost")
    no_unknown(where, raw, CARRIER_FIELDS)
    cities = texts(f"{where}.cities", raw.get("cities", []))
    geo = geography()
    for j, city in enumerate(cities):
        if not geo.known(city, 1):
            close = geo.suggest(city, 1)
            raise InvalidArgument(f"{where}.cities[{j}]", f"unknown city {city!r}: the row "
                                  "would never serve it" +
                                  (f" (did you mean {close}?)" if close else ""))
    low = count(f"{where}.weight_from_g", raw.get("weight_from_g", 0), MAX_WEIGHT_G)
    high = count(f"{where}.weight_to_g", raw.get("weight_to_g"), MAX_WEIGHT_G)
    if high <= low:
        raise InvalidArgument(f"{where}.weight_to_g", f"must be above weight_from_g ({low}): "
                              "an empty weight band never serves an order")
    hours = count(f"{where}.within_hours", raw.get("within_hours"), MAX_HOURS)
    if hours == 0:
        raise InvalidArgument(f"{where}.within_hours", "must be 1 or more hours")
    return CarrierRow(i, text(f"{where}.carrier", raw.get("carrier")),
                      frozenset(short(c) for c in cities), low, high, hours,
                      count(f"{where}.cost", raw.get("cost"), MAX_COST))


def parse_substitutes(raw: Any) -> dict[str, tuple[str, ...]]:
    """SKU -> its substitutes, in the order a review prefers them."""
    mapping("substitutes", raw, "of SKU -> list of substitute SKUs")
    out: dict[str, tuple[str, ...]] = {}
    for sku, subs in raw.items():
        where = f"substitutes.{sku}"
        text(where, sku)
        listed = texts(where, subs)
        if not listed:
            raise InvalidArgument(where, "must list at least one substitute SKU")
        if sku in listed:
            raise InvalidArgument(f"{where}[{listed.index(sku)}]",
                                  "a SKU cannot substitute itself")
        out[sku] = tuple(listed)
    return out


def substitute(subs: Mapping[str, Sequence[str]], sku: str, needed: int,
               available: Mapping[str, int]) -> str:
    """The first substitute of `sku` with `needed` units available now; "" when none."""
    return next((s for s in subs.get(sku, ()) if available.get(s, 0) >= needed), "")

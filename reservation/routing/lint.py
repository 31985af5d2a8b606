"""Rules that can never do what they say, given the warehouses defined: warned about in
PutRoutingRules' reply (the rule set is still put: warehouses may be added later).

A rule can be well-formed and still never act: every warehouse excluded, capabilities
no warehouse has, an amount range that is empty, a city outside the only region named.
Matching would then pass it by silently; this says so when the rule is put.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from reservation.routing.geography import geography, short
from reservation.routing.rules import Rule, RuleSet
from reservation.routing.warehouses import Warehouse


def never_matching(ruleset: RuleSet, warehouses: Collection[Warehouse]) -> list[str]:
    active = [w for w in warehouses if w.active]
    out: list[str] = []
    for rule in ruleset.rules:
        where = f"rules[{rule.index}] ({rule.name!r})"
        out += [f"{where}: {why}" for why in _whys(rule, active)]
    return out


def _whys(rule: Rule, active: list[Warehouse]) -> list[str]:
    t, n, v = rule.then, rule.when.numbers, rule.when.values
    whys: list[str] = []
    ids = {w.warehouse_id for w in active}
    if t.exclude and ids and ids <= t.exclude:
        whys.append("excludes every active warehouse: its lines can never be routed")
    if t.require:
        able = [w for w in active if t.require <= set(w.capabilities)]
        if not able:
            whys.append(f"no active warehouse has {'+'.join(sorted(t.require))}: its lines "
                        "can never be routed")
        elif t.prefer and not set(t.prefer) & {w.warehouse_id for w in able}:
            whys.append(f"none of the preferred warehouses has "
                        f"{'+'.join(sorted(t.require))}: the preference never applies")
    if t.prefer and set(t.prefer) <= t.exclude:
        whys.append("prefers only warehouses it also excludes")
    inactive = [w for w in t.prefer if w not in ids]
    if t.prefer and len(inactive) == len(t.prefer):
        whys.append(f"prefers only inactive warehouses ({', '.join(inactive)})")
    if "amount_above" in n and "amount_at_most" in n and n["amount_above"] >= n["amount_at_most"]:
        whys.append(f"no amount is above {n['amount_above']:g} and at most "
                    f"{n['amount_at_most']:g}: it never matches")
    whys += _places_apart(v)
    return whys


def _places_apart(values: Mapping[str, frozenset[str]]) -> list[str]:
    """A city or province condition that lies outside every region (or province) the
    same rule names: the two conditions together never match."""
    geo = geography()
    whys = []
    regions, provinces = values.get("region"), values.get("province")
    if "city" in values:
        in_province = {c for c in values["city"] if short(geo.province_of(c)) in provinces} \
            if provinces else set(values["city"])
        if provinces and not in_province:
            whys.append(f"no city of {sorted(values['city'])} is in "
                        f"{sorted(provinces)}: it never matches")
        if regions and not {c for c in values["city"]
                            if geo.region_of(geo.province_of(c)) in regions}:
            whys.append(f"no city of {sorted(values['city'])} is in region "
                        f"{sorted(regions)}: it never matches")
    if provinces and regions and not {p for p in provinces if geo.region_of(p) in regions}:
        whys.append(f"no province of {sorted(provinces)} is in region {sorted(regions)}: "
                    "it never matches")
    return whys

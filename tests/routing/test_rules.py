"""Rule sets: bad rules are InvalidArgument naming the rule index and field."""

from __future__ import annotations

from typing import Any

import pytest

from reservation.errors import InvalidArgument
from reservation.routing import rules
from reservation.routing.geography import geography
from reservation.routing.warehouses import Warehouse, validate

WAREHOUSES = [validate(Warehouse("WH-EAST-A", "华东前置仓A", city="杭州"), geography()),
              validate(Warehouse("WH-COLD", "上海冷仓", city="上海",
                                 capabilities=("COLD_CHAIN",)), geography())]


def doc(*rule: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"rules": list(rule), **top}


def field_of(document: Any) -> str:
    with pytest.raises(InvalidArgument) as err:
        rules.parse(document, WAREHOUSES)
    return err.value.field


def test_a_valid_rule_set_parses_names_to_ids() -> None:
    rs = rules.parse(doc({"name": "milk", "when": {"category": ["奶粉"],
                                                    "city": ["上海市", "杭州"]},
                          "then": {"prefer": ["华东前置仓A"]}}), WAREHOUSES)
    assert rs.rules[0].then.prefer == ("WH-EAST-A",)
    assert rs.rules[0].when.values["city"] == {"上海", "杭州"}


def test_every_condition_and_action_parses() -> None:
    rs = rules.parse(doc({"when": {"region": ["华东", "华南"], "province": "浙江省",
                                   "channel": ["jd"], "payment": ["CREDIT_CARD"],
                                   "customer_grade": ["VIP"], "amount_above": 500,
                                   "amount_at_most": 10_000, "promised_hours_at_most": 24,
                                   "sku": ["A"], "sku_prefix": ["BP-"], "brand": ["b"]},
                          "then": {"prefer": ["WH-EAST-A"], "min_stock": 5,
                                   "require": ["COLD_CHAIN"], "exclude": ["上海冷仓"],
                                   "review": "check", "rush": True, "split": "by_brand"}}),
                     WAREHOUSES)
    rule = rs.rules[0]
    assert rule.when.values["region"] == {"华东", "华南"}
    assert rule.when.values["province"] == {"浙江"}
    assert rule.then.exclude == {"WH-COLD"} and rule.then.split == "by_brand"


@pytest.mark.parametrize(("document", "field"), [
    (doc({"when": {}, "then": {"prefer": ["WH-NOPE"]}}), "rules[0].then.prefer[0]"),
    (doc({"then": {"rush": True}}, {"then": {"require": ["TELEPORT"]}}),
     "rules[1].then.require[0]"),
    (doc({"when": {"colour": ["red"]}, "then": {"rush": True}}), "rules[0].when.colour"),
    (doc({"when": {"amount_above": "lots"}, "then": {"rush": True}}),
     "rules[0].when.amount_above"),
    (doc({"when": {"city": []}, "then": {"rush": True}}), "rules[0].when.city"),
    (doc({"when": {"region": ["火星"]}, "then": {"rush": True}}), "rules[0].when.region"),
    (doc({"when": {}, "then": {}}), "rules[0].then"),
    (doc({"when": {}, "then": {"min_stock": 5}}), "rules[0].then.min_stock"),
    (doc({"when": {}, "then": {"split": "sideways"}}), "rules[0].then.split"),
    (doc({"when": {}, "then": {"exclude": ["WH-NOPE"]}}), "rules[0].then.exclude[0]"),
    (doc(weights={"speed": 1}), "weights.speed"),
    (doc(load_threshold=0), "load_threshold"),
    ({"rules": "all of them"}, "rules"),
    (["not", "a", "mapping"], "rules"),
    (doc("just text"), "rules[0]"),
])
def test_bad_rule_names_rule_and_field(document: Any, field: str) -> None:
    assert field_of(document) == field

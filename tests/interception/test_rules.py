"""The interception rule set: the seed rules parse, bad documents are refused naming the
field, and the pure evaluation of each condition."""

from __future__ import annotations

import pytest

from reservation.errors import InvalidArgument
from reservation.interception import rules
from reservation.interception.service import ESCALATE_AFTER_MS, Review


def test_the_seed_rules_parse_and_the_vague_words_are_data() -> None:
    rs = rules.parse(rules.SEED_DOCUMENT)
    assert [r.name for r in rs.rules][:2] == ["refund within 10 minutes", "vague address"]
    assert "附近" in rs.rules[1].when.address_words
    assert rules.parse(rules.DEFAULT_DOCUMENT).rules == ()


@pytest.mark.parametrize("doc,field", [
    ({"rules": [{"name": "x", "when": {"nearby": 1}, "then": {"hold": "h"}}]},
     "rules[0].when.nearby"),
    ({"rules": [{"name": "x", "when": {"address_words": ["", "a"]}, "then": {"hold": "h"}}]},
     "rules[0].when.address_words[0]"),
    ({"rules": [{"name": "x", "when": {"refund_within_minutes": 10},
                 "then": {"hold": "h", "grade": "D"}}]}, "rules[0].then.grade"),
    ({"rules": [{"name": "x", "when": {"refund_within_minutes": 10},
                 "then": {"hold": "h", "suggest": "SKU-2"}}]}, "rules[0].then.suggest"),
    ({"rules": [{"name": "x", "when": {"payment": ["credit_card"]}, "then": {"hold": "h"}}]},
     "rules[0].when.payment"),
    ({"rules": [{"name": "x", "when": {"address_missing": ["street"]}, "then": {"hold": "h"}}]},
     "rules[0].when.address_missing[0]"),
    ({"rules": [{"name": "x", "enabled": "yes", "when": {"amount_above": 1},
                 "then": {"hold": "h"}}]}, "rules[0].enabled"),
    ({"rules": [{"name": "x", "when": {"amount_above": 1}, "then": {"hold": "h"}},
                {"name": "x", "when": {"amount_above": 2}, "then": {"hold": "h"}}]},
     "rules[1].name"),
])
def test_a_bad_rule_set_is_refused_naming_the_field(doc: dict, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        rules.parse(doc)
    assert caught.value.field == field


def test_grade_a_escalates_after_two_minutes_without_action() -> None:
    r = Review("jd", "s", "1", "vague address", "A", "why", "", "ROUTED", 1000, 1)
    assert not r.escalated(1000 + ESCALATE_AFTER_MS - 1)
    assert r.escalated(1000 + ESCALATE_AFTER_MS)
    assert not Review("jd", "s", "1", "r", "C", "why", "", "ROUTED", 1000, 1).escalated(10**9)

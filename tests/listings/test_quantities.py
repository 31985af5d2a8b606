"""What listings may show, over random stock and rules: never more than is available in
total across the channels, never below zero, nothing past the safety stock, nothing on a
channel whose breaker is open. Stated from the promise, not from the allotment code."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reservation.listings import rules as rules_
from reservation.listings.quantities import SkuStock, quantity

CHANNELS = ("taobao", "jd", "pdd", "douyin", "wechat", "pos")


@st.composite
def rule_documents(draw: st.DrawFn) -> dict:
    named = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=6, unique=True))
    shares: dict[str, object] = {}
    left = 1000  # tenths of a percent: what an operator writes, e.g. 33.3
    for ch in named:
        tenths = draw(st.integers(0, left))
        shares[ch] = tenths / 10
        left -= tenths
    if draw(st.booleans()):
        shares[named[-1]] = "rest"
    reserve = {f"{ch}/main": draw(st.integers(0, 50))
               for ch in draw(st.lists(st.sampled_from(CHANNELS), max_size=2, unique=True))}
    then: dict[str, object] = {"shares": shares}
    if reserve:
        then["reserve"] = reserve
    return {"rules": [{"name": "r", "when": {"sku": ["X"]}, "then": then}],
            "default_share": draw(st.floats(0, 100, allow_nan=False))}


@settings(max_examples=300, deadline=None)
@given(available=st.dictionaries(st.sampled_from(["W1", "W2", "W3"]), st.integers(0, 10_000)),
       safety=st.integers(0, 500), doc=rule_documents(), matches=st.booleans(),
       open_=st.frozensets(st.sampled_from(CHANNELS)))
def test_listings_never_promise_more_than_is_available(
        available: dict[str, int], safety: int, doc: dict, matches: bool,
        open_: frozenset[str]) -> None:
    rs = rules_.parse(doc)
    stock = SkuStock("X" if matches else "Y", available, safety, open_)
    shown = {ch: quantity(stock, ch, "main", rs) for ch in CHANNELS}
    total = sum(available.values())
    assert all(q.quantity >= 0 for q in shown.values())
    assert all(q.quantity <= max(0, total - safety) for q in shown.values())
    if matches:  # one rule shares one pool among the channels: the promise holds in total
        assert sum(q.quantity for q in shown.values()) <= max(0, total - safety)
    for ch in open_:
        assert shown[ch].quantity == 0 and not shown[ch].listed
    for ch in set(CHANNELS) - open_:
        assert shown[ch].listed


def test_shares_written_in_tenths_that_make_100_are_accepted() -> None:
    doc = {"rules": [{"name": "thirds", "when": {"sku": ["X"]},
                      "then": {"shares": {"a": 33.3, "b": 33.3, "c": 33.4}}}]}
    stock = SkuStock("X", {"W": 1000}, 0, frozenset())
    rs = rules_.parse(doc)
    assert [quantity(stock, ch, "main", rs).quantity for ch in "abc"] == [333, 333, 334]

"""What listings may show, over random stock and rules: never more than is available in
total across the channels, never below zero, nothing past the safety stock, nothing on a
channel whose breaker is open. Stated from the promise, not from the allotment code."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from reservation.listings import rules as rules_
from reservation.listings.quantities import SkuStock, quantity
from reservation.listings.velocity import Velocity

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


# -- the dynamic safety: what a fast sale may already have sold that the hub has not seen ---

DYNAMIC = {"rules": [{"name": "live", "when": {"sku": ["X"]}, "then": {
    "shares": {"douyin": 60, "tmall": 30, "pos": "rest"},
    "dynamic_safety": {"lag_s": 2, "close": ["douyin"]}}}]}


@settings(max_examples=300, deadline=None)
@given(available=st.integers(0, 10_000), safety=st.integers(0, 500),
       velocity=st.floats(0, 5_000, allow_nan=False))
def test_a_fast_sale_lists_at_most_what_is_left_after_lag_s_of_sales(
        available: int, safety: int, velocity: float) -> None:
    # Stated from the promise: what the channels may have sold in the last lag_s seconds
    # (velocity x lag_s, rounded up) is off every listing, together with the safety stock.
    rs = rules_.parse(DYNAMIC)
    stock = SkuStock("X", {"W1": available}, safety, frozenset(), velocity)
    shown = {ch: quantity(stock, ch, "main", rs) for ch in ("douyin", "tmall", "pos")}
    room = max(0, available - safety - math.ceil(velocity * 2))
    assert sum(q.quantity for q in shown.values()) <= room
    if room == 0 and velocity > 0:  # selling, nothing to show: the live listing closes
        assert not shown["douyin"].listed and shown["douyin"].quantity == 0
        assert shown["tmall"].listed and shown["tmall"].quantity == 0
    else:
        assert all(q.listed for q in shown.values())


def test_without_a_sale_the_dynamic_safety_holds_back_nothing() -> None:
    rs = rules_.parse(DYNAMIC)
    stock = SkuStock("X", {"W1": 100}, 0, frozenset(), 0.0)
    assert quantity(stock, "douyin", "main", rs).quantity == 60
    assert quantity(stock, "douyin", "main", rs).listed


def test_the_velocity_is_what_was_taken_over_the_window_and_never_negative() -> None:
    v = Velocity()
    assert v.observe("X", 0, 0, window_s=10) == 0
    assert v.observe("X", 1_000, 50, window_s=10) == 50  # 50 units in 1 s
    assert v.observe("X", 2_000, 150, window_s=10) == 75  # 150 in 2 s
    # 12 s in: the window reaches back to the sample at 2 s, the latest before it.
    assert v.observe("X", 12_000, 150, window_s=10) == 0
    assert v.observe("X", 13_000, 100, window_s=10) == 0  # released units: no sale
    assert v.observe("X", 13_050, 120, window_s=10) >= 0  # too close: folded in
    assert v.observe("Y", 13_050, 7, window_s=10) == 0  # each SKU on its own


def test_the_velocity_forgets_the_least_recently_asked_sku_past_its_bound() -> None:
    v = Velocity(max_skus=2)
    v.observe("A", 0, 0, 10)
    v.observe("B", 0, 0, 10)
    v.observe("A", 1_000, 10, 10)
    v.observe("C", 1_000, 0, 10)  # B, asked least recently, is forgotten
    assert v.observe("A", 2_000, 20, 10) == 10
    assert v.observe("B", 2_000, 99, 10) == 0  # a first sample again

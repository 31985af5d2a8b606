"""ListingService through gRPC on real Redis: what each channel listing may show, as the
rule is stated (available minus safety stock, shared by the rule set, 0 and closed while
the channel's breaker is open), what it was told, resyncs and the rule set's versions."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest

from reservation.v1 import guard_service_pb2 as gpb
from reservation.v1 import guard_service_pb2_grpc as ggrpc
from reservation.v1 import listing_service_pb2 as lpb
from reservation.v1 import listing_service_pb2_grpc as lgrpc
from tests.helpers.reservations import line, load, order, reserve
from tests.helpers.server import Stubs
from tests.helpers.waiting import wait_until


@pytest.fixture
def listing(stubs: Stubs) -> lgrpc.ListingServiceStub:
    return lgrpc.ListingServiceStub(stubs.channel)


@pytest.fixture
def guard(stubs: Stubs) -> ggrpc.GuardServiceStub:
    return ggrpc.GuardServiceStub(stubs.channel)


async def shown(listing: lgrpc.ListingServiceStub, channel: str, sku: str,
                shop: str = "main") -> tuple[int, bool]:
    reply = await listing.GetListingQuantities(lpb.GetListingQuantitiesRequest(
        channel=channel, shop=shop, skus=[sku]), timeout=10)
    [q] = reply.quantities
    return q.quantity, q.listed


async def put(listing: lgrpc.ListingServiceStub, doc: dict[str, Any], **kw: Any) -> lpb.ListingRules:
    return (await listing.PutListingRules(lpb.PutListingRulesRequest(
        document_json=json.dumps(doc), **kw), timeout=10)).rules


LIVE = {"rules": [{"name": "live", "when": {"sku": ["PHONE"]},
                   "then": {"shares": {"douyin": 60, "tmall": 30, "pos": "rest"}}}]}


async def test_without_rules_every_listing_shows_all_that_is_available(
        stubs: Stubs, listing: lgrpc.ListingServiceStub) -> None:
    await load(stubs, ("PHONE", "WH-A", 70), ("PHONE", "WH-B", 31))
    for channel in ("taobao", "jd", "douyin"):
        assert await shown(listing, channel, "PHONE") == (101, True)


async def test_shares_are_floors_of_the_pool_and_the_rest_takes_the_remainder(
        stubs: Stubs, listing: lgrpc.ListingServiceStub) -> None:
    await load(stubs, ("PHONE", "WH-A", 101))
    await put(listing, LIVE)
    told = {ch: (await shown(listing, ch, "PHONE"))[0] for ch in ("douyin", "tmall", "pos", "jd")}
    # 60% of 101 is 60.6 -> 60; 30% is 30.3 -> 30; the rest is 101 - 90 = 11; jd is not named.
    assert told == {"douyin": 60, "tmall": 30, "pos": 11, "jd": 0}
    assert sum(told.values()) <= 101


async def test_reserved_units_come_off_the_top_and_shares_split_what_is_left(
        stubs: Stubs, listing: lgrpc.ListingServiceStub) -> None:
    await load(stubs, ("PHONE", "WH-A", 50))
    await put(listing, {"rules": [{"name": "shop", "when": {"sku_prefix": ["PH"]},
                                   "then": {"reserve": {"taobao/flagship": 20},
                                            "shares": {"taobao": 50, "douyin": 50}}}]})
    assert await shown(listing, "taobao", "PHONE", shop="flagship") == (20, True)
    assert await shown(listing, "taobao", "PHONE", shop="outlet") == (15, True)
    assert await shown(listing, "douyin", "PHONE") == (15, True)


async def test_the_safety_stock_is_kept_off_every_listing(
        stubs: Stubs, listing: lgrpc.ListingServiceStub, guard: ggrpc.GuardServiceStub) -> None:
    await load(stubs, ("PHONE", "WH-A", 100))
    await guard.SetSafetyStock(gpb.SetSafetyStockRequest(sku="PHONE", override=40), timeout=10)
    await put(listing, LIVE)
    assert await shown(listing, "douyin", "PHONE") == (36, True)   # 60% of 100 - 40
    assert await shown(listing, "pos", "PHONE") == (6, True)


async def test_an_open_breaker_closes_the_listing_and_closing_it_reopens_it(
        stubs: Stubs, listing: lgrpc.ListingServiceStub, guard: ggrpc.GuardServiceStub) -> None:
    await load(stubs, ("PHONE", "WH-A", 100))
    await guard.ForceBreaker(gpb.ForceBreakerRequest(
        sku="PHONE", channel="douyin", state=gpb.BREAKER_STATE_OPEN), timeout=10)
    assert await shown(listing, "douyin", "PHONE") == (0, False)
    assert await shown(listing, "taobao", "PHONE") == (100, True)
    await guard.ForceBreaker(gpb.ForceBreakerRequest(
        sku="PHONE", channel="douyin", state=gpb.BREAKER_STATE_CLOSED), timeout=10)
    assert await shown(listing, "douyin", "PHONE") == (100, True)


async def test_a_fast_sale_holds_back_what_it_sells_in_lag_s_and_closes_the_live_listing(
        stubs: Stubs, listing: lgrpc.ListingServiceStub) -> None:
    # The rule: hold back what the SKU sells in lag_s at the rate of the last window_s;
    # when that leaves nothing, Douyin's listing closes and the others show 0. Selling
    # one unit after another, fast, against 100 units: at any rate above 100 / 30 a
    # second the hold-back covers them all.
    await load(stubs, ("PHONE", "WH-A", 100))
    await put(listing, {"rules": [{"name": "live", "when": {"sku": ["PHONE"]}, "then": {
        "shares": {"douyin": 80, "tmall": "rest"},
        "dynamic_safety": {"lag_s": 30, "window_s": 1, "close": ["douyin"]}}}]})
    assert await shown(listing, "douyin", "PHONE") == (80, True)  # nothing sold yet
    sold = 0

    async def sell_one() -> tuple[int, bool]:
        nonlocal sold
        sold += 1
        await reserve(stubs, order(f"fast-{sold}", line("PHONE")))
        return await shown(listing, "douyin", "PHONE")

    await wait_until(sell_one, lambda shown_: shown_ == (0, False),
                     "the Douyin listing closed by the dynamic safety", 30)
    assert sold < 100
    assert await shown(listing, "tmall", "PHONE") == (0, True)
    [view] = [v for v in (await listing.GetChannelStock(lpb.GetChannelStockRequest(
        skus=["PHONE"]), timeout=10)).listings if v.channel == "douyin"]
    assert "dynamic safety" in view.reason, view.reason
    # The sale stops: a window later nothing is held back and the listing reopens with
    # the share of what is left.
    left = 100 - sold
    await wait_until(lambda: shown(listing, "douyin", "PHONE"),
                     lambda shown_: shown_ == (left * 80 // 100, True),
                     "the Douyin listing open again", 30)


async def test_a_channel_served_by_some_warehouses_shows_only_what_they_hold(
        stubs: Stubs, listing: lgrpc.ListingServiceStub) -> None:
    await load(stubs, ("PHONE", "WH-A", 80), ("PHONE", "WH-STORE", 5))
    await put(listing, {"rules": [], "channels": {"pos": {"warehouses": ["WH-STORE"]}}})
    assert await shown(listing, "pos", "PHONE") == (5, True)
    assert await shown(listing, "taobao", "PHONE") == (85, True)


async def test_what_a_listing_was_told_is_shown_beside_the_services_count(
        stubs: Stubs, listing: lgrpc.ListingServiceStub) -> None:
    await load(stubs, ("PHONE", "WH-A", 10))
    await listing.ReportListingPushes(lpb.ReportListingPushesRequest(
        channel="taobao", shop="main", pushes=[lpb.ListingPush(
            sku="PHONE", quantity=10, listed=True, changed_at_ms=1, pushed_at_ms=2)]), timeout=10)
    await load(stubs, ("PHONE", "WH-A", 5))
    reply = await listing.GetChannelStock(lpb.GetChannelStockRequest(skus=["PHONE"]), timeout=10)
    [view] = [v for v in reply.listings if v.channel == "taobao"]
    assert (view.shop, view.told, view.told_quantity, view.quantity, view.difference) == \
        ("main", True, 10, 15, 5)
    assert view.lag_ms > 0


async def test_a_resync_request_raises_the_listings_resync_count(
        stubs: Stubs, listing: lgrpc.ListingServiceStub) -> None:
    await load(stubs, ("PHONE", "WH-A", 1))
    before = (await listing.GetListingQuantities(lpb.GetListingQuantitiesRequest(
        channel="jd", shop="main", skus=["PHONE"]), timeout=10)).resync_epoch
    await listing.ResyncChannelStock(lpb.ResyncChannelStockRequest(channel="jd"), timeout=10)
    await listing.ResyncChannelStock(lpb.ResyncChannelStockRequest(channel="jd", shop="main"),
                                     timeout=10)
    after = await listing.GetListingQuantities(lpb.GetListingQuantitiesRequest(
        channel="jd", shop="main", skus=["PHONE"]), timeout=10)
    assert after.resync_epoch == before + 2


async def test_rule_sets_are_versioned_with_history_and_rollback(
        stubs: Stubs, listing: lgrpc.ListingServiceStub) -> None:
    await load(stubs, ("PHONE", "WH-A", 100))
    first = await put(listing, LIVE, comment="live sale", actor="ops-1")
    second = await put(listing, {"rules": [], "default_share": 50}, comment="half")
    assert (first.version, second.version) == (1, 2)
    assert await shown(listing, "douyin", "PHONE") == (50, True)
    rolled = (await listing.RollbackListingRules(lpb.RollbackListingRulesRequest(
        version=1, actor="ops-2"), timeout=10)).rules
    assert (rolled.version, rolled.rolled_back_to, rolled.actor) == (3, 1, "ops-2")
    assert await shown(listing, "douyin", "PHONE") == (60, True)
    history = await listing.ListListingRuleHistory(lpb.ListListingRuleHistoryRequest(), timeout=10)
    assert [v.version for v in history.versions] == [3, 2, 1]
    assert history.versions[2].comment == "live sale"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await put(listing, LIVE, expected_version=1)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(("doc", "field"), [
    ({"rules": [{"name": "x", "when": {"sku": ["A"]},
                 "then": {"shares": {"douyin": 70, "tmall": 40}}}]}, "rules[0].then.shares"),
    ({"rules": [{"name": "x", "when": {"sku": ["A"]},
                 "then": {"shares": {"douyin": "rest", "tmall": "rest"}}}]},
     "rules[0].then.shares.tmall"),
    ({"rules": [{"name": "x", "when": {"sku": ["A"]},
                 "then": {"shares": {"douyin": -1}}}]}, "rules[0].then.shares.douyin"),
    ({"rules": [{"name": "x", "when": {}, "then": {"shares": {"jd": 1}}}]}, "rules[0].when"),
    ({"rules": [{"name": "x", "when": {"sku": ["A"]}, "then": {"reserve": {"a b": 1}}}]},
     "rules[0].then.reserve.a b"),
    ({"rules": [{"name": "x", "when": {"sku": ["A"]}, "then": {"shares": {"jd": 1}}},
                {"name": "x", "when": {"sku": ["B"]}, "then": {"shares": {"jd": 1}}}]},
     "rules[1].name"),
    ({"rules": [], "colour": "red"}, "rules.colour"),
    ({"rules": [{"name": "x", "when": {"sku": ["A"]},
                 "then": {"shares": {"jd": 1}, "dynamic_safety": {"window_s": 5}}}]},
     "rules[0].then.dynamic_safety.lag_s"),
    ({"rules": [{"name": "x", "when": {"sku": ["A"]},
                 "then": {"shares": {"jd": 1}, "dynamic_safety": {"lag_s": -1}}}]},
     "rules[0].then.dynamic_safety.lag_s"),
    ({"rules": [{"name": "x", "when": {"sku": ["A"]},
                 "then": {"shares": {"jd": 1}, "dynamic_safety": {"lag_s": 1,
                                                                   "window_s": 0.5}}}]},
     "rules[0].then.dynamic_safety.window_s"),
    ({"rules": [{"name": "x", "when": {"sku": ["A"]},
                 "then": {"shares": {"jd": 1},
                          "dynamic_safety": {"lag_s": 1, "close": ["jd", "douyin"]}}}]},
     "rules[0].then.dynamic_safety.close[1]"),
    ({"rules": [], "default_share": 101}, "default_share"),
    ({"rules": [], "channels": {"pos": {"warehouses": []}}}, "channels.pos.warehouses"),
])
async def test_a_bad_rule_set_is_refused_naming_the_field_and_changes_nothing(
        stubs: Stubs, listing: lgrpc.ListingServiceStub, doc: dict[str, Any], field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await put(listing, doc)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith(field + ":"), err.value.details()
    current = (await listing.GetListingRules(lpb.GetListingRulesRequest(), timeout=10)).rules
    assert current.version == 0


@pytest.mark.parametrize(("request_", "field"), [
    (lpb.GetListingQuantitiesRequest(channel="", shop="main", skus=["A"]), "channel"),
    (lpb.GetListingQuantitiesRequest(channel="jd", shop="", skus=["A"]), "shop"),
    (lpb.GetListingQuantitiesRequest(channel="jd", shop="main"), "skus"),
    (lpb.GetListingQuantitiesRequest(channel="jd", shop="main", skus=["ok", "b\nad"]), "skus[1]"),
])
async def test_bad_questions_are_invalid_argument_naming_the_field(
        stubs: Stubs, listing: lgrpc.ListingServiceStub,
        request_: lpb.GetListingQuantitiesRequest, field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await listing.GetListingQuantities(request_, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith(field), err.value.details()


async def test_a_report_with_a_push_from_the_future_is_refused_and_records_nothing(
        stubs: Stubs, listing: lgrpc.ListingServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await listing.ReportListingPushes(lpb.ReportListingPushesRequest(
            channel="jd", shop="main", pushes=[lpb.ListingPush(
                sku="A", quantity=1, listed=True, pushed_at_ms=2**62)]), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "pushes[0].pushed_at_ms" in err.value.details()
    reply = await listing.GetChannelStock(lpb.GetChannelStockRequest(skus=["A"]), timeout=10)
    assert not [v for v in reply.listings if v.told]

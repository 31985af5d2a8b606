"""The stock-sync worker through the real server and the fake channels: each channel's
push shape and signature, shares across channels, a breaker closing and reopening a
listing, crashes between the channel's answer and the worker's record, rate limits and
refused credentials, and a SKU with no item on the shop."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from reservation.clients.channels.base import ChannelError
from reservation.clients.channels.fake_server import FakeChannels
from reservation.v1 import guard_service_pb2 as gpb
from reservation.v1 import guard_service_pb2_grpc as ggrpc
from reservation.v1 import listing_service_pb2 as lpb
from reservation.v1 import listing_service_pb2_grpc as lgrpc
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2 as pb
from tests.helpers.reservations import load
from tests.helpers.server import Stubs
from tests.helpers.stocksync import CHANNELS, Worker, rows_of

# Each channel's own stock calls, as its module makes them.
QUANTITY_CALL = {"taobao": "taobao.skus.quantity.update",
                 "jd": "jingdong.stock.write.updateSkuStock",
                 "pdd": "pdd.goods.quantity.update", "douyin": "sku.syncStockBatch",
                 "wechat": "/channels/ec/product/stock/update"}
OFFLINE_CALL = {"taobao": "taobao.item.update.delisting",
                "pdd": "pdd.goods.sale.status.set", "douyin": "product.setOffline",
                "wechat": "/channels/ec/product/delisting"}


def listed(fake: FakeChannels, channel: str, items: dict[str, list[str]]) -> None:
    fake.listings.list_items(channel, [(item, f"S-{sku}", sku, 999)
                                       for item, skus in items.items() for sku in skus])


async def reserve(stubs: Stubs, order_id: str, sku: str, qty: int) -> None:
    reply = await stubs.rs.Reserve(rpb.ReserveRequest(
        channel="jd", order_id=order_id, buyer_id="b", lines=[pb.OrderLine(sku=sku,
                                                                          quantity=qty)]))
    assert reply.reservation.state == pb.RESERVATION_STATE_RESERVED


@pytest.mark.parametrize("channel", CHANNELS)
async def test_each_channel_is_told_the_full_quantity_in_its_own_call_shape(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker], channel: str) -> None:
    items = {"ITEM-1": ["HOODIE", "MUG"]}
    listed(fake, channel, items)
    await load(stubs, ("HOODIE", "WH-A", 30), ("MUG", "WH-A", 4))
    w = worker(channel, rows_of(items))
    await _sync(w)
    assert fake.listings.shows(channel, "HOODIE") == (30, True)
    assert fake.listings.shows(channel, "MUG") == (4, True)
    await reserve(stubs, "o-1", "HOODIE", 3)
    await _sync(w)
    assert fake.listings.shows(channel, "HOODIE") == (27, True)
    assert fake.listings.calls[QUANTITY_CALL[channel]] >= 1
    # the worker's request signature (or token) was checked by the fake on every call
    assert w.sync.counts.refused == 0


async def test_taobao_takes_20_skus_of_an_item_per_call(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker]) -> None:
    items = {"ITEM-1": [f"SKU-{i:02d}" for i in range(25)]}
    listed(fake, "taobao", items)
    await load(stubs, *((sku, "WH-A", 5) for sku in items["ITEM-1"]))
    await _sync(worker("taobao", rows_of(items)))
    assert fake.listings.calls["taobao.skus.quantity.update"] == 2
    assert all(fake.listings.shows("taobao", s) == (5, True) for s in items["ITEM-1"])


async def test_shares_tell_each_channel_its_part_and_never_more_than_is_available(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker]) -> None:
    items = {"ITEM-1": ["PHONE"]}
    listing = lgrpc.ListingServiceStub(stubs.channel)
    await listing.PutListingRules(lpb.PutListingRulesRequest(document_json=json.dumps({
        "rules": [{"name": "live", "when": {"sku": ["PHONE"]},
                   "then": {"shares": {"douyin": 60, "taobao": 30, "wechat": "rest"}}}]})))
    await load(stubs, ("PHONE", "WH-A", 101))
    for channel in CHANNELS:
        listed(fake, channel, items)
        await _sync(worker(channel, rows_of(items)))
    shown = {ch: fake.listings.shows(ch, "PHONE")[0] for ch in CHANNELS}
    assert shown == {"douyin": 60, "taobao": 30, "wechat": 11, "jd": 0, "pdd": 0}
    assert sum(shown.values()) <= 101


@pytest.mark.parametrize("channel", ["douyin", "taobao", "wechat", "pdd"])
async def test_an_open_breaker_takes_the_item_off_sale_and_closing_it_puts_it_back(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker], channel: str) -> None:
    items = {"LIVE-1": ["PHONE"]}
    listed(fake, channel, items)
    await load(stubs, ("PHONE", "WH-A", 50))
    w = worker(channel, rows_of(items))
    await _sync(w)
    guard = ggrpc.GuardServiceStub(stubs.channel)
    await guard.ForceBreaker(gpb.ForceBreakerRequest(sku="PHONE", channel=channel,
                                                     state=gpb.BREAKER_STATE_OPEN))
    await _sync(w)
    assert fake.listings.shows(channel, "PHONE") == (0, False)
    assert fake.listings.calls[OFFLINE_CALL[channel]] >= 1
    await guard.ForceBreaker(gpb.ForceBreakerRequest(sku="PHONE", channel=channel,
                                                     state=gpb.BREAKER_STATE_CLOSED))
    await _sync(w)
    assert fake.listings.shows(channel, "PHONE") == (50, True)


async def test_jd_closes_a_listing_by_showing_no_stock(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker]) -> None:
    items = {"WARE-1": ["PHONE"]}
    listed(fake, "jd", items)
    await load(stubs, ("PHONE", "WH-A", 50))
    w = worker("jd", rows_of(items))
    guard = ggrpc.GuardServiceStub(stubs.channel)
    await guard.ForceBreaker(gpb.ForceBreakerRequest(sku="PHONE", channel="jd",
                                                     state=gpb.BREAKER_STATE_OPEN))
    await _sync(w)
    assert fake.listings.shows("jd", "PHONE")[0] == 0


async def test_a_burst_of_changes_to_one_sku_is_one_push_of_its_latest_value(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker]) -> None:
    items = {"ITEM-1": ["MUG"]}
    listed(fake, "jd", items)
    await load(stubs, ("MUG", "WH-A", 100))
    w = worker("jd", rows_of(items))
    await _sync(w)
    before = fake.listings.calls["jingdong.stock.write.updateSkuStock"]
    for i in range(20):
        await reserve(stubs, f"o-{i}", "MUG", 1)
    await _sync(w)
    assert fake.listings.calls["jingdong.stock.write.updateSkuStock"] == before + 1
    assert fake.listings.shows("jd", "MUG") == (80, True)


async def test_a_crash_after_the_channel_accepted_repeats_the_same_value_and_loses_nothing(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker]) -> None:
    items = {"ITEM-1": ["MUG"]}
    listed(fake, "pdd", items)
    await load(stubs, ("MUG", "WH-A", 10))
    first = worker("pdd", rows_of(items))
    await _sync(first)
    await reserve(stubs, "o-1", "MUG", 4)

    def crash(*_: object) -> None:
        raise RuntimeError("killed between the channel's answer and the commit")

    first.sync.store.done = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await _sync(first)
    assert fake.listings.shows("pdd", "MUG") == (6, True)   # the channel has it...
    pushes = [p for p in fake.listings.pushes if p.channel == "pdd" and p.sku_id == "S-MUG"]
    # ...and a worker starting again from the same file pushes it once more, the same.
    again = worker("pdd", rows_of(items), state="sync.db")
    await _sync(again)
    repeated = [p for p in fake.listings.pushes if p.channel == "pdd"
                and p.sku_id == "S-MUG"][len(pushes):]
    assert [p.quantity for p in repeated] == [6]
    assert fake.listings.shows("pdd", "MUG") == (6, True)


async def test_a_rate_limited_channel_is_retried_with_backoff(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker]) -> None:
    items = {"ITEM-1": ["MUG"]}
    listed(fake, "wechat", items)
    await load(stubs, ("MUG", "WH-A", 7))
    fake.fail_next("wechat", 2, kind="limit")
    await _sync(worker("wechat", rows_of(items)))
    assert fake.listings.shows("wechat", "MUG") == (7, True)


@pytest.mark.parametrize("channel", ["taobao", "jd", "pdd", "douyin"])
async def test_refused_credentials_are_surfaced_and_the_listing_stays_to_be_pushed(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker], channel: str) -> None:
    items = {"ITEM-1": ["MUG"]}
    listed(fake, channel, items)
    await load(stubs, ("MUG", "WH-A", 7))
    w = worker(channel, rows_of(items))
    w.sync.api.app_secret = "not-the-secret"
    with pytest.raises(ChannelError) as err:
        await _sync(w)
    assert err.value.auth
    assert w.sync.counts.auth_failures == 1 and w.sync.store.pending() == 1
    assert fake.listings.shows(channel, "MUG") == (999, True)   # nothing changed there
    w.sync.api.app_secret = fake.api(channel).app_secret          # credentials renewed
    await _sync(w)
    assert fake.listings.shows(channel, "MUG") == (7, True)


async def test_an_item_the_channel_does_not_have_is_refused_and_reported(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker]) -> None:
    await load(stubs, ("MUG", "WH-A", 7))
    w = worker("douyin", rows_of({"NO-SUCH-ITEM": ["MUG"]}))
    await _sync(w)
    assert w.sync.counts.refused == 1 and w.sync.store.pending() == 0
    listing = lgrpc.ListingServiceStub(stubs.channel)
    view = await listing.GetChannelStock(lpb.GetChannelStockRequest(skus=["MUG"]))
    assert not [v for v in view.listings if v.channel == "douyin" and v.told]


async def test_a_sku_without_a_mapping_row_is_counted_and_logged_once(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker],
        caplog: pytest.LogCaptureFixture) -> None:
    items = {"ITEM-1": ["MUG"]}
    listed(fake, "jd", items)
    w = worker("jd", rows_of(items))
    await load(stubs, ("MUG", "WH-A", 7), ("SOCKS", "WH-A", 3))
    await load(stubs, ("SOCKS", "WH-A", 3))
    await _sync(w)
    assert w.sync.counts.unmapped == 1
    assert sum("SOCKS changed but has no item" in r.message for r in caplog.records) == 1
    assert fake.listings.shows("jd", "MUG") == (7, True)


async def test_a_resync_repairs_a_listing_edited_on_the_channel_and_counts_the_drift(
        stubs: Stubs, fake: FakeChannels, worker: Callable[..., Worker]) -> None:
    items = {"ITEM-1": ["MUG"]}
    listed(fake, "jd", items)
    await load(stubs, ("MUG", "WH-A", 7))
    w = worker("jd", rows_of(items), check_every_s=0)
    await _sync(w)
    # a change the worker never heard of: its record of what the listing shows is stale
    w.sync.store.done([("MUG", 3, True, 1)], [])
    fake.listings.list_items("jd", [("ITEM-1", "S-MUG", "MUG", 3)])   # edited by hand
    listing = lgrpc.ListingServiceStub(stubs.channel)
    await listing.ResyncChannelStock(lpb.ResyncChannelStockRequest(channel="jd"))
    await _sync(w)   # the new resync count is noticed ...
    await _sync(w)   # ... and every mapped SKU checked
    assert fake.listings.shows("jd", "MUG") == (7, True)
    assert w.sync.counts.drift == 1


async def _sync(w: Worker) -> None:
    """The worker's blocking loops, off the event loop the server runs on."""
    import asyncio

    await asyncio.to_thread(w.sync_all)


def test_channels_without_a_listing_cannot_run_a_worker() -> None:
    from reservation.clients.channels import adapter

    assert adapter("pos").push_stock is None
    assert all(adapter(c).push_stock is not None for c in CHANNELS)




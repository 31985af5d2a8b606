"""Safety stock from confirmed sales: counted once, where the confirm writes them; averaged over the last whole days, the factor switched by the sale mode; operators
override it; the breaker uses it as every channel's default threshold."""

from __future__ import annotations

import asyncio
import time

from reservation.server.app import App
from reservation.storage import keys
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import guard_service_pb2 as gpb
from reservation.v1 import types_pb2 as pb
from tests.helpers.reservations import REJECTED, RESERVED, at, confirm, line, load, order, reserve

SKU, WH = "SAFE-SKU", "wh-1"
DAY_MS = 86_400_000


async def get(guard, sku: str = SKU) -> gpb.SkuGuard:
    return (await guard.GetGuard(gpb.GetGuardRequest(sku=sku))).guard


async def seed_past_sales(app: App, per_day: dict[int, int], sku: str = SKU) -> None:
    """Sales of days before today (days ago -> units): history the API cannot make."""
    today = int(time.time() * 1000) // DAY_MS
    shard = keys.shard_of(sku, app.settings.shards)
    await app.store.client.hset(keys.sold(shard, sku),
                                mapping={str(today - ago): n for ago, n in per_day.items()})
    await app.store.client.sadd(keys.guards(shard), sku)


async def test_confirmed_units_are_counted_once_however_often_confirm_is_sent(
        app: App, stubs, guard) -> None:
    await load(stubs, (SKU, WH, 50))
    for i in range(6):
        assert (await reserve(stubs, order(f"o-{i}", line(SKU, 2), buyer=f"b{i}"))).state == RESERVED
    # Concurrent copies of each confirm (adapters retry): each sale counts once.
    await asyncio.gather(*(confirm(stubs, f"o-{i}") for i in range(4) for _ in range(3)))
    await app.guard.run_once(lease=False)
    found = await get(guard)
    assert found.daily_sales[-1].units == 8  # today, last
    assert sum(d.units for d in found.daily_sales) == 8
    assert len(found.daily_sales) == app.settings.safety_days + 1


async def test_safety_stock_is_the_average_of_the_last_whole_days_times_the_factor(
        app: App, stubs, guard) -> None:
    await load(stubs, (SKU, WH, 100))
    # 70 units over the 7 days before today -> 10 a day; today's and older sales do not
    # count (today's would feed a sale's own surge back into its threshold).
    await seed_past_sales(app, {1: 30, 3: 20, 7: 20, 8: 500, 0: 900})
    await app.guard.run_once(lease=False)
    found = await get(guard)
    assert (found.average_daily_sales, found.factor) == (10.0, 1.5)
    assert found.computed_safety_stock == found.safety_stock == 15

    found = (await guard.SetSafetyStock(gpb.SetSafetyStockRequest(
        sku=SKU, live_stream=gpb.SWITCH_ON))).guard
    assert (found.live_stream, found.factor, found.safety_stock) == (True, 2.3, 23)
    found = (await guard.SetSafetyStock(gpb.SetSafetyStockRequest(sku=SKU, override=40))).guard
    assert (found.safety_stock, found.computed_safety_stock, found.override) == (40, 23, 40)
    found = (await guard.SetSafetyStock(gpb.SetSafetyStockRequest(
        sku=SKU, clear_override=True, live_stream=gpb.SWITCH_OFF))).guard
    assert (found.safety_stock, found.HasField("override")) == (15, False)


async def test_an_open_flash_sale_switches_to_the_hot_factor(app: App, stubs, guard) -> None:
    await stubs.admin.StartFlashSale(apb.StartFlashSaleRequest(
        create_skus=True,  # the test's SKUs are new
        sale_id="hot", items=[pb.StockItem(sku=SKU, warehouse_id=WH, quantity=100)],
        starts_at=at(-1000), ends_at=at(3_600_000)))
    await seed_past_sales(app, {2: 7})  # 1 a day
    await app.guard.run_once(lease=False)
    found = await get(guard)
    assert (found.factor, found.safety_stock) == (2.3, 3)  # ceil(2.3)


async def test_the_safety_stock_is_every_channels_default_threshold(app: App, stubs,
                                                                    guard) -> None:
    await load(stubs, (SKU, WH, 20))
    await seed_past_sales(app, {1: 70})  # 10 a day -> 15
    await app.guard.run_once(lease=False)
    assert (await reserve(stubs, order("t-1", line(SKU, 5), buyer="x"))).state == RESERVED
    refused = await reserve(stubs, order("t-2", line(SKU, 1), channel="tmall", buyer="y"))
    assert (refused.state, refused.reject_reason) == (REJECTED,
                                                      pb.REJECT_REASON_CHANNEL_PAUSED)
    b = {b.channel: b for b in (await get(guard)).breakers}["tmall"]
    assert (b.threshold, b.own_threshold, b.closes_at) == (15, False, 18)


async def test_counting_sales_adds_no_consumer_group_to_the_streams(app: App, stubs) -> None:
    # A group nobody acknowledges would hold back write-back trimming for every group.
    await load(stubs, (SKU, WH, 10))
    await reserve(stubs, order("w-1", line(SKU, 2), buyer="x"))
    await confirm(stubs, "w-1")
    await app.guard.run_once(lease=False)
    stream = keys.write_back(keys.shard_of(SKU, app.settings.shards))
    groups = {g["name"] for g in await app.store.client.xinfo_groups(stream)}
    assert groups == set(app.settings.write_back_groups.split(","))


async def test_a_sku_without_guard_state_shows_the_factor_that_applies(
        app: App, stubs, guard) -> None:
    """GetGuard of a SKU whose safety stock was never computed showed factor 0.0; it
    shows the configured factor, the hot one while its flash sale is open."""
    await load(stubs, (SKU, WH, 10), ("SAFE-HOT", WH, 10))
    assert (await get(guard)).factor == app.settings.safety_factor == 1.5
    await stubs.admin.StartFlashSale(apb.StartFlashSaleRequest(
        create_skus=True,  # the test's SKUs are new
        sale_id="factor-sale", starts_at=at(0), ends_at=at(3_600_000),
        items=[pb.StockItem(sku="SAFE-HOT", warehouse_id=WH, quantity=5)]))
    assert (await get(guard, "SAFE-HOT")).factor == app.settings.safety_factor_hot == 2.3
    await stubs.admin.StartFlashSale(apb.StartFlashSaleRequest(
        create_skus=True,  # the test's SKUs are new
        sale_id="later-sale", starts_at=at(3_600_000), ends_at=at(7_200_000),
        items=[pb.StockItem(sku=SKU, warehouse_id=WH, quantity=1)]))
    assert (await get(guard)).factor == 1.5  # its sale has not started

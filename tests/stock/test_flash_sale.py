"""Flash sales: window, per-buyer limit, stop, idempotent start, top-up while holds live."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from reservation.clock import now_ms
from reservation.domain.models import FlashSale, StockItem
from reservation.domain.shards import shard_of
from reservation.errors import FailedPrecondition
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import types_pb2 as pb
from tests.helpers.reservations import (
    CONFIRMED,
    EXPIRED,
    REJECTED,
    RESERVED,
    assert_invariant,
    at,
    confirm,
    levels,
    line,
    load,
    ms,
    order,
    release,
    reserve,
    wait_for_state,
)
from tests.helpers.waiting import past


def sale_request(sale_id: str = "s1", items=(("PHONE", "W1", 10),), starts_in_ms: int = 0,
                 ends_in_ms: int = 3_600_000, limit: int = 0, hold_ttl_ms: int = 0):
    req = apb.StartFlashSaleRequest(
        create_skus=True,  # the test's SKUs are new
        sale_id=sale_id, items=[pb.StockItem(sku=s, warehouse_id=w, quantity=q)
                                for s, w, q in items],
        starts_at=at(starts_in_ms), ends_at=at(ends_in_ms), per_buyer_limit=limit)
    if hold_ttl_ms:
        req.hold_ttl.CopyFrom(ms(hold_ttl_ms))
    return req


async def test_starting_a_sale_loads_its_quota_and_reports_live_counters(stubs):
    sale = (await stubs.admin.StartFlashSale(sale_request(
        items=(("PHONE", "W1", 10), ("PHONE", "W2", 5))))).sale
    assert sale.state == apb.FLASH_SALE_STATE_ACTIVE
    assert [(i.sku, i.warehouse_id, i.level.available) for i in sale.items] == [
        ("PHONE", "W1", 10), ("PHONE", "W2", 5)]
    await reserve(stubs, order("o1", line("PHONE", 2)))
    got = (await stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="s1"))).sale
    assert got.items[0].level.held == 2


async def test_reservations_before_the_window_are_rejected_not_on_sale(stubs):
    await stubs.admin.StartFlashSale(sale_request(starts_in_ms=60_000))
    r = await reserve(stubs, order("o1", line("PHONE")))
    assert (r.state, r.reject_reason) == (REJECTED, pb.REJECT_REASON_NOT_ON_SALE)
    sale = (await stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="s1"))).sale
    assert sale.state == apb.FLASH_SALE_STATE_SCHEDULED


async def test_reservations_after_the_window_are_rejected_not_on_sale(stubs):
    await stubs.admin.StartFlashSale(sale_request(ends_in_ms=300))
    assert (await reserve(stubs, order("o1", line("PHONE")))).state == RESERVED
    sale = (await stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="s1"))).sale
    await past(sale.ends_at.ToMilliseconds())
    r = await reserve(stubs, order("o2", line("PHONE")))
    assert r.reject_reason == pb.REJECT_REASON_NOT_ON_SALE
    sale = (await stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="s1"))).sale
    assert sale.state == apb.FLASH_SALE_STATE_ENDED


async def test_per_buyer_limit_counts_held_and_confirmed_units(stubs):
    await stubs.admin.StartFlashSale(sale_request(limit=2))
    assert (await reserve(stubs, order("o1", line("PHONE"), buyer="u1"))).state == RESERVED
    await confirm(stubs, "o1")
    assert (await reserve(stubs, order("o2", line("PHONE"), buyer="u1"))).state == RESERVED
    r = await reserve(stubs, order("o3", line("PHONE"), buyer="u1"))
    assert (r.state, r.reject_reason) == (REJECTED, pb.REJECT_REASON_BUYER_LIMIT_EXCEEDED)
    r = await reserve(stubs, order("o4", line("PHONE", 3), buyer="u2"))
    assert r.reject_reason == pb.REJECT_REASON_BUYER_LIMIT_EXCEEDED
    assert (await reserve(stubs, order("o5", line("PHONE", 2), buyer="u2"))).state == RESERVED


async def test_release_and_expiry_give_the_buyer_allowance_back(stubs):
    await stubs.admin.StartFlashSale(sale_request(limit=1))
    await reserve(stubs, order("o1", line("PHONE"), buyer="u1"))
    await release(stubs, "o1")
    await reserve(stubs, order("o2", line("PHONE"), buyer="u1", hold_ttl_ms=200))
    await wait_for_state(stubs, "o2", EXPIRED)
    assert (await reserve(stubs, order("o3", line("PHONE"), buyer="u1"))).state == RESERVED


async def test_concurrent_orders_of_one_buyer_never_pass_the_limit(stubs):
    await stubs.admin.StartFlashSale(sale_request(items=(("PHONE", "W1", 1000),), limit=3))
    answers = await asyncio.gather(*(reserve(stubs, order(f"o{i}", line("PHONE"), buyer="u1"))
                                     for i in range(50)))
    assert [a.state for a in answers].count(RESERVED) == 3


async def test_sale_hold_ttl_applies_and_caps_a_longer_request(stubs):
    await stubs.admin.StartFlashSale(sale_request(hold_ttl_ms=300))
    r = await reserve(stubs, order("o1", line("PHONE"), hold_ttl_ms=60_000))
    assert r.state == RESERVED
    await wait_for_state(stubs, "o1", EXPIRED)


async def test_stopping_returns_unsold_units_while_holds_run_their_course(stubs):
    await stubs.admin.StartFlashSale(sale_request(items=(("PHONE", "W1", 10),)))
    await reserve(stubs, order("paid", line("PHONE", 2)))
    await reserve(stubs, order("unpaid", line("PHONE", 3)))
    sale = (await stubs.admin.StopFlashSale(apb.StopFlashSaleRequest(sale_id="s1"))).sale
    assert sale.state == apb.FLASH_SALE_STATE_STOPPED
    lv = (await levels(stubs, "PHONE"))["W1"]
    assert (lv.available, lv.held, lv.returned) == (0, 5, 5)
    assert (await confirm(stubs, "paid")).state == CONFIRMED
    await release(stubs, "unpaid")
    lv = (await levels(stubs, "PHONE"))["W1"]
    assert (lv.available, lv.held, lv.confirmed, lv.returned, lv.loaded) == (0, 0, 2, 8, 10)
    r = await reserve(stubs, order("late", line("PHONE")))
    assert r.reject_reason == pb.REJECT_REASON_NOT_ON_SALE
    again = (await stubs.admin.StopFlashSale(apb.StopFlashSaleRequest(sale_id="s1"))).sale
    assert again.items[0].level.returned == 8  # stopping twice moves nothing more


async def test_starting_the_same_sale_twice_loads_once(stubs):
    request = sale_request()
    await stubs.admin.StartFlashSale(request)
    await stubs.admin.StartFlashSale(request)
    assert (await levels(stubs, "PHONE"))["W1"].loaded == 10


async def test_same_sale_id_with_other_items_is_refused(stubs):
    await stubs.admin.StartFlashSale(sale_request())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.admin.StartFlashSale(sale_request(items=(("PHONE", "W1", 99),)))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_a_sku_in_an_open_sale_cannot_join_another_and_nothing_is_loaded(stubs):
    await stubs.admin.StartFlashSale(sale_request())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.admin.StartFlashSale(sale_request(
            sale_id="s2", items=(("OTHER", "W1", 5), ("PHONE", "W1", 5))))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "PHONE" in err.value.details()
    assert (await levels(stubs, "PHONE"))["W1"].loaded == 10
    with pytest.raises(grpc.aio.AioRpcError):
        await levels(stubs, "OTHER")


async def test_top_up_while_holds_are_live_keeps_holds_and_adds_available(stubs):
    await load(stubs, ("A", "W1", 5))
    await reserve(stubs, order("o1", line("A", 4)))
    await load(stubs, ("A", "W1", 10))
    lv = (await levels(stubs, "A"))["W1"]
    assert (lv.available, lv.held, lv.loaded) == (11, 4, 15)
    await load(stubs, ("A", "W1", 3), mode=apb.LOAD_MODE_SET)
    lv = (await levels(stubs, "A"))["W1"]
    assert (lv.available, lv.held, lv.loaded) == (3, 4, 7)
    assert_invariant(await levels(stubs, "A"))
    assert (await confirm(stubs, "o1")).state == CONFIRMED


async def test_concurrent_top_ups_and_reservations_keep_the_invariant(stubs):
    await load(stubs, ("A", "W1", 10))
    reserves = [reserve(stubs, order(f"o{i}", line("A"))) for i in range(100)]
    loads = [load(stubs, ("A", "W1", 1)) for _ in range(30)]
    replies = (await asyncio.gather(*reserves, *loads))[:100]
    by_wh = await levels(stubs, "A")
    assert_invariant(by_wh)
    # How many orders came before a top-up is up to the scheduler; what may not vary:
    # every unit loaded is counted, and the units held are exactly the orders told so.
    held = sum(r.state == RESERVED for r in replies)
    assert by_wh["W1"].loaded == 40 and by_wh["W1"].held == held <= 40


async def test_retried_start_without_starts_at_is_the_same_request(stubs):
    request = sale_request()
    request.ClearField("starts_at")
    first = (await stubs.admin.StartFlashSale(request)).sale
    again = (await stubs.admin.StartFlashSale(request)).sale
    assert first.starts_at == again.starts_at
    assert (await levels(stubs, "PHONE"))["W1"].loaded == 10


async def test_two_sales_racing_for_a_sku_never_leave_one_half_started(app):
    """Two starts that pass the overlap check together, then meet at a SKU of a later
    shard: the one that loses is not left live on the SKUs it had already started."""
    shards = app.settings.shards
    skus = sorted((f"R{i}" for i in range(200)), key=lambda s: shard_of(s, shards))
    early, late = skus[0], skus[-1]  # B starts `early`'s shard before `late`'s
    assert shard_of(early, shards) < shard_of(late, shards)
    ends = now_ms() + 3_600_000
    a = FlashSale("race-a", (StockItem(late, "W1", 5),), 0, ends)
    b = FlashSale("race-b", (StockItem(early, "W1", 5), StockItem(late, "W1", 5)), 0, ends)
    results = await asyncio.gather(app.sales.start(b, create_skus=True),
                                   app.sales.start(a, create_skus=True),
                                   return_exceptions=True)
    failed = [(sale, r) for sale, r in zip((b, a), results) if isinstance(r, Exception)]
    assert len(failed) == 1 and isinstance(failed[0][1], FailedPrecondition), results
    loser = failed[0][0]
    current = await app.store.sales_of([it.sku for it in loser.items])
    for fields in current:
        # Every SKU of the losing sale is either not on it or on it stopped.
        assert fields.get("sale_id") != loser.sale_id or fields.get("stopped") == "1", current
    for item in loser.items:  # stopping put the unsold quota back: counters still add up
        for level in (await app.store.stock(item.sku))[0]:
            assert level.loaded == level.available + level.held + level.confirmed \
                + level.returned, level

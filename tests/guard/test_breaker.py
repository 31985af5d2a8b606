"""The oversell circuit breaker through the gRPC API: thresholds, per-channel pause,
hysteresis, forced states, the events the adapters read, and concurrency."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from reservation.server.app import App
from reservation.v1 import guard_service_pb2 as gpb
from reservation.v1 import types_pb2 as pb
from reservation.v1 import write_back_service_pb2 as wpb
from tests.helpers.errors import bad_request_fields
from tests.helpers.reservations import (
    REJECTED,
    RESERVED,
    levels,
    line,
    load,
    order,
    release,
    reserve,
)

SKU, WH = "GUARD-SKU", "wh-1"
PAUSED = pb.REJECT_REASON_CHANNEL_PAUSED
OPEN, CLOSED = gpb.BREAKER_STATE_OPEN, gpb.BREAKER_STATE_CLOSED


async def threshold(guard, channel: str, units: int, sku: str = SKU) -> gpb.SkuGuard:
    return (await guard.SetBreakerThreshold(gpb.SetBreakerThresholdRequest(
        sku=sku, channel=channel, threshold=units))).guard


async def breaker(guard, channel: str, sku: str = SKU) -> gpb.Breaker | None:
    found = (await guard.GetGuard(gpb.GetGuardRequest(sku=sku))).guard
    return next((b for b in found.breakers if b.channel == channel), None)


async def buy(stubs, order_id: str, qty: int = 1, channel: str = "jd",
              sku: str = SKU, **kw) -> pb.Reservation:
    return await reserve(stubs, order(order_id, line(sku, qty), channel=channel,
                                      buyer=order_id, **kw))


async def channel_events(wb) -> list[tuple[str, str, str]]:
    """(type, sku, channel) of the breaker events written back so far."""
    batch = await wb.PullBatch(wpb.PullBatchRequest(consumer="t", max_events=1000))
    await wb.AckBatch(wpb.AckBatchRequest(batch_id=batch.batch_id))
    names = {wpb.WRITE_BACK_EVENT_TYPE_CHANNEL_PAUSED: "PAUSED",
             wpb.WRITE_BACK_EVENT_TYPE_CHANNEL_RESUMED: "RESUMED"}
    return [(names[e.type], e.sku, e.channel) for e in batch.events if e.type in names]


async def test_an_order_that_would_cross_the_threshold_is_rejected_and_opens_the_breaker(
        stubs, guard) -> None:
    await load(stubs, (SKU, WH, 20))
    await threshold(guard, "jd", 10)
    assert (await buy(stubs, "a", 9)).state == RESERVED  # 11 left, above 10
    crossing = await buy(stubs, "b", 2)  # would leave 9
    assert (crossing.state, crossing.reject_reason, crossing.failed_sku) == (
        REJECTED, PAUSED, SKU)
    assert (await breaker(guard, "jd")).state == OPEN
    # OPEN refuses even an order that would stay above the threshold, queue or not.
    one = await buy(stubs, "c", 1, allow_queue=True)
    assert (one.state, one.reject_reason) == (REJECTED, PAUSED)
    assert (await levels(stubs, SKU))[WH].available == 11


async def test_a_channel_with_its_own_threshold_keeps_selling_while_others_pause(
        stubs, guard) -> None:
    await load(stubs, (SKU, WH, 20))
    await guard.SetSafetyStock(gpb.SetSafetyStockRequest(sku=SKU, override=15))
    await threshold(guard, "pos", 0)  # the store sells the safety stock too
    assert (await buy(stubs, "web-1", 5, channel="tmall")).state == RESERVED  # 15 left
    assert (await buy(stubs, "web-2", 1, channel="tmall")).reject_reason == PAUSED
    assert (await buy(stubs, "pos-1", 15, channel="pos")).state == RESERVED
    assert (await breaker(guard, "tmall")).state == OPEN
    assert (await breaker(guard, "pos")).state == CLOSED


async def test_an_open_breaker_closes_only_above_the_hysteresis_band(
        app: App, stubs, guard) -> None:
    # threshold 10, hysteresis 0.2 -> closes at 12 (not at 10 or 11: no flapping)
    await load(stubs, (SKU, WH, 14))
    await threshold(guard, "jd", 10)
    for i in range(4):
        assert (await buy(stubs, f"tm-{i}", 1, channel="tmall")).state == RESERVED
    assert (await buy(stubs, "jd-1", 1)).reject_reason == PAUSED  # 10 left: 9 < 10
    b = await breaker(guard, "jd")
    assert (b.state, b.closes_at) == (OPEN, 12)
    await release(stubs, "tm-0", channel="tmall")  # 11 available
    await app.guard.run_once(lease=False)
    assert (await breaker(guard, "jd")).state == OPEN
    assert (await buy(stubs, "jd-2", 1)).reject_reason == PAUSED
    await release(stubs, "tm-1", channel="tmall")  # 12 available
    await app.guard.run_once(lease=False)
    assert (await breaker(guard, "jd")).state == CLOSED
    assert (await buy(stubs, "jd-3", 1)).state == RESERVED  # 11 left, still >= 10
    assert (await breaker(guard, "jd")).state == CLOSED


async def test_forced_states_win_until_cleared(app: App, stubs, guard) -> None:
    await load(stubs, (SKU, WH, 100))
    await guard.ForceBreaker(gpb.ForceBreakerRequest(sku=SKU, channel="jd", state=OPEN))
    assert (await buy(stubs, "f-1")).reject_reason == PAUSED
    await app.guard.run_once(lease=False)  # plenty of stock, but the force holds
    b = await breaker(guard, "jd")
    assert (b.state, b.forced) == (OPEN, OPEN)
    # Cleared: the automatic rules take over from where the operator left it.
    await guard.ForceBreaker(gpb.ForceBreakerRequest(sku=SKU, channel="jd"))
    await app.guard.run_once(lease=False)
    assert (await buy(stubs, "f-2")).state == RESERVED

    await threshold(guard, "jd", 99)
    assert (await buy(stubs, "f-3")).reject_reason == PAUSED  # 98 left < 99
    await guard.ForceBreaker(gpb.ForceBreakerRequest(sku=SKU, channel="jd", state=CLOSED))
    assert (await buy(stubs, "f-4", 50)).state == RESERVED  # forced CLOSED sells below
    b = await breaker(guard, "jd")
    assert (b.state, b.forced) == (CLOSED, CLOSED)


async def test_every_transition_is_written_back_for_the_adapters(app: App, stubs, guard,
                                                                 wb) -> None:
    await load(stubs, (SKU, WH, 12))
    await threshold(guard, "jd", 10)
    await channel_events(wb)  # drop what came before
    assert (await buy(stubs, "e-1", 3)).reject_reason == PAUSED
    assert (await buy(stubs, "e-2", 3)).reject_reason == PAUSED  # already OPEN: no event
    await load(stubs, (SKU, WH, 10))  # 22 available: above the band
    await app.guard.run_once(lease=False)
    await guard.ForceBreaker(gpb.ForceBreakerRequest(sku=SKU, channel="jd", state=OPEN))
    await guard.ForceBreaker(gpb.ForceBreakerRequest(sku=SKU, channel="jd", state=OPEN))
    await guard.ForceBreaker(gpb.ForceBreakerRequest(sku=SKU, channel="jd", state=CLOSED))
    assert await channel_events(wb) == [("PAUSED", SKU, "jd"), ("RESUMED", SKU, "jd"),
                                        ("PAUSED", SKU, "jd"), ("RESUMED", SKU, "jd")]


async def test_open_breakers_are_listed_and_alerted_once(app: App, stubs, guard,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    await load(stubs, (SKU, WH, 5))
    await threshold(guard, "jd", 5)
    assert (await buy(stubs, "l-1")).reject_reason == PAUSED
    assert (await buy(stubs, "l-2")).reject_reason == PAUSED
    listed = await guard.ListOpenBreakers(gpb.ListOpenBreakersRequest())
    assert [(b.sku, b.channel) for b in listed.breakers] == [(SKU, "jd")]
    # The next tick (this call or the background loop, whichever comes first) alerts once.
    for _ in range(3):
        await app.guard.run_once(lease=False)
    alerts = [r for r in caplog.records
              if r.levelname == "WARNING" and r.getMessage().startswith(f"breaker OPEN {SKU}/jd")]
    assert len(alerts) == 1


async def test_concurrent_orders_never_take_a_paused_channel_past_its_threshold(
        stubs, guard, wb) -> None:
    await load(stubs, (SKU, WH, 100))
    await threshold(guard, "jd", 50)
    await threshold(guard, "pos", 0)
    await channel_events(wb)  # the stream from here on
    results = await asyncio.gather(
        *(buy(stubs, f"jd-{i}", 1) for i in range(120)),
        *(buy(stubs, f"pos-{i}", 1, channel="pos") for i in range(30)))
    jd, pos = results[:120], results[120:]
    assert all(r.state == RESERVED or r.reject_reason == PAUSED for r in jd)
    assert all(r.state == RESERVED for r in pos)
    assert (await breaker(guard, "jd")).state == OPEN
    # Replay the holds in the order Redis made them (one shard: one stream): no jd hold
    # ever left fewer than 50 available.
    batch = await wb.PullBatch(wpb.PullBatchRequest(consumer="t", max_events=1000))
    available, jd_held = 100, 0
    for e in batch.events:
        if e.type == wpb.WRITE_BACK_EVENT_TYPE_HELD:
            available -= e.quantity
            if e.channel == "jd":
                jd_held += e.quantity
                assert available >= 50
    assert jd_held == sum(r.state == RESERVED for r in jd) > 0
    assert (await levels(stubs, SKU))[WH].available == available


@pytest.mark.parametrize("request_, field", [
    (gpb.SetBreakerThresholdRequest(sku=SKU, channel="", threshold=1), "channel"),
    (gpb.SetBreakerThresholdRequest(sku=SKU, channel="a:b", threshold=1), "channel"),
    (gpb.SetBreakerThresholdRequest(sku=SKU, channel="jd", threshold=-1), "threshold"),
    (gpb.SetBreakerThresholdRequest(sku="", channel="jd", threshold=1), "sku"),
    (gpb.ForceBreakerRequest(sku=SKU, channel="jd", state=7), "state"),
    (gpb.SetSafetyStockRequest(sku=SKU, override=-5), "override"),
    (gpb.SetSafetyStockRequest(sku=SKU, override=5, clear_override=True), "clear_override"),
    (gpb.SetSafetyStockRequest(sku=SKU, live_stream=9), "live_stream"),
    (gpb.ListOpenBreakersRequest(page_size=5000), "page_size"),
])
async def test_bad_input_names_the_field_and_changes_nothing(stubs, guard, request_,
                                                             field) -> None:
    await load(stubs, (SKU, WH, 10))
    before = await guard.GetGuard(gpb.GetGuardRequest(sku=SKU))
    method = {"SetBreakerThresholdRequest": guard.SetBreakerThreshold,
              "ForceBreakerRequest": guard.ForceBreaker,
              "SetSafetyStockRequest": guard.SetSafetyStock,
              "ListOpenBreakersRequest": guard.ListOpenBreakers}[type(request_).__name__]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await method(request_)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(caught.value) == [field]
    assert await guard.GetGuard(gpb.GetGuardRequest(sku=SKU)) == before


async def test_an_unknown_sku_is_not_found(guard) -> None:
    for call in (guard.GetGuard(gpb.GetGuardRequest(sku="NOPE")),
                 guard.ForceBreaker(gpb.ForceBreakerRequest(sku="NOPE", channel="jd",
                                                            state=OPEN))):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

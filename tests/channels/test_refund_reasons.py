"""Each adapter maps its channel's refund reason to the hub's after-sales taxonomy and
sets it (SetAfterSalesReason, in the adapter's name); an unmapped reason is left for
service staff; staff's reason survives an adapter's re-sync. Against the real hub over
gRPC and the fake channels' APIs (their after-sales calls included).

The expected (level1, level2) of each code is written here from what the channel's
screen says the code means, not read from the adapters' tables."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import grpc
import pytest

from reservation.clients.channels import adapter
from reservation.clients.channels.fake_server import FakeChannels
from reservation.clients.channels.poller import Backoff, Poller
from reservation.clients.channels.samples import Refund, Sample, build
from reservation.clients.channels.store import AdapterStore
from reservation.clients.channels.sync import GrpcSink
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc
from tests.helpers.channels import at
from tests.helpers.reservations import load

SHOP = "shop-1"
ADDRESS = ("浙江省", "杭州市", "西湖区", "文三路 90 号")

# channel -> (the channel's reason, the buyer's words, what the reason says), the last
# as (level1, level2) of the taxonomy in docs/concepts/after-sales.md.
CASES = {
    # Taobao "卖家发错货": the seller sent the wrong goods.
    "taobao": ("卖家发错货", "发来的是蓝色", ("logistics", "wrong_item_sent")),
    # JD "商品破损": the goods arrived broken.
    "jd": ("商品破损", "", ("logistics", "damaged_in_transit")),
    # Pinduoduo "少件/漏发": parts of the order were not in the parcel.
    "pdd": ("少件/漏发", "", ("logistics", "missing_parts")),
    # Douyin "质量问题": a quality problem with the goods.
    "douyin": ("质量问题", "用了两天就坏了", ("quality", "defect")),
    # WeChat NOT_DELIVERED_TOO_LONG (快递长时间未送达): the parcel took too long.
    "wechat": ("NOT_DELIVERED_TOO_LONG", "等了十天", ("logistics", "late_delivery")),
    # The store till's COLOUR_OFF button: the colour is off the standard.
    "pos": ("COLOUR_OFF", "", ("quality", "colour_deviation")),
}


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def sample(channel: str, n: int, skus: Sequence[str], minute: int) -> Sample:
    oid = f"{n}" if channel in ("jd", "pdd", "douyin", "wechat") else f"T{n}"
    return Sample(oid, "PAID", tuple((s, 1, 9900) for s in skus), f"1390000{n:04d}",
                  ADDRESS, at(minute - 5), at(minute))


class Scene:
    """One channel's adapter (poller + gRPC sink) against the hub and the fake."""

    def __init__(self, channel: str, fake: FakeChannels, store: AdapterStore,
                 grpc_channel: grpc.Channel) -> None:
        self.channel, self.fake = channel, fake
        self.clock = [at(10)]
        self.sink = GrpcSink(grpc_channel, store)
        self.poller = Poller(adapter(channel), fake.api(channel), SHOP, store, self.sink,
                             overlap_s=3600, lookback_s=7200, clock=lambda: self.clock[0],
                             backoff=Backoff(base_s=0.01, sleep=lambda s: None))

    def paid(self, s: Sample) -> None:
        if self.channel == "pos":
            self.fake.write_pos_file(f"paid_{s.order_id}.csv", build("pos", s)["rows"],
                                     int(s.modified_s * 1000))
        else:
            self.fake.put(self.channel, build(self.channel, s))

    def refunded(self, s: Sample, refunds: Sequence[Refund], minute: int) -> None:
        later = Sample(s.order_id, "PAID", s.lines, s.phone, s.address, s.created_s,
                       at(minute))
        self.fake.put_refunded(self.channel, later, refunds, mtime_ms=int(at(minute) * 1000))

    async def poll(self, minute: int) -> None:
        self.clock[0] = at(minute)
        await asyncio.to_thread(self.poller.poll_once)

    async def paid_then_refunded(self, s: Sample, refund: Refund) -> None:
        """Paid, synced at :25; refunded at :30 for `refund`, synced at :35."""
        self.paid(s)
        await self.poll(25)
        self.refunded(s, [refund], 30)
        await self.poll(35)


@pytest.fixture
async def hub(stubs) -> order_service_pb2_grpc.OrderServiceStub:  # type: ignore[no-untyped-def]
    await load(stubs, ("PAINT-RED", "WH-A", 100), ("PAINT-BLUE", "WH-A", 100))
    return order_service_pb2_grpc.OrderServiceStub(stubs.channel)


async def report(hub: order_service_pb2_grpc.OrderServiceStub, channel: str,
                 *group_by: str) -> list[tuple[str, str, str, int]]:
    answer = await hub.GetAfterSalesReport(opb.GetAfterSalesReportRequest(
        day_from=today(), day_to=today(), channel=channel,
        group_by=list(group_by) or ["sku", "level1", "level2"]), timeout=10)
    return [(r.sku, r.level1, r.level2, r.orders) for r in answer.rows]


async def history(hub: order_service_pb2_grpc.OrderServiceStub, channel: str,
                  order_id: str) -> list[opb.OrderEvent]:
    answer = await hub.GetOrderHistory(opb.GetOrderHistoryRequest(key=opb.OrderKey(
        channel=channel, shop=SHOP, order_id=order_id)), timeout=10)
    return list(answer.events)


@pytest.mark.parametrize("channel", sorted(CASES))
async def test_each_channels_reason_lands_as_its_meaning_once(
        app, hub, fake: FakeChannels, store: AdapterStore, channel: str) -> None:
    code, words, (level1, level2) = CASES[channel]
    s = sample(channel, 1, ["PAINT-RED"], 20)
    with grpc.insecure_channel(app.target) as grpc_channel:
        scene = Scene(channel, fake, store, grpc_channel)
        await scene.paid_then_refunded(s, Refund("PAINT-RED", code, words))
        assert scene.sink.reasons == {"UPDATED": 1}
        events = await history(hub, channel, s.order_id)
        await scene.poll(40)  # the overlap: the same refund synced again

    assert scene.sink.reasons == {"UPDATED": 1, "UNCHANGED": 1}
    assert await history(hub, channel, s.order_id) == events  # no new history
    set_by = [e for e in events if "after_sales.PAINT-RED" in str(e)]
    assert len(set_by) == 1 and f"adapter:{channel}" in str(set_by[0])
    assert (words or code) in str(set_by[0])  # the channel's words are the note
    assert await report(hub, channel) == [("PAINT-RED", level1, level2, 1)]


async def test_an_unmapped_reason_sets_nothing_and_is_counted(
        app, hub, fake: FakeChannels, store: AdapterStore) -> None:
    # WeChat OTHERS (其它): the buyer picked "other"; nothing says which reason it is.
    s = sample("wechat", 2, ["PAINT-RED"], 20)
    with grpc.insecure_channel(app.target) as grpc_channel:
        scene = Scene("wechat", fake, store, grpc_channel)
        await scene.paid_then_refunded(s, Refund("PAINT-RED", "OTHERS", "说不清"))
    assert scene.sink.reasons == {"UNMAPPED": 1}
    assert await report(hub, "wechat") == []
    order = await hub.GetOrder(opb.GetOrderRequest(key=opb.OrderKey(
        channel="wechat", shop=SHOP, order_id=s.order_id)), timeout=10)
    assert order.order.state == "REFUNDED"  # the order itself synced all the same


async def test_staffs_reason_survives_the_adapters_resync(
        app, hub, fake: FakeChannels, store: AdapterStore) -> None:
    # Taobao "质量问题" (a quality problem); service staff, who saw the goods, say the
    # colour is off the standard: theirs stands through every later sync.
    s = sample("taobao", 3, ["PAINT-RED"], 20)
    key = opb.OrderKey(channel="taobao", shop=SHOP, order_id=s.order_id)
    with grpc.insecure_channel(app.target) as grpc_channel:
        scene = Scene("taobao", fake, store, grpc_channel)
        await scene.paid_then_refunded(s, Refund("PAINT-RED", "质量问题", "颜色不对"))
        assert await report(hub, "taobao") == [("PAINT-RED", "quality", "defect", 1)]

        staff = await hub.SetAfterSalesReason(opb.SetAfterSalesReasonRequest(
            key=key, sku="PAINT-RED", level1="quality", level2="colour_deviation",
            batch="B-0412", note="色差, 批次 B-0412", actor="support:lin"), timeout=10)
        assert staff.outcome == opb.SYNC_OUTCOME_UPDATED
        await scene.poll(40)  # the channel still says 质量问题
        await scene.poll(45)

    assert scene.sink.reasons == {"UPDATED": 1, "KEPT": 2}
    assert await report(hub, "taobao", "sku", "batch", "level2") == [
        ("PAINT-RED", "", "colour_deviation", 1)]
    # An adapter's call naming its channel's code over staff's: refused, nothing changed.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await hub.SetAfterSalesReason(opb.SetAfterSalesReasonRequest(
            key=key, sku="PAINT-RED", level1="quality", level2="defect",
            actor="adapter:taobao", channel_reason="质量问题"), timeout=10)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "support:lin" in (refused.value.details() or "")


async def test_the_report_groups_the_channels_reasons(
        app, hub, fake: FakeChannels, store: AdapterStore) -> None:
    # Three Pinduoduo orders: two colour complaints about the red paint ("颜色/款式与商品
    # 描述不符": colour or style not as the listing shows) and one wrong item sent for
    # the blue ("发错货").
    colour, wrong = "颜色/款式与商品描述不符", "发错货"
    orders = [(sample("pdd", 10 + i, ["PAINT-RED", "PAINT-BLUE"], 20), refunds)
              for i, refunds in enumerate([
                  [Refund("PAINT-RED", colour)],
                  [Refund("PAINT-RED", colour), Refund("PAINT-BLUE", wrong)],
                  [Refund("PAINT-BLUE", "其他")]])]  # "other": left for staff
    with grpc.insecure_channel(app.target) as grpc_channel:
        scene = Scene("pdd", fake, store, grpc_channel)
        for s, _ in orders:
            scene.paid(s)
        await scene.poll(25)
        for s, refunds in orders:
            scene.refunded(s, refunds, 30)
        await scene.poll(35)
    assert scene.sink.reasons == {"UPDATED": 3, "UNMAPPED": 1}
    assert await report(hub, "pdd") == [
        ("PAINT-RED", "not_as_described", "colour_differs_from_photo", 2),
        ("PAINT-BLUE", "logistics", "wrong_item_sent", 1)]
    assert await report(hub, "pdd", "level1") == [
        ("", "not_as_described", "", 2), ("", "logistics", "", 1)]

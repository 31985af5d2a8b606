"""/metrics: the gRPC server metrics by method and code, order outcomes, Redis pipelines,
and the gauges sampled from Redis, scraped over HTTP from the real server."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reservation.server.app import App, start_app
from reservation.server.gauges import GaugeSampler, active_sale_skus
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import guard_service_pb2 as gpb
from reservation.v1 import guard_service_pb2_grpc, listing_service_pb2_grpc, order_service_pb2_grpc
from reservation.v1 import listing_service_pb2 as lpb
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2 as pb
from reservation.writeback import WriteBack
from tests.helpers.orders import channel_order
from tests.helpers.reservations import at, line, load, order, reserve
from tests.helpers.server import Stubs, test_settings
from tests.helpers.waiting import wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grpc_labels(kind: str, method: str, service: str = "reservation.v1.ReservationService",
                **more: str) -> dict[str, str]:
    return {"grpc_type": kind, "grpc_service": service, "grpc_method": method, **more}


@pytest.fixture
async def served(redis_url: str) -> AsyncIterator[tuple[App, Stubs]]:
    running = await start_app(test_settings(redis_url, metrics_port=free_port()))
    async with grpc.aio.insecure_channel(running.target) as channel:
        yield running, Stubs(channel)
    await running.stop(grace=0)


async def test_rpcs_are_counted_by_method_and_code_with_latency(served: Any) -> None:
    app, stubs = served
    before = await asyncio.to_thread(scrape, app.metrics_port)
    await load(stubs, ("MET-1", "WH", 5))
    for i in range(3):
        await reserve(stubs, order(f"met-{i}", line("MET-1")))
    with pytest.raises(grpc.aio.AioRpcError):
        await stubs.rs.Reserve(order("", line("MET-1")))  # order_id missing
    after = await asyncio.to_thread(scrape, app.metrics_port)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("grpc_server_started_total", **grpc_labels("UNARY", "Reserve")) == 4
    assert delta("grpc_server_handled_total",
                 **grpc_labels("UNARY", "Reserve", grpc_code="OK")) == 3
    assert delta("grpc_server_handled_total",
                 **grpc_labels("UNARY", "Reserve", grpc_code="INVALID_ARGUMENT")) == 1
    assert delta("grpc_server_handling_seconds_count", **grpc_labels("UNARY", "Reserve")) == 4
    assert delta("grpc_server_handled_total", grpc_code="OK", **grpc_labels(
        "UNARY", "LoadStock", service="reservation.v1.AdminService")) == 1


async def test_reserve_outcomes_are_counted_by_channel_state_and_reason(served: Any) -> None:
    app, stubs = served
    before = await asyncio.to_thread(scrape, app.metrics_port)
    await load(stubs, ("MET-2", "WH", 1))
    await reserve(stubs, order("out-1", line("MET-2"), channel="tmall"))
    await reserve(stubs, order("out-2", line("MET-2"), channel="tmall"))
    after = await asyncio.to_thread(scrape, app.metrics_port)
    name = "reservation_reserve_outcomes_total"
    held = {"channel": "tmall", "state": "RESERVED", "reason": ""}
    refused = {"channel": "tmall", "state": "REJECTED", "reason": "INSUFFICIENT_STOCK"}
    assert value(after, name, **held) - value(before, name, **held) == 1
    assert value(after, name, **refused) - value(before, name, **refused) == 1


async def test_streams_are_counted_when_they_end(served: Any) -> None:
    app, stubs = served
    await load(stubs, ("MET-3", "WH", 5))
    before = await asyncio.to_thread(scrape, app.metrics_port)

    async def requests() -> AsyncIterator[rpb.ReserveStreamRequest]:
        for i in range(4):
            yield rpb.ReserveStreamRequest(request=order(f"st-{i}", line("MET-3")))

    answers = [r async for r in stubs.rs.ReserveStream(requests())]
    after = await asyncio.to_thread(scrape, app.metrics_port)
    assert len(answers) == 4
    labels = grpc_labels("BIDI_STREAM", "ReserveStream", grpc_code="OK")
    assert (value(after, "grpc_server_handled_total", **labels)
            - value(before, "grpc_server_handled_total", **labels)) == 1
    # Four coalesced reserves went to Redis in pipelines whose sizes are recorded.
    assert (value(after, "reservation_redis_pipeline_calls_sum")
            - value(before, "reservation_redis_pipeline_calls_sum")) >= 4


async def test_sampled_gauges_show_queue_dead_letters_and_write_back_lag(served: Any) -> None:
    app, stubs = served
    await load(stubs, ("MET-4", "WH", 1))
    await reserve(stubs, order("q-1", line("MET-4")))
    await reserve(stubs, order("q-2", line("MET-4"), allow_queue=True))  # waits in line
    sampler = GaugeSampler(app.store, app.inventory, WriteBack.over(app.store),
                           hot_skus=_skus("MET-4"))
    await sampler.sample()
    samples = await asyncio.to_thread(scrape, app.metrics_port)
    assert value(samples, "reservation_queue_depth") >= 1
    assert value(samples, "reservation_write_back_undelivered", group="wms") >= 3
    assert value(samples, "reservation_write_back_oldest_age_seconds", group="wms") >= 0
    assert value(samples, "reservation_hot_sku_stock", sku="MET-4", warehouse="WH",
                 counter="held") == 1
    assert value(samples, "reservation_hot_sku_queue_depth", sku="MET-4") == 1


async def test_every_order_event_group_has_its_lag_and_serving_is_a_gauge(
        served: Any) -> None:
    app, stubs = served
    await load(stubs, ("MET-O", "WH-A", 5))
    hub = order_service_pb2_grpc.OrderServiceStub(stubs.channel)
    await hub.SyncOrders(opb.SyncOrdersRequest(orders=[
        channel_order("MO-1", "PAID", ("MET-O", 1))]))
    sampler = GaugeSampler(app.store, app.inventory, WriteBack.over(app.store),
                           order_events=app.orders.events)
    await sampler.sample()
    samples = await asyncio.to_thread(scrape, app.metrics_port)
    # Nothing has pulled the audit group yet: the order's events wait there.
    assert value(samples, "reservation_order_events_undelivered", group="audit") >= 1
    assert value(samples, "reservation_order_events_oldest_age_seconds", group="audit") >= 0
    serving = [v for (name, _), v in samples.items() if name == "reservation_serving"]
    assert serving and min(serving) == 1
    await app.set_serving(False)
    samples = await asyncio.to_thread(scrape, app.metrics_port)
    assert min(v for (name, _), v in samples.items() if name == "reservation_serving") == 0
    await app.set_serving(True)
    rules = (Path(__file__).resolve().parents[2] / "k8s" / "monitoring"
             / "prometheus-rules.yaml").read_text(encoding="utf-8")
    for metric in ("reservation_serving", "reservation_order_events_oldest_age_seconds",
                   "reservation_write_back_oldest_age_seconds", "grpc_server_handled_total",
                   "grpc_server_handling_seconds_bucket"):
        assert metric in rules, metric


def _skus(*skus: str) -> Any:
    async def hot() -> list[str]:
        return list(skus)
    return hot


async def test_hot_skus_are_those_of_running_sales(served: Any) -> None:
    app, stubs = served
    await stubs.admin.StartFlashSale(apb.StartFlashSaleRequest(
        create_skus=True,  # the test's SKUs are new
        sale_id="met-sale", starts_at=at(0), ends_at=at(3_600_000),
        items=[pb.StockItem(sku="MET-HOT", warehouse_id="WH", quantity=2)]))
    await stubs.admin.StartFlashSale(apb.StartFlashSaleRequest(
        create_skus=True,  # the test's SKUs are new
        sale_id="met-later", starts_at=at(1_800_000), ends_at=at(3_600_000),
        items=[pb.StockItem(sku="MET-LATER", warehouse_id="WH", quantity=2)]))
    hot = await active_sale_skus(app.sales)
    assert "MET-HOT" in hot and "MET-LATER" not in hot


async def test_an_open_breaker_shows_as_a_gauge_the_alert_rule_reads(served: Any) -> None:
    app, stubs = served
    guard = guard_service_pb2_grpc.GuardServiceStub(stubs.channel)
    await load(stubs, ("MET-B", "WH", 10))
    await guard.ForceBreaker(gpb.ForceBreakerRequest(sku="MET-B", channel="jd",
                                                     state=gpb.BREAKER_STATE_OPEN))
    sampler = GaugeSampler(app.store, app.inventory, WriteBack.over(app.store), guard=app.guard)
    await sampler.sample()
    samples = await asyncio.to_thread(scrape, app.metrics_port)
    assert value(samples, "reservation_breaker_open", sku="MET-B", channel="jd") == 1
    await guard.ForceBreaker(gpb.ForceBreakerRequest(sku="MET-B", channel="jd",
                                                     state=gpb.BREAKER_STATE_CLOSED))
    await sampler.sample()
    samples = await asyncio.to_thread(scrape, app.metrics_port)
    assert value(samples, "reservation_breaker_open", sku="MET-B", channel="jd") == 0
    rules = Path(__file__).resolve().parents[2] / "k8s" / "monitoring" / "prometheus-rules.yaml"
    assert "reservation_breaker_open" in rules.read_text(encoding="utf-8")


async def test_listing_pushes_reported_by_a_worker_show_as_lag_refusals_and_drift(
        served: Any) -> None:
    app, stubs = served
    listing = listing_service_pb2_grpc.ListingServiceStub(stubs.channel)
    await listing.ReportListingPushes(lpb.ReportListingPushesRequest(
        channel="douyin", shop="live", drift=2, unmapped=1,
        pushes=[lpb.ListingPush(sku="MET-L", quantity=3, listed=True, changed_at_ms=1_000,
                                pushed_at_ms=1_400)],
        refused=[lpb.RefusedPush(sku="MET-M", reason="auth 30002")]))
    samples = await asyncio.to_thread(scrape, app.metrics_port)
    assert value(samples, "reservation_listing_push_lag_seconds_count", channel="douyin") == 1
    assert value(samples, "reservation_listing_push_lag_seconds_sum", channel="douyin") == \
        pytest.approx(0.4)
    assert value(samples, "reservation_listing_drift_total", channel="douyin") == 2
    assert value(samples, "reservation_listing_unmapped_total", channel="douyin") == 1
    assert value(samples, "reservation_listing_pushes_refused_total", channel="douyin",
                 reason="auth 30002") == 1
    rules = Path(__file__).resolve().parents[2] / "k8s" / "monitoring" / "prometheus-rules.yaml"
    text = rules.read_text(encoding="utf-8")
    assert "reservation_listing_push_lag_seconds_bucket" in text
    assert "reservation_listing_pushes_refused_total" in text


async def test_a_listing_closed_by_a_dynamic_safety_is_counted_once_for_the_alert(
        served: Any) -> None:
    app, stubs = served
    listing = listing_service_pb2_grpc.ListingServiceStub(stubs.channel)
    await load(stubs, ("MET-D", "WH", 100))
    await listing.PutListingRules(lpb.PutListingRulesRequest(document_json=json.dumps(
        {"rules": [{"name": "live", "when": {"sku": ["MET-D"]}, "then": {
            "shares": {"douyin": 100},
            "dynamic_safety": {"lag_s": 60, "window_s": 1, "close": ["douyin"]}}}]})))

    async def sell_and_ask() -> bool:
        await stubs.rs.Reserve(order(f"met-d-{time.monotonic_ns()}",
                                              line("MET-D"), channel="douyin"))
        reply = await listing.GetListingQuantities(lpb.GetListingQuantitiesRequest(
            channel="douyin", shop="live", skus=["MET-D"]))
        return reply.quantities[0].listed

    await wait_until(sell_and_ask, lambda listed: not listed,
                     "the listing closed by its dynamic safety", 30)
    for _ in range(3):  # asked again while closed: still one close
        await sell_and_ask()
    samples = await asyncio.to_thread(scrape, app.metrics_port)
    assert value(samples, "reservation_listing_dynamic_closes_total", channel="douyin") == 1
    rules = Path(__file__).resolve().parents[2] / "k8s" / "monitoring" / "prometheus-rules.yaml"
    assert "reservation_listing_dynamic_closes_total" in rules.read_text(encoding="utf-8")

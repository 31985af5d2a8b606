"""The console's order-hub pages, served by uvicorn on loopback in front of the real
server: the review queue (a held order rejected from the page), the interception rule
set (checked without storing, a bad one refused with its field named and the text kept,
a good one put), and an order's history."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

import yaml

from reservation.server.app import App
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import types_pb2 as pb
from tests.helpers.console import Console, Reply, console_for
from tests.helpers.orders import channel_order
from tests.helpers.reservations import at, load

COOKIE = {"Cookie": "op_name=alice; op_token=x"}  # the test server runs without auth


async def get(console: Console, path: str) -> Reply:
    return await asyncio.to_thread(console._request, "GET", path, None, COOKIE)


async def post(console: Console, path: str, form: dict[str, str]) -> Reply:
    return await asyncio.to_thread(console._request, "POST", path, form, COOKIE)


async def test_a_held_order_is_rejected_from_the_reviews_page(app: App, stubs) -> None:
    orders = ogrpc.OrderServiceStub(stubs.channel)
    await load(stubs, ("SKU-OK", "WH-1", 5))
    await orders.SyncOrders(opb.SyncOrdersRequest(orders=[
        channel_order("H1", "PAID", ("SKU-NONE", 1)),    # no stock: held for a person
        channel_order("G1", "PAID", ("SKU-OK", 1))]))
    async with console_for(app) as console:
        page = await get(console, "/reviews")
        assert page.status == 200, page.body
        assert 'data-order="jd/shop-1/H1"' in page.body
        assert 'data-order="jd/shop-1/G1"' not in page.body

        done = await post(console, "/reviews/resolve", {
            "channel": "jd", "shop": "shop-1", "order_id": "H1", "decision": "reject",
            "note": "we do not sell it"})
        assert done.status == 303
        page = await get(console, "/reviews?" + urlencode({"msg": "x"}))
        assert 'id="no-open"' in page.body
        assert 'class="closed-review" data-order="jd/shop-1/H1"' in page.body
        assert "we do not sell it" in page.body

        again = await post(console, "/reviews/resolve", {
            "channel": "jd", "shop": "shop-1", "order_id": "H1", "decision": "approve"})
        assert again.status == 303  # the service's refusal goes back to the page

        history = await get(console, "/orders?channel=jd&shop=shop-1&order_id=H1")
        assert history.status == 200, history.body
        assert '<td id="state">CANCELLED</td>' in history.body
        assert "operator:alice" in history.body and "ON_HOLD → CANCELLED" in history.body
        missing = await get(console, "/orders?channel=jd&shop=shop-1&order_id=nosuch")
        assert missing.status == 404 and "NOT_FOUND" in missing.body
    got = await orders.GetOrder(opb.GetOrderRequest(key=opb.OrderKey(
        channel="jd", shop="shop-1", order_id="H1")))
    assert got.order.state == "CANCELLED"


async def test_interception_rules_are_checked_refused_with_the_field_and_put(
        app: App, stubs) -> None:
    icpt = igrpc.InterceptionServiceStub(stubs.channel)
    before = (await icpt.GetInterceptionRules(ipb.GetInterceptionRulesRequest())).rules
    async with console_for(app) as console:
        page = await get(console, "/interception")
        assert page.status == 200, page.body
        assert f'<span id="version">{before.version}</span>' in page.body
        document = yaml.safe_dump({"rules": []})

        checked = await post(console, "/interception", {
            "document": document, "action": "check", "expected_version": str(before.version)})
        assert checked.status == 200, checked.body
        assert f"it would become version {before.version + 1}; nothing stored" in checked.body
        now = (await icpt.GetInterceptionRules(ipb.GetInterceptionRulesRequest())).rules
        assert now.version == before.version

        bad = "rules:\n  - name: odd\n    whenn: {}\n"
        refused = await post(console, "/interception", {
            "document": bad, "action": "put", "expected_version": str(before.version)})
        assert refused.status == 400
        assert "INVALID_ARGUMENT" in refused.body and "whenn" in refused.body
        assert "name: odd" in refused.body  # the text is kept for the fix

        put = await post(console, "/interception", {
            "document": document, "action": "put", "comment": "no rules today",
            "expected_version": str(before.version)})
        assert put.status == 303
        page = await get(console, "/interception")
        assert f'<span id="version">{before.version + 1}</span>' in page.body
    now = (await icpt.GetInterceptionRules(ipb.GetInterceptionRulesRequest())).rules
    assert now.version == before.version + 1


async def test_a_sale_is_paused_and_resumed_from_the_page(app: App, stubs) -> None:
    await stubs.admin.StartFlashSale(apb.StartFlashSaleRequest(
        sale_id="s1", items=[pb.StockItem(sku="SALE-1", warehouse_id="WH-1", quantity=3)],
        starts_at=at(0), ends_at=at(3_600_000), create_skus=True))
    async with console_for(app) as console:
        live = await get(console, "/live")
        assert 'data-sale="s1" data-state="active"' in live.body
        assert 'action="/sales/s1/pause"' in live.body
        paused = await post(console, "/sales/s1/pause", {})
        assert paused.status == 303
        sale = (await stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="s1"))).sale
        assert sale.state == apb.FLASH_SALE_STATE_PAUSED
        live = await get(console, "/live")
        assert 'data-sale="s1" data-state="paused"' in live.body
        assert 'action="/sales/s1/resume"' in live.body
        assert (await post(console, "/sales/s1/resume", {})).status == 303
        unknown = await post(console, "/sales/s1/explode", {})
        assert unknown.status == 303  # said on the page, nothing called
    sale = (await stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="s1"))).sale
    assert sale.state == apb.FLASH_SALE_STATE_ACTIVE


async def test_the_overdue_page_shows_the_top_orders_and_refuses_a_bad_filter(
        app: App, stubs) -> None:
    orders = ogrpc.OrderServiceStub(stubs.channel)
    assert app.orders is not None and app.overdue is not None
    real = app.orders.clock
    await orders.SyncOrders(opb.SyncOrdersRequest(orders=[
        # No stock: held, not routed. Created now (orders created longer ago than
        # RESERVATION_ORDER_OVERDUE_LOOKBACK_MS are not evaluated).
        channel_order("OD-1", "PAID", ("SKU-NONE", 1), modified_s=int(time.time()))]))
    async with console_for(app) as console:
        app.orders.clock = lambda: real() + 14 * 60 * 1000  # within the 15 minutes
        await app.overdue.run_once(lease=False)
        page = await get(console, "/overdue")
        assert page.status == 200, page.body
        assert 'id="no-overdue"' in page.body

        app.orders.clock = lambda: real() + 16 * 60 * 1000
        await app.overdue.run_once(lease=False)
        page = await get(console, "/overdue?channel=jd")
        assert 'class="overdue" data-order="jd/shop-1/OD-1"' in page.body
        assert 'data-where="paid/jd"' in page.body

        bad = await get(console, "/overdue?node=packed")
        assert bad.status == 400 and "INVALID_ARGUMENT" in bad.body and "node" in bad.body
    app.orders.clock = real


async def test_an_order_is_expedited_from_its_page(app: App, stubs) -> None:
    orders = ogrpc.OrderServiceStub(stubs.channel)
    await load(stubs, ("SKU-EX", "WH-1", 5))
    await orders.SyncOrders(opb.SyncOrdersRequest(orders=[
        channel_order("EX-1", "PAID", ("SKU-EX", 1))]))
    where = "/orders?channel=jd&shop=shop-1&order_id=EX-1"
    async with console_for(app) as console:
        page = await get(console, where)
        assert 'id="expedite-form"' in page.body and '<td id="priority">normal</td>' in page.body
        done = await post(console, "/orders/expedite", {
            "channel": "jd", "shop": "shop-1", "order_id": "EX-1",
            "reason": "buyer's wedding on Friday"})
        assert done.status == 303
        page = await get(console, where + "&msg=expedited+%28UPDATED%29")
        assert '<td id="priority">expedited</td>' in page.body
        assert 'id="expedite-form"' not in page.body  # once is enough
        assert "operator:alice" in page.body and "buyer&#39;s wedding on Friday" in page.body
    got = await orders.GetOrder(opb.GetOrderRequest(key=opb.OrderKey(
        channel="jd", shop="shop-1", order_id="EX-1")))
    assert got.order.priority == 1


async def test_the_service_desk_finds_a_buyers_orders_by_phone_on_the_find_page(
        app: App, stubs) -> None:
    orders = ogrpc.OrderServiceStub(stubs.channel)
    await load(stubs, ("SKU-FD", "WH-1", 5))
    await orders.SyncOrders(opb.SyncOrdersRequest(orders=[
        channel_order("FD-1", "PAID", ("SKU-FD", 1), phone="13800000001"),
        channel_order("FD-2", "PENDING_PAYMENT", ("SKU-FD", 1), channel="pdd",
                      phone="13800000001", detail="2 Hill St"),
        channel_order("FD-3", "PAID", ("SKU-FD", 1), phone="13900000002", detail="9 Far Rd")]))
    async with console_for(app) as console:
        form = await get(console, "/find")
        assert form.status == 200 and 'id="find-form"' in form.body
        page = await post(console, "/find", {"phone": "13800000001", "order_number": "",
                                             "tracking_number": ""})
        assert page.status == 200, page.body
        assert 'data-order="jd/shop-1/FD-1"' in page.body
        assert 'data-order="pdd/shop-1/FD-2"' in page.body
        assert "FD-3" not in page.body and "awaiting payment" in page.body
        both = await post(console, "/find", {"phone": "13800000001", "order_number": "FD-1"})
        assert both.status == 400 and "INVALID_ARGUMENT" in both.body


async def test_the_live_page_shows_the_order_health_and_what_hub_and_channel_disagree_on(
        app: App, stubs) -> None:
    orders = ogrpc.OrderServiceStub(stubs.channel)
    assert app.orders is not None
    real = app.orders.clock
    await load(stubs, ("SKU-CI", "WH-1", 5))
    now = int(time.time())
    paid = channel_order("CI-1", "PAID", ("SKU-CI", 1), channel="pdd", modified_s=now)
    paid.paid_at.FromSeconds(now)
    await orders.SyncOrders(opb.SyncOrdersRequest(orders=[paid]))
    await orders.ReportShipment(opb.ReportShipmentRequest(
        key=opb.OrderKey(channel="pdd", shop="shop-1", order_id="CI-1"),
        shipment=opb.Shipment(carrier="SF", tracking_number="SF-CI-1")))
    cancelled = channel_order("CI-1", "CANCELLED", ("SKU-CI", 1), channel="pdd",
                              modified_s=now + 1)
    cancelled.paid_at.FromSeconds(now)
    refused = await orders.SyncOrders(opb.SyncOrdersRequest(orders=[cancelled]))
    assert refused.results[0].outcome == opb.SYNC_OUTCOME_REFUSED  # the hub has it shipped
    async with console_for(app) as console:
        app.orders.clock = lambda: real() + 31 * 60 * 1000  # past the 30 min of grace
        live = await get(console, "/live")
        assert live.status == 200, live.body
        assert 'class="num consistent">0.0%' in live.body
        assert 'class="inconsistent" data-order="pdd/shop-1/CI-1"' in live.body
        assert "CANCELLED (cancelled)" in live.body
    app.orders.clock = real

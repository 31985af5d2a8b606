"""The operators' console in a real browser: Debian's chromium, headless, driven by
Playwright (never Playwright's own browser download). One walk through a live sale:
log in (a wrong token is refused), start a sale with its confirmation step, watch the
bars move while a load generator runs, requeue a dead letter, force a breaker, stop the
sale; every action is checked through the gRPC API and in the operator-action log. And
the finance page over a records store: the settlement differences by class, resolved
from the page.

Screenshots go to $CONSOLE_SCREENSHOTS when set (the docs' console page shows those in
docs/assets/console/), else to the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import uvicorn
from playwright.async_api import Page, async_playwright

from reservation.clients.channels.fake_statements import Payout
from reservation.clients.console.app import build_app
from reservation.server.app import App, start_app
from reservation.settlement.run import run
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import guard_service_pb2 as gpb
from reservation.v1 import guard_service_pb2_grpc, listing_service_pb2_grpc, order_service_pb2_grpc
from reservation.v1 import listing_service_pb2 as lpb
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import settlement_service_pb2 as spb
from reservation.v1 import settlement_service_pb2_grpc as spb_grpc
from reservation.v1 import types_pb2 as pb
from tests.helpers.orders import channel_order
from tests.helpers.reservations import (
    DEAD_LETTERED,
    QUEUED,
    RESERVED,
    assert_invariant,
    confirm,
    levels,
    line,
    load,
    order,
    reserve,
    wait_for_state,
)
from tests.helpers.server import Stubs, test_settings
from tests.helpers.settlement import PRICE, import_statement, paid, today

TOKEN = "op-secret"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SKU = "PHONE-X"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # A token to log in with; queued orders dead-letter after 300 ms.
    return {"auth_token": TOKEN, "queue_deadline_ms": 300,
            "write_back_batch_key": "test-batch-key"}


class _Bearer(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = list(details.metadata or []) + [("authorization", f"Bearer {TOKEN}")]
        return await continuation(details._replace(metadata=metadata), request)


@pytest.fixture
async def operator_stubs(app: App) -> AsyncIterator[Stubs]:
    async with grpc.aio.insecure_channel(app.target, interceptors=[_Bearer()]) as channel:
        yield Stubs(channel)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def console_for(app: App) -> AsyncIterator[str]:
    """`reservation console`'s app on a loopback port, in this event loop."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(app.target), host="127.0.0.1", port=port,
                                           log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "console did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


async def load_generator(stubs: Stubs, stop: asyncio.Event, channel: str, worker: int) -> int:
    """Orders one unit at a time from a channel, paying for every other one."""
    n = 0
    while not stop.is_set():
        n += 1
        oid = f"lg-{worker}-{n}"
        r = await reserve(stubs, order(oid, line(SKU), channel=channel, buyer=oid))
        if r.state == RESERVED and n % 2:
            await confirm(stubs, oid, channel=channel)
        await asyncio.sleep(0.02)
    return n


async def bar_totals(page: Page) -> tuple[int, int]:
    """(held, confirmed) of the SKU summed over its warehouse rows, as the page shows."""
    return await page.evaluate(
        """sku => [...document.querySelectorAll(`tr.level[data-sku="${sku}"]`)].reduce(
             (t, r) => [t[0] + +r.dataset.held, t[1] + +r.dataset.confirmed], [0, 0])""", SKU)


async def test_an_operator_runs_a_sale_from_the_console(
        app: App, operator_stubs: Stubs, shots: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert Path(CHROMIUM).exists(), "the console test needs Debian's chromium: apt-get install chromium"
    caplog.set_level(logging.INFO, logger="reservation.audit")
    stubs = operator_stubs
    guard = guard_service_pb2_grpc.GuardServiceStub(stubs.channel)
    # A dead letter to decide on: one unit held, the next order queued until its deadline.
    await load(stubs, ("DL-SKU", "WH-1", 1))
    await reserve(stubs, order("dl-1", line("DL-SKU"), buyer="b1"))
    queued = await reserve(stubs, order("dl-2", line("DL-SKU"), buyer="b2", allow_queue=True))
    assert queued.state == QUEUED
    await wait_for_state(stubs, "dl-2", DEAD_LETTERED)

    async with console_for(app) as url, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1500, "height": 1100})

        # Log in: a wrong token is refused by the service itself.
        await page.goto(url + "/")
        assert page.url.endswith("/login")
        await page.fill("#name", "alice")
        await page.fill("#token", "wrong")
        await page.click("#login")
        assert "UNAUTHENTICATED" in await page.inner_text("#login-error")
        await page.fill("#name", "alice")
        await page.fill("#token", TOKEN)
        await page.click("#login")
        assert await page.inner_text("#operator") == "alice"

        # Start a sale: review, then confirm.
        await page.fill("#sale_id", "double11")
        await page.fill("#items", f"{SKU}:WH-SH:300 {SKU}:WH-BJ:200")
        await page.check("#create_skus")  # the SKU has no stock yet: the sale creates it
        await page.click("#review-sale")
        assert "would be active" in await page.inner_text("#review-ok")
        await page.screenshot(path=str(shots / "confirm-start.png"))
        with pytest.raises(grpc.aio.AioRpcError):  # nothing starts before the confirmation
            await stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="double11"))
        await page.click("#confirm-start")
        assert "sale double11 started (active)" in await page.inner_text("#msg")

        # The bars move while orders come in; tmall sells down to 450 units and pauses
        # there (its breaker opens by itself), jd goes on.
        await guard.SetBreakerThreshold(gpb.SetBreakerThresholdRequest(
            sku=SKU, channel="tmall", threshold=450))
        stop = asyncio.Event()
        workers = [asyncio.create_task(load_generator(stubs, stop, ch, w))
                   for w, ch in enumerate(("tmall", "jd", "tmall", "jd"))]
        try:
            await page.wait_for_function(
                """sku => [...document.querySelectorAll(`tr.level[data-sku="${sku}"]`)]
                     .some(r => +r.dataset.confirmed > 0)""", arg=SKU, timeout=30_000)
            first = await bar_totals(page)
            await page.wait_for_function(
                """([sku, before]) => [...document.querySelectorAll(`tr.level[data-sku="${sku}"]`)]
                     .reduce((t, r) => t + +r.dataset.confirmed, 0) > before""",
                arg=[SKU, first[1]], timeout=30_000)
            await page.wait_for_selector(
                f'tr.breaker[data-sku="{SKU}"][data-channel="tmall"][data-state="OPEN"]',
                timeout=30_000)

            # Force a breaker open for one more channel: that channel pauses, others sell.
            await page.fill("#force-sku", SKU)
            await page.fill("#force-channel", "douyin")
            await page.click("#force-open")
            assert "breaker PHONE-X/douyin: open" in await page.inner_text("#msg")
            await page.wait_for_selector(
                f'tr.breaker[data-sku="{SKU}"][data-channel="douyin"][data-state="OPEN"]')

            # Douyin's listing was last told 120 units; with its breaker open the service
            # would close it: the listings table shows both, side by side.
            now_ms = int(time.time() * 1000)
            await listing_service_pb2_grpc.ListingServiceStub(stubs.channel).ReportListingPushes(
                lpb.ReportListingPushesRequest(channel="douyin", shop="live", pushes=[
                    lpb.ListingPush(sku=SKU, quantity=120, listed=True,
                                    changed_at_ms=now_ms - 300, pushed_at_ms=now_ms)]))
            row = page.locator(
                f'tr.listing[data-sku="{SKU}"][data-channel="douyin"][data-shop="live"]')
            await row.wait_for(timeout=30_000)
            cells = await row.locator("td").all_inner_texts()
            assert cells[3] == "120" and cells[4] == "closed", cells
            await page.screenshot(path=str(shots / "console.png"), full_page=True)
        finally:
            stop.set()
            sent = sum(await asyncio.gather(*workers))
        assert sent > 0
        found = (await guard.GetGuard(gpb.GetGuardRequest(sku=SKU))).guard
        douyin = next(b for b in found.breakers if b.channel == "douyin")
        assert (douyin.state, douyin.forced) == (gpb.BREAKER_STATE_OPEN, gpb.BREAKER_STATE_OPEN)
        paused = await reserve(stubs, order("dy-1", line(SKU), channel="douyin", buyer="d1"))
        assert paused.reject_reason == pb.REJECT_REASON_CHANNEL_PAUSED

        # Requeue the dead letter from its row.
        row = page.locator('tr.dead-letter[data-order="jd:dl-2"]')
        await row.locator("button", has_text="requeue").click()
        assert "jd:dl-2 requeued: now QUEUED" in await page.inner_text("#msg")

        # Stop the sale: confirm first.
        await page.locator('tr.sale[data-sale="double11"] button.danger').click()
        await page.click("#confirm-stop")
        assert "sale double11 stopped" in await page.inner_text("#msg")
        # The order hub's funnel for today is read (this walk synced no hub orders).
        assert "Not available" not in await page.inner_text("#fulfilment")
        await page.screenshot(path=str(shots / "stopped.png"), full_page=True)

        # A paid order the hub cannot route (no stock: held), 16 minutes later on the
        # hub's clock: the overdue page lists it at the top.
        orders = order_service_pb2_grpc.OrderServiceStub(stubs.channel)
        await orders.SyncOrders(opb.SyncOrdersRequest(orders=[
            channel_order("OD-1", "PAID", ("NO-STOCK", 1), modified_s=int(time.time()))]))
        assert app.orders is not None and app.overdue is not None
        real = app.orders.clock
        app.orders.clock = lambda: real() + 16 * 60 * 1000
        try:
            await app.overdue.run_once(lease=False)
        finally:
            app.orders.clock = real
        await page.goto(url + "/overdue")
        row = page.locator('tr.overdue[data-order="jd/shop-1/OD-1"]')
        assert (await row.locator("td").all_inner_texts())[1] == "paid"
        assert await page.inner_text('tr.overdue-count[data-where="paid/jd"] td >> nth=2') == "1"
        await page.screenshot(path=str(shots / "overdue.png"), full_page=True)
        await browser.close()

    sale = await stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="double11"))
    assert sale.sale.state == apb.FLASH_SALE_STATE_STOPPED
    assert_invariant(await levels(stubs, SKU))
    # Every action is in the operator-action log with the name the operator gave (on
    # behalf of whom the token's principal acted).
    done = {r.__dict__.get("what") for r in caplog.records
            if r.name == "reservation.audit" and r.__dict__.get("on_behalf_of") == "alice"
            and r.__dict__.get("outcome") == "ok"}
    assert {"StartFlashSale", "RequeueDeadLetter", "ForceBreaker", "StopFlashSale"} <= done


@pytest.fixture
async def finance_app(redis_url: str, tmp_path: Path) -> AsyncIterator[App]:
    """The server with a token to log in with and a records store, no background work."""
    app = await start_app(test_settings(
        redis_url, auth_token=TOKEN, write_back_batch_key="test-batch-key",
        records_url=f"sqlite:///{tmp_path / 'records.sqlite3'}"),
        background=False)
    yield app
    await app.stop(grace=0)


async def test_finance_sees_todays_differences_by_class_and_resolves_one(
        finance_app: App, shots: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The finance page: the day's totals, the open differences by class, each linking
    its order's page (the order and its history), and a difference resolved from the
    page, checked through the gRPC API and in the operator-action log."""
    app = finance_app
    assert Path(CHROMIUM).exists(), "the console test needs Debian's chromium"
    caplog.set_level(logging.INFO, logger="reservation.audit")
    assert app.records is not None and app.follower is not None
    async with grpc.aio.insecure_channel(app.target, interceptors=[_Bearer()]) as channel:
        await load(Stubs(channel), ("SKU-1", "WH-A", 10))
        orders = order_service_pb2_grpc.OrderServiceStub(channel)
        await paid(orders, "F1")  # paid, never shipped: a payout for it is a delay
        await app.follower.catch_up()
        import_statement(app.records, "jd", today(), Payout("F1", goods_cents=PRICE),
                         Payout("NOPE", goods_cents=500), Payout("", fee_cents=900))
        await asyncio.to_thread(run, app.records, today())
        settle = spb_grpc.SettlementServiceStub(channel)

        async with console_for(app) as url, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(url + "/login")
            await page.fill("#name", "li")
            await page.fill("#token", TOKEN)
            await page.click("#login")
            await page.goto(url + "/finance")
            assert await page.get_attribute("#finance-link", "href") == "/finance"
            assert await page.inner_text('tr.total[data-channel="jd/shop-1"] td >> nth=8') \
                == f"{(PRICE + 500 - 900) / 100:.2f}"
            by_class = {await r.get_attribute("data-class"):
                        await r.locator("td >> nth=1").inner_text()
                        for r in await page.locator("tr.by-class").all()}
            assert by_class == {"SYSTEM_DELAY": "1", "MISSING_IN_HUB": "1",
                                "PLATFORM_FEE": "1"}
            await page.screenshot(path=str(shots / "finance.png"), full_page=True)
            # The delay links its order: the order page with its history.
            delay = page.locator('tr.difference[data-difference="jd:shop-1/F1#SYSTEM_DELAY"]')
            await delay.locator("a.order-link").click()
            assert "order_id=F1" in page.url
            assert "F1" in await page.inner_text("main")
            # Only the delay's class, then resolve the deduction.
            await page.goto(url + "/finance?class=PLATFORM_FEE")
            rows = page.locator("tr.difference")
            assert await rows.count() == 1
            fee_id = await rows.first.get_attribute("data-difference")
            await rows.first.locator("input[name=reason]").fill("penalty accepted")
            await rows.first.locator("button").click()
            assert f"resolved {fee_id}" in await page.inner_text("#msg")
            await browser.close()

        listed = await settle.ListSettlementDifferences(spb.ListSettlementDifferencesRequest(
            state="RESOLVED"))
    assert [(x.difference_id, x.closed_by, x.reason) for x in listed.differences] == [
        (fee_id, "li", "penalty accepted")]
    logged = [r.__dict__ for r in caplog.records if r.name == "reservation.audit"
              and r.__dict__.get("what") == "ResolveDifference"]
    assert [(x.get("target"), x.get("on_behalf_of"), x.get("outcome")) for x in logged] == [
        (fee_id, "li", "ok")]

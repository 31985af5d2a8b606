"""Each adapter end to end, as a process: orders from the fake channel reach the hub
through SyncOrders, the WMS reports shipments, the adapter pushes the tracking numbers
back, and it is killed (SIGKILL) once in the middle of a push batch. Afterwards every
order is in the hub once and every tracking number reached its channel exactly once."""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from reservation.clients.channels.base import CST
from reservation.clients.channels.fake_server import FakeChannels, Pushed
from reservation.clients.channels.pushback import feed_group
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc
from tests.helpers.channels import CHANNELS, payloads
from tests.helpers.reservations import load

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
N = 8


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"order_event_groups": "audit," + ",".join(f"feed-{c}" for c in CHANNELS),
            "write_back_visibility_timeout_ms": 500}


def fresh(channel: str, i: int, now: float) -> dict[str, Any]:
    """The channel's recorded PAID payload as a new order: own id, own phone, modified now."""
    case = next(c for c in payloads(channel)["statuses"] if c["state"] == "PAID")
    raw = copy.deepcopy(case["raw"])
    oid, phone = f"RT{i:04d}", f"1390000{i:04d}"
    text = datetime.fromtimestamp(now, CST).strftime("%Y-%m-%d %H:%M:%S")
    if channel == "taobao":
        raw.update(tid=oid, receiver_mobile=phone, modified=text)
    elif channel == "jd":
        raw.update(orderId=oid, modified=text)
        raw["consigneeInfo"]["mobile"] = phone
    elif channel == "pdd":
        raw.update(order_sn=oid, receiver_phone=f"139****{i:04d}", updated_at=text)
    elif channel == "douyin":
        raw.update(order_id=oid, post_tel=phone, update_time=int(now))
    elif channel == "wechat":
        raw.update(order_id=oid, update_time=int(now))
        raw["order_detail"]["delivery_info"]["address_info"]["tel_number"] = phone
    elif channel == "pos":
        raw["order_no"] = oid
        raw["rows"] = [{**r, "order_no": oid, "phone": phone} for r in raw["rows"]]
    return raw


def start_adapter(channel: str, fake: FakeChannels, target: str, state: Path,
                  log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **fake.env(channel, "shop-1")}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "reservation.clients.channels.run", "--channel", channel,
             "--shop", "shop-1", "--target", target, "--state", str(state),
             "--interval", "0.3", "--overlap", "60", "--lookback", "600",
             # the POS file is written at 4 rows/s, so the kill lands mid-batch
             "--rate", "4" if channel == "pos" else "20",
             "--page-size", "3", "--idle-s", "0.5"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


RETRY = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


async def patiently(call: Any, timeout: float = 60.0) -> Any:
    """The service's contract: UNAVAILABLE (a Redis slow to answer on a loaded machine)
    means try again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in RETRY or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def wait_for(what: str, check: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not await patiently(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_round_trip_with_the_adapter_killed_mid_push(
        channel: str, app: Any, stubs: Any, tmp_path: Path) -> None:
    await load(stubs, ("PHONE-X", "WH-A", 100), ("EARBUDS", "WH-A", 100))
    hub = order_service_pb2_grpc.OrderServiceStub(stubs.channel)
    fake = FakeChannels(pos_dir=tmp_path / "pos", repeat_boundary=True).start()
    now = time.time()
    raws = [fresh(channel, i, now - 30) for i in range(N)]
    ids = [str(r.get("tid") or r.get("orderId") or r.get("order_sn") or r.get("order_id")
               or r.get("order_no")) for r in raws]
    if channel == "pos":
        fake.write_pos_file("orders_today.csv", [row for r in raws for row in r["rows"]],
                            int((now - 30) * 1000))
    else:
        for raw in raws:
            fake.put(channel, raw)
        fake.block_push_at = N // 2
    state, log = tmp_path / "adapter.db", tmp_path / "adapter.log"
    proc = start_adapter(channel, fake, app.target, state, log)
    try:
        async def all_synced() -> bool:
            page = await hub.ListOrders(opb.ListOrdersRequest(channel=channel,
                                                              page_size=100), timeout=10)
            return len(page.orders) == N
        await wait_for("every order in the hub", all_synced)

        for oid in ids:  # the WMS ships them all
            await patiently(lambda oid=oid: hub.ReportShipment(opb.ReportShipmentRequest(
                key=opb.OrderKey(channel=channel, shop="shop-1", order_id=oid),
                shipment=opb.Shipment(carrier="SF", tracking_number=f"SF-{oid}")),
                timeout=10))

        # Kill the adapter in the middle of its push batch: for the HTTP channels while
        # the channel holds a push it is about to accept; for the POS file after some rows.
        if channel == "pos":
            async def some_pushed() -> bool:
                return len(fake.pos_pushed()) >= N // 2
            await wait_for("half the pushes", some_pushed)
        else:
            async def blocked() -> bool:
                return fake.blocked.is_set()
            await wait_for("the push to block", blocked)
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 10)
        pushed_at_kill = len(fake.pos_pushed() if channel == "pos" else fake.accepted)
        fake.release.set()
        assert pushed_at_kill < N, "the kill was not mid-batch"

        proc = start_adapter(channel, fake, app.target, state, log)

        def accepted() -> list[Pushed]:
            return fake.pos_pushed() if channel == "pos" else list(fake.accepted)

        async def all_pushed() -> bool:
            return len(accepted()) >= N
        await wait_for("every tracking number at the channel", all_pushed)

        # A wrong second push would come from a batch delivered again: once the adapter
        # has acknowledged its whole feed, none is left to come.
        async def feed_acknowledged() -> bool:
            stats = await app.orders.events.stats(feed_group(channel))
            return stats.pending == 0 and stats.undelivered == 0
        await wait_for("the adapter to acknowledge its whole feed", feed_acknowledged)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:  # off the event loop: the server under test runs on it
            await asyncio.to_thread(proc.wait, 20)
        except subprocess.TimeoutExpired:
            proc.kill()
        fake.release.set()
        fake.stop()

    got = accepted()
    assert sorted((p.order_id, p.tracking_number) for p in got) == \
        sorted((oid, f"SF-{oid}") for oid in ids)          # each once, none lost
    # at most the one push in doubt at the kill was sent again (and answered "already
    # shipped", so the channel still holds it once)
    assert len(fake.refused_pushes) <= 1
    page = await patiently(lambda: hub.ListOrders(
        opb.ListOrdersRequest(channel=channel, page_size=100), timeout=10))
    assert sorted(o.order_id for o in page.orders) == sorted(ids)
    assert {o.state for o in page.orders} == {"SHIPPED"}

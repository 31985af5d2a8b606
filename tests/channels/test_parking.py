"""An order the hub refuses does not stop its channel: the adapter parks it (kept in its
store with the hub's reason, listed by `reservation-clients refused`; the hub counts the
refusal in reservation_order_sync_outcomes_total) and its cursor moves on. The scenario of issue
21's defect 6: a late "paid" for a cancelled order, beside a valid new order, against
the real hub and the fake JD API."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY

from reservation.clients.channels import adapter
from reservation.clients.channels.fake_server import FakeChannels
from reservation.clients.channels.poller import Backoff, Poller
from reservation.clients.channels.store import AdapterStore
from reservation.clients.channels.sync import GrpcSink
from reservation.clients.cli import main as clients_main
from reservation.storage.redis_process import free_port
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc
from tests.helpers.channels import at, payloads
from tests.helpers.reservations import load


def jd(state: str, order_id: str, minute: int, phone: str) -> dict[str, Any]:
    """JD's recorded payload of `state`, as order `order_id` modified at `minute`."""
    case = next(c for c in payloads("jd")["statuses"] if c["state"] == state)
    raw = copy.deepcopy(case["raw"])
    raw.update(orderId=order_id, modified=f"2026-11-11 00:{minute:02d}:00")
    raw["consigneeInfo"]["mobile"] = phone
    return raw


def refusals() -> float:
    return REGISTRY.get_sample_value("reservation_order_sync_outcomes_total", {
        "channel": "jd", "outcome": "REFUSED", "code": "FAILED_PRECONDITION"}) or 0.0


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"metrics_port": free_port()}  # the hub counts what it refuses


@pytest.fixture
async def hub(stubs) -> order_service_pb2_grpc.OrderServiceStub:  # type: ignore[no-untyped-def]
    await load(stubs, ("PHONE-X", "WH-A", 10))
    return order_service_pb2_grpc.OrderServiceStub(stubs.channel)


async def test_a_refused_order_is_parked_and_the_cursor_moves_on(
        app, hub, fake: FakeChannels, store: AdapterStore, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    clock = [at(30)]
    with grpc.insecure_channel(app.target) as channel:
        sink = GrpcSink(channel, store)
        poller = Poller(adapter("jd"), fake.api("jd"), "shop-1", store, sink,
                        overlap_s=600, lookback_s=3600, clock=lambda: clock[0],
                        backoff=Backoff(base_s=0.01, sleep=lambda s: None))
        fake.put("jd", jd("CANCELLED", "900001", 17, "13900000001"))
        await asyncio.to_thread(poller.poll_once)
        before = refusals()

        # A late "paid" for the cancelled order, and a new order beside it.
        fake.put("jd", jd("PAID", "900001", 35, "13900000001"))
        fake.put("jd", jd("PAID", "900002", 35, "13900000002"))
        clock[0] = at(40)
        await asyncio.to_thread(poller.poll_once)
        again = await asyncio.to_thread(poller.poll_once)  # the overlap: both again

    [parked] = store.refused("jd")
    assert (parked.order_id, parked.shop) == ("900001", "shop-1")
    assert parked.error.startswith("SyncOrders FAILED_PRECONDITION: ")
    assert "CANCELLED" in parked.error
    assert sink.parked == 1  # once, though its window came twice
    assert refusals() == before + 2  # the hub answered it twice
    assert store.cursor("jd", "shop-1") == int(at(40) * 1000)
    assert again.synced >= 1
    new = await hub.GetOrder(opb.GetOrderRequest(key=opb.OrderKey(
        channel="jd", shop="shop-1", order_id="900002")), timeout=10)
    assert new.order.state == "ROUTED"

    assert clients_main(["refused", "--state", str(tmp_path / "adapters.db"), "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    listed = json.loads(line)
    assert (listed["channel"], listed["order_id"]) == ("jd", "900001")
    assert listed["error"] == parked.error

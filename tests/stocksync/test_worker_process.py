"""`reservation-clients stock-sync` as a process, killed with SIGKILL while stock changes:
started again from its state file, every listing ends showing what the service says."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reservation.clients.channels.fake_server import FakeChannels
from reservation.server.app import App
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import listing_service_pb2 as lpb
from reservation.v1 import listing_service_pb2_grpc as lgrpc
from reservation.v1 import types_pb2 as pb
from tests.helpers.reservations import load
from tests.helpers.server import Stubs
from tests.helpers.waiting import now_ms, past

pytestmark = pytest.mark.slow

SKUS = [f"SKU-{i:02d}" for i in range(20)]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # A batch the killed worker pulled but never acknowledged comes again after this.
    return {"write_back_groups": "wms,listing-jd-main", "write_back_visibility_timeout_ms": 500}


def _command(app: App, tmp_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "reservation.clients", "stock-sync", "--channel", "jd",
            "--shop", "main", "--mapping", str(tmp_path / "jd-main.csv"),
            "--state", str(tmp_path / "sync.db"), "--target", app.target, "--rate", "500",
            "--wait", "0.2", *extra]


async def test_a_worker_killed_mid_batch_resumes_and_every_listing_ends_right(
        app: App, stubs: Stubs, fake: FakeChannels, tmp_path: Path) -> None:
    (tmp_path / "jd-main.csv").write_text(
        "sku,item_id,sku_id\n" + "".join(f"{s},W-{s},S-{s}\n" for s in SKUS))
    fake.listings.list_items("jd", [(f"W-{s}", f"S-{s}", s, 0) for s in SKUS])
    await load(stubs, *((s, "WH-A", 50) for s in SKUS))
    env = {**os.environ, **fake.env("jd")}
    worker = await asyncio.create_subprocess_exec(*_command(app, tmp_path), env=env,
                                                  stderr=subprocess.DEVNULL)
    rng = random.Random(5)
    try:
        for i in range(60):   # stock moving while the worker pushes; killed halfway
            sku = rng.choice(SKUS)
            await stubs.admin.LoadStock(apb.LoadStockRequest(
                items=[pb.StockItem(sku=sku, warehouse_id="WH-A", quantity=rng.randint(1, 5))],
                mode=apb.LOAD_MODE_ADD), timeout=10)
            if i == 30:
                worker.send_signal(signal.SIGKILL)
                await worker.wait()
                killed_at = now_ms()
            await asyncio.sleep(0.02)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    # Past the visibility timeout: the killed worker's batch is due (a clock must pass).
    await past(killed_at + app.settings.write_back_visibility_timeout_ms)
    again = await asyncio.create_subprocess_exec(*_command(app, tmp_path, "--until-idle"),
                                                 env=env, stderr=subprocess.DEVNULL)
    assert await asyncio.wait_for(again.wait(), 120) == 0
    listing = lgrpc.ListingServiceStub(stubs.channel)
    want = await listing.GetListingQuantities(lpb.GetListingQuantitiesRequest(
        channel="jd", shop="main", skus=SKUS), timeout=10)
    assert {q.sku: q.quantity for q in want.quantities} == {
        s: fake.listings.shows("jd", s)[0] for s in SKUS}

"""Stock-sync fixtures: the real server with a write-back group per listing worker, the
fake channels with listed items, and a worker (pull + push) for a channel's shop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from reservation.clients.channels import adapter
from reservation.clients.channels.fake_server import FakeChannels
from reservation.clients.channels.poller import Backoff
from reservation.clients.channels.stock import ListingRow
from reservation.clients.stocksync.store import StockSyncStore
from reservation.clients.stocksync.worker import StockSync, group_name
from reservation.clients.wms.puller import Puller
from reservation.server.app import App
from tests.helpers.stocksync import CHANNELS, SHOP, Worker


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    groups = ",".join(["wms", *(group_name(c, SHOP) for c in CHANNELS)])
    return {"write_back_groups": groups}


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeChannels]:
    server = FakeChannels(pos_dir=tmp_path / "pos").start()
    yield server
    server.stop()


@pytest.fixture
def worker(app: App, fake: FakeChannels, tmp_path: Path
           ) -> Iterator[Callable[..., Worker]]:
    made: list[tuple[grpc.Channel, StockSyncStore]] = []

    def make(channel_name: str, mapping: dict[str, ListingRow], state: str = "sync.db",
             **kw: Any) -> Worker:
        channel = grpc.insecure_channel(app.target)
        store = StockSyncStore(tmp_path / f"{channel_name}-{state}")
        made.append((channel, store))
        kw.setdefault("backoff", Backoff(base_s=0.01, cap_s=0.05, attempts=4))
        sync = StockSync(adapter(channel_name), fake.api(channel_name), SHOP, channel, store,
                         mapping, **kw)
        puller = Puller(channel, sync, f"t-{channel_name}", group_name(channel_name, SHOP),
                        wait_s=0.2)
        return Worker(sync, puller, channel)

    yield make
    for channel, store in made:
        channel.close()
        store.close()

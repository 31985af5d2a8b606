from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reservation.clients.channels.fake_server import FakeChannels
from reservation.clients.channels.store import AdapterStore


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeChannels]:
    server = FakeChannels(pos_dir=tmp_path / "pos", repeat_boundary=True).start()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AdapterStore]:
    s = AdapterStore(tmp_path / "adapters.db")
    yield s
    s.close()

"""An adapter started against a service that refuses it says so in one line, naming the
setting to change, instead of a traceback (here: its feed group is not configured)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest

from reservation.clients.channels.fake_server import FakeChannels
from reservation.server.app import App

pytestmark = pytest.mark.slow


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"order_event_groups": "audit"}  # no feed-taobao: adapters cannot push back


async def test_a_missing_feed_group_is_one_line(app: App, tmp_path) -> None:
    fake = FakeChannels().start()
    try:
        env = {**os.environ, **fake.env("taobao", "s1")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "reservation.clients", "adapter", "--channel", "taobao",
            "--shop", "s1", "--target", app.target, "--state", str(tmp_path / "a.db"),
            "--until-idle", "--idle-s", "1", env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        fake.stop()
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1, err.decode()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert "INVALID_ARGUMENT" in lines[0] and "RESERVATION_ORDER_EVENT_GROUPS" in lines[0]

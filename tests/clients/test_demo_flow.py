"""The demo's order flow (`reservation-clients demo`) against the real server: six
fake channels, the real adapters, the hub, a WMS and back; every check must hold."""

from __future__ import annotations

import io
import random
from typing import Any

import pytest
from rich.console import Console

from reservation.clients import demo as demo_orders


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"order_event_groups": demo_orders.GROUPS}


async def test_the_order_flow_ships_and_pushes_back_every_paid_order(app: Any) -> None:
    out = io.StringIO()
    code = await demo_orders.run(app.target, Console(file=out, width=200),
                                 random.Random(3), per_channel=12)
    text = out.getvalue()
    assert code == 0, text
    assert "oversold = 0" in text
    assert "every tracking number reached its channel once: yes" in text
    for channel in demo_orders.CHANNELS:
        assert f"│ {channel}" in text

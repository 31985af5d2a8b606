"""The demo's order flow (`reservation-clients demo`) against the real server: six
fake channels, buyers ordering against their listings, the real adapters, the hub, a WMS
and back, without and with the stock-sync workers; every check must hold in both."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from reservation.cli import demo as server_demo
from reservation.clients import demo as demo_orders
from reservation.clients.demo import flow


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"order_event_groups": demo_orders.GROUPS,
            "write_back_groups": demo_orders.WRITE_BACK_GROUPS}


async def test_the_order_flow_runs_without_and_with_stock_sync_and_every_check_holds(
        app: Any) -> None:
    out = io.StringIO()
    code = await demo_orders.run(app.target, Console(file=out, width=250), seed=3,
                                 per_channel=12)
    text = out.getvalue()
    assert code == 0, text
    assert text.count("every tracking number reached its channel once: yes") == 2, text
    assert "the same buyers, stock sync off and on" in text
    assert "oversold = 0 and 0" in text
    for channel in demo_orders.CHANNELS:
        assert f"│ {channel}" in text
        # A health line per channel and run; nothing is delivered or due in a demo
        # minute, and every paid order agrees with its channel once its tracking number
        # is back.
        assert text.count(f"health {channel}: on promise - (0 due), complete - "
                          "(0 delivered), consistent ") == 2, text


async def test_with_stock_sync_the_listings_stop_buyers_before_the_hub_must_refuse_them(
        app: Any) -> None:
    off = await flow.one_run(app.target, 5, 60, sync_on=False)
    on = await flow.one_run(app.target, 5, 60, sync_on=True)
    unserved = {r.sync_on: sum(r.unserved(c) for c in demo_orders.CHANNELS)
                for r in (off, on)}
    # Without it every channel sells the whole stock: paid orders the hub cannot serve.
    assert sum(off.blocked.values()) == 0 and unserved[False] > 0
    # With it the online listings show their share: buyers stop there instead.
    assert sum(on.blocked.values()) > 0 and unserved[True] < unserved[False]


def test_the_servers_demo_configures_the_groups_the_clients_demo_needs() -> None:
    assert server_demo.ORDER_FLOW_GROUPS == demo_orders.GROUPS
    assert server_demo.ORDER_FLOW_WRITE_BACK_GROUPS == demo_orders.WRITE_BACK_GROUPS

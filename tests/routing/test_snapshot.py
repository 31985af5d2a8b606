"""Routing's reads: concurrent decisions share one pipeline; remembered orders are
written in batches and are all there when SimulateRouting reads them."""

from __future__ import annotations

import asyncio

from reservation.routing.matching import Destination, RouteLine, RouteOrder
from reservation.routing.service import Routing
from reservation.server.app import App
from tests.helpers.reservations import load
from tests.helpers.routing import RoutingStubs


def tea(i: int) -> RouteOrder:
    return RouteOrder((RouteLine(f"TEA-S{i % 3}", 1),), Destination(city="杭州"),
                      order_id=f"S-{i}")


async def test_concurrent_decisions_share_one_read(rstubs: RoutingStubs, app: App) -> None:
    await load(rstubs, *[(f"TEA-S{k}", "WH-HZ", 10) for k in range(3)])
    routing = Routing(app.store, app.settings)
    await routing.route([tea(0)])  # rules, warehouses and loads read once
    before = dict(routing.reader.stats)
    decisions = await asyncio.gather(*(routing.route([tea(i)]) for i in range(20)))
    assert [d.lines[0].allocations for [d] in decisions] == [(("WH-HZ", 1),)] * 20
    # All 20 asked in one event-loop turn: one pipeline read the three SKUs for them.
    assert routing.reader.stats["reads"] - before["reads"] == 20
    assert routing.reader.stats["pipelines"] - before["pipelines"] == 1


async def test_remembered_orders_are_written_in_batches_and_all_simulated(
        rstubs: RoutingStubs, app: App) -> None:
    await load(rstubs, *[(f"TEA-S{k}", "WH-HZ", 10) for k in range(3)])
    routing = Routing(app.store, app.settings)
    for i in range(5):
        await routing.route([tea(i)])
    sim = await routing.simulate({"rules": []})
    assert sim.orders == 5 and sim.changed == 0

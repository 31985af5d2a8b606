"""Backtest over the hub's recorded orders: each order of a period as routing read it,
with the decision recorded when it arrived (warehouses and rule set version) and the
warehouse that shipped it (the WMS's shipment report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from reservation.errors import InvalidArgument
from reservation.routing.backtest import Report, Sample
from reservation.routing.matching import Destination, RouteLine, RouteOrder
from reservation.routing.service import Routing

if TYPE_CHECKING:
    from reservation.ordersync.hub import OrderHub

PAGE = 1000
"""Orders read per script call (order_docs.lua: the index page and its documents)."""
MAX_PERIOD_MS = 93 * 86_400_000
"""A quarter at most: longer periods are more orders than one call should hold."""


async def backtest(hub: OrderHub, routing: Routing, document: Mapping[str, Any],
                   from_ms: int, to_ms: int) -> Report:
    """The candidate `document` against the orders created in [from_ms, to_ms)."""
    if from_ms <= 0:
        raise InvalidArgument("recorded_from", "must be set (the period's start)")
    if to_ms <= from_ms:
        raise InvalidArgument("recorded_to", "must be after recorded_from")
    if to_ms - from_ms > MAX_PERIOD_MS:
        raise InvalidArgument("recorded_to", "the period is longer than 93 days")
    samples, skipped = await recorded(hub, from_ms, to_ms)
    report = await routing.backtest(document, samples)
    if skipped:
        report.notes.append(f"{skipped} orders left out: every line named its warehouse, "
                            "so routing never decided them")
    return report


async def recorded(hub: OrderHub, from_ms: int, to_ms: int) -> tuple[list[Sample], int]:
    """Every order created in [from_ms, to_ms) that routing decides, as a Sample; and
    how many were left out because every line named its own warehouse."""
    samples: list[Sample] = []
    skipped = 0
    for shard in range(hub.settings.shards):
        after = (-1, "")
        while True:
            reached, docs = await hub.orders.docs_page(shard, from_ms, to_ms - 1, after, PAGE)
            if reached == after:
                break  # no entries past `after`: this shard is done
            after = reached
            for doc in docs:
                sample = sample_of(orjson.loads(doc))
                if sample is None:
                    skipped += 1
                else:
                    samples.append(sample)
    return samples, skipped


def sample_of(doc: Mapping[str, Any]) -> Sample | None:
    """A stored order document as a Sample (read as JSON, not decoded into an Order: a
    backtest reads a month of them); None when routing never decides it."""
    lines = doc["lines"]
    if all(ln.get("warehouse_id") for ln in lines):
        return None
    a = doc["address"]
    order = RouteOrder(
        lines=tuple(RouteLine(ln["sku"], ln["quantity"], ln.get("category", ""),
                              ln.get("brand", "")) for ln in lines),
        destination=Destination(province=a["province"], city=a["city"],
                                district=a.get("district", ""), address=a.get("detail", "")),
        channel=doc["channel"], order_id=f"{doc['shop']}/{doc['order_id']}",
        amount=doc.get("total_cents", 0) / 100)
    shipped = [s["warehouse_id"] for s in doc.get("shipments", ()) if s.get("warehouse_id")]
    return Sample(order, tuple(doc.get("routed_warehouses", ())),
                  doc.get("routing_version", 0), shipped[-1] if shipped else "")

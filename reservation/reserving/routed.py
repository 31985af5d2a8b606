"""Reserve with a destination: route the order, then hold at the routed warehouses.

The routed candidates of each line go to the reserve script in the routed order, so a
warehouse that sold out since the decision was made costs no extra round trip: the
script takes the next candidate, atomically. The hold also counts the order towards
today's load of each warehouse it holds units at, in the same script.
"""

from __future__ import annotations

from dataclasses import replace

from reservation.domain import validation
from reservation.domain.models import Reservation, ReserveCommand, State
from reservation.reserving.reservations import Reservations
from reservation.routing.matching import RouteOrder
from reservation.routing.router import Decision
from reservation.routing.service import Routing, today

# A line the rules route nowhere (no allowed warehouse holds the SKU above its safety
# stock) gets a candidate no SKU is stocked at: the script refuses it UNKNOWN_SKU and
# records the refusal like any other, so the order stays idempotent.
NO_ROUTE = "-"


async def reserve_routed(reservations: Reservations, routing: Routing, cmd: ReserveCommand,
                         order: RouteOrder, explain: bool = False
                         ) -> tuple[Reservation, Decision]:
    """The reservation and the decision it was held by; its explanation only when
    `explain` (the caller asked for it: most read only where the order goes)."""
    validation.reserve(cmd, reservations.settings)  # the same field names as Reserve
    # Recent stock is enough here: the script re-checks it and takes the next candidate.
    [decision] = await routing.route([order], recent_stock=True, explain=explain)
    routes: dict[str, str] = {}
    for line in decision.lines:
        routes.setdefault(line.sku, ",".join(line.candidates) or NO_ROUTE)
    day = today()
    routed = replace(cmd, routes=tuple(routes.items()), load_day=day)
    # The script counts the order towards today's load of each warehouse it holds at;
    # routing's view of the loads between its reads counts it too (Loads.done).
    generation = routing.loads_seen.started()
    stock_generation = routing.stock_seen.started()
    held: list[tuple[str, str, int]] = []
    try:
        result = await reservations.reserve(routed)
        if result.state == State.RESERVED:
            held = [(a.sku, a.warehouse_id, a.quantity) for a in result.allocations]
    finally:
        routing.loads_seen.done(generation, day, sorted({wh for _, wh, _ in held}))
        routing.stock_seen.done(stock_generation, held)
    return result, decision

"""ListOrders: orders by creation time across the shard indexes, filtered by channel,
state and warehouse, in pages that a token continues."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reservation.errors import InvalidArgument
from reservation.ordersync import codec
from reservation.ordersync.model import Order
from reservation.ordersync.states import OrderState
from reservation.storage.orders import ARCHIVED

if TYPE_CHECKING:
    from reservation.ordersync.hub import OrderHub

PAGE_MAX = 1000
PAGE_DEFAULT = 100
FOREVER_MS = 2**53
WALK_MAX = 6400
"""Most index entries one round of a ListOrders page reads (a filter few orders match
walks in rounds that double up to it): about what every round read before pages cost
their size."""


@dataclass(frozen=True)
class Query:
    channel: str = ""
    state: OrderState | None = None
    warehouse_id: str = ""
    created_from_ms: int = 0
    created_to_ms: int = 0
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class Page:
    orders: list[Order]
    next_token: str


def token(position: tuple[int, str]) -> str:
    """The page token of a position (created ms, ref)."""
    return f"{position[0]}:{position[1]}"


def cursor(token: str) -> tuple[int, str]:
    """The position a page token names ((-1, '') for none)."""
    if not token:
        return (-1, "")
    score, sep, ref = token.partition(":")
    if not sep or not score.isdigit():
        raise InvalidArgument("page_token", "is not a token this service gave")
    return (int(score), ref)


def _matches(order: Order, q: Query) -> bool:
    return ((not q.channel or order.channel == q.channel)
            and (q.state is None or order.state == q.state))


async def list_orders(hub: OrderHub, q: Query) -> Page:
    if not 0 <= q.page_size <= PAGE_MAX:
        raise InvalidArgument("page_size", f"must be between 0 and {PAGE_MAX}")
    size = q.page_size or PAGE_DEFAULT
    after = cursor(q.page_token)
    low, high = q.created_from_ms, (q.created_to_ms - 1 if q.created_to_ms else FOREVER_MS)
    shards = hub.settings.shards
    out: list[Order] = []
    take = size  # index entries whose orders a round reads: doubles while few match
    while True:
        # Each shard's next entries, about twice its share of `take`; past the last entry
        # of a shard that had more, another shard's entries could be missing: the round
        # stops there. So a page reads about its size of orders, however many Redis holds.
        per = max(8, -(-2 * take // shards))
        pages = await asyncio.gather(*(hub.orders.index_page(s, low, high, after, per)
                                       for s in range(shards)))
        merged = sorted((score, ref, s) for s, page in enumerate(pages) for ref, score in page)
        full = [(page[-1][1], page[-1][0]) for page in pages if len(page) == per]
        if full:
            bound = min(full)
            merged = [c for c in merged if (c[0], c[1]) <= bound]
        candidates = merged[:take]
        if not candidates:
            return Page(out, "")
        rows = await hub.orders.read_many([(s, ref) for _, ref, s in candidates])
        kept: list[tuple[tuple[int, str], Order]] = []
        for (score, ref, _), row in zip(candidates, rows, strict=True):
            if row is None or row[1] == ARCHIVED:  # archived: records/reads.py lists it
                continue
            order = codec.decode(row[1])
            if _matches(order, q):
                kept.append(((score, ref), order))
        # Warehouses come from the live holds: read for the kept orders together.
        held = await hub.with_holds([o for _, o in kept])
        for (position, _), order in zip(kept, held, strict=True):
            if q.warehouse_id and q.warehouse_id not in order.warehouses:
                continue
            out.append(order)
            if len(out) == size:
                return Page(out, token(position))
        if not full and len(candidates) == len(merged):  # every shard gave all it had
            return Page(out, "")
        after = (candidates[-1][0], candidates[-1][1])
        take = min(take * 2, WALK_MAX)


Lister = Callable[[Query], Awaitable[Page]]


async def every_order(lister: Lister, channel: str, low_ms: int, high_ms: int) -> list[Order]:
    """Every order of a channel ('' : all) created in [low, high), page after page."""
    out: list[Order] = []
    token_ = ""
    while True:
        page = await lister(Query(channel=channel, created_from_ms=low_ms,
                                  created_to_ms=high_ms, page_size=PAGE_MAX,
                                  page_token=token_))
        out += page.orders
        if not page.next_token:
            return out
        token_ = page.next_token

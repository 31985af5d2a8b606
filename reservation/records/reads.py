"""Reads of an order wherever it lives: Redis while it is hot, the records store after
it has left Redis (GetOrder, GetOrderHistory, ListOrders, FindOrders). The caller
cannot tell.

Redis answers first: it has the newest version of every order it holds. The records
store answers for an order Redis no longer has, and only orders that left Redis (closed
ones: see eviction) are merged into ListOrders from it, so a stale SQL copy of an order
Redis still holds never shows."""

from __future__ import annotations

import asyncio

from reservation.errors import NotFound
from reservation.ordersync import finding, listing
from reservation.ordersync.events import OrderEvent
from reservation.ordersync.hub import OrderHub
from reservation.ordersync.model import Order
from reservation.records.store import Filter, Records
from reservation.storage.orders import order_ref

Position = tuple[int, str]
"""Where a ListOrders page ends: (created ms, ref), the order both stores page by."""
END: Position = (listing.FOREVER_MS, "\uffff")


def _position(order: Order) -> Position:
    return (order.created_at_ms, order_ref(*order.key))


class OrderReads:
    def __init__(self, hub: OrderHub, records: Records | None = None) -> None:
        self.hub = hub
        self.records = records

    async def get(self, channel: str, shop: str, order_id: str) -> Order:
        try:
            return await self.hub.get(channel, shop, order_id)
        except NotFound:
            if self.records is None:
                raise
        found = await asyncio.to_thread(self.records.get, order_ref(channel, shop, order_id))
        if found is None:
            raise NotFound(f"order {channel}/{shop}/{order_id} not found")
        return found[0]

    async def history(self, channel: str, shop: str, order_id: str, offset: int,
                      count: int) -> list[OrderEvent]:
        if self.records is None:
            return await self.hub.history(channel, shop, order_id, offset, count)
        ref = order_ref(channel, shop, order_id)
        if await self.hub.orders.exists(ref):
            events = await self.hub.history(channel, shop, order_id, offset, count)
            # Every order has at least its CREATED event: none at offset 0 means it left
            # Redis between the two reads, and the records store has it.
            if events or offset > 0:
                return events
        if await asyncio.to_thread(self.records.get, ref) is None:
            raise NotFound(f"order {channel}/{shop}/{order_id} not found")
        payloads = await asyncio.to_thread(self.records.history, ref, offset, count)
        return [OrderEvent.decode(p) for p in payloads]

    async def list_orders(self, q: listing.Query) -> listing.Page:
        """Redis's page and the records store's closed orders that left Redis, merged
        by (created, ref); the page token is a position in that order, so it continues
        across both."""
        hot = await listing.list_orders(self.hub, q)  # first: see _gone
        if self.records is None:
            return hot
        size = q.page_size or listing.PAGE_DEFAULT
        after = listing.cursor(q.page_token)
        gone, gone_full = await self._gone(q, after, size)
        # Past the last order of a store that had more, the other store's next orders
        # are not known yet: the page stops there.
        bounds = [END]
        if hot.next_token and hot.orders:
            bounds.append(_position(hot.orders[-1]))
        if gone_full:
            bounds.append(_position(gone[-1]))
        bound = min(bounds)
        merged = {order_ref(*o.key): o for o in gone}
        merged.update({order_ref(*o.key): o for o in hot.orders})  # Redis's is newer
        ordered = sorted((o for o in merged.values() if _position(o) <= bound), key=_position)
        page = ordered[:size]
        more = len(ordered) > size or bound != END
        token = listing.token(_position(page[-1])) if more and page else ""
        return listing.Page(page, token)

    async def _gone(self, q: listing.Query, after: Position,
                    size: int) -> tuple[list[Order], bool]:
        """Up to `size` closed orders past `after` that Redis no longer has; and whether
        the store may have more. Read after Redis's page: an order that leaves Redis in
        between is in the records store already (it leaves only once the store has it)."""
        assert self.records is not None
        where = Filter(channel=q.channel, state=q.state.value if q.state else "",
                       warehouse=q.warehouse_id, created_from_ms=q.created_from_ms,
                       created_to_ms=(q.created_to_ms - 1 if q.created_to_ms
                                      else listing.FOREVER_MS))
        out: list[Order] = []
        while True:
            rows = await asyncio.to_thread(self.records.closed_page, where, after, size)
            held = await self.hub.orders.exist_many([ref for ref, _ in rows])
            for (_, order), in_redis in zip(rows, held, strict=True):
                after = _position(order)
                if not in_redis:
                    out.append(order)
                    if len(out) == size:
                        return out, True
            if len(rows) < size:
                return out, False


    async def find(self, ask: finding.Ask) -> list[finding.Seen]:
        """FindOrders: Redis's orders and the records store's, newest first. Redis's
        copy wins; an order the store found that Redis still has (listed before Redis
        indexed it) is read from Redis."""
        hot = await finding.hot(self.hub, ask)
        if self.records is None:
            return hot
        have = {order_ref(*s.order.key) for s in hot}
        out = list(hot)
        for s in await asyncio.to_thread(self.records.find, ask):
            ref = order_ref(*s.order.key)
            if ref in have:
                continue
            newer = await finding.seen(self.hub, ref)
            if newer is None:
                out.append(s)
            elif ask.matches(newer.order):  # Redis's newer copy may answer no more
                out.append(newer)
        out.sort(key=lambda s: (-s.order.created_at_ms, order_ref(*s.order.key)))
        return out[:ask.limit]

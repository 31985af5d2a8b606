"""The one poller every channel adapter runs (not six copies).

Every `interval_s` (4 minutes by default; the seeds ask for 3 to 5) it pulls the orders
modified since the stored cursor, minus an overlap window, up to now:

    window start = cursor - overlap       a write that landed late (its modified time
                                          is before the cursor) is still seen
    window end   = now                    cut into windows no longer than the channel
                                          allows (Pinduoduo: 30 minutes)

Each window is paged through, every raw order is mapped (a mapping error is recorded
with its raw payload and the order is skipped, never guessed), and each page's orders go
to the sink (SyncOrders). An order in refund also carries the channel's refund reasons
(Adapter.refunds, its after-sales API), each mapped by the adapter's REASONS table; the
sink sets the mapped ones on the hub (SetAfterSalesReason). Only after a whole window reached the sink is the cursor moved
to its end, durably. Killed in the middle, the window is pulled again: a repeat is
harmless, because the hub answers an order it has already seen UNCHANGED (or STALE when
older). Errors back off exponentially with jitter; the channel API is called at a
bounded rate (see http.RateLimiter).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from reservation.clients.channels.base import (
    REFUND_STATES,
    Adapter,
    CanonicalOrder,
    ChannelError,
    MappingError,
    Window,
    mapped,
)
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.store import AdapterStore

log = logging.getLogger(__name__)

Sink = Callable[[list[CanonicalOrder]], None]
"""Takes a page of mapped orders; returns only when the hub has them (or raises)."""

T = TypeVar("T")

DEFAULT_INTERVAL_S = 240.0
DEFAULT_OVERLAP_S = 600.0
DEFAULT_LOOKBACK_S = 24 * 3600.0


@dataclass
class Backoff:
    """Exponential backoff with full jitter: attempt n waits up to base * 2**n, capped."""

    base_s: float = 1.0
    cap_s: float = 60.0
    attempts: int = 6
    """Tries per call before the error is raised to the poll loop."""
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0, min(self.cap_s, self.base_s * 2 ** attempt))

    def run(self, what: str, fn: Callable[[], T]) -> T:
        for attempt in range(self.attempts):
            try:
                return fn()
            except ChannelError as exc:
                if not exc.retryable or attempt == self.attempts - 1:
                    raise
                wait = self.delay(attempt)
                log.warning("%s failed (%s); retrying in %.1f s", what, exc, wait)
                self.sleep(wait)
        raise AssertionError("unreachable")


@dataclass
class PollResult:
    windows: int = 0
    pages: int = 0
    fetched: int = 0
    synced: int = 0
    refused: list[str] = field(default_factory=list)
    """'order_id: error' of each order a mapping refused."""


class Poller:
    def __init__(self, adapter: Adapter, api: ChannelApi, shop: str, store: AdapterStore,
                 sink: Sink, *, interval_s: float = DEFAULT_INTERVAL_S,
                 overlap_s: float = DEFAULT_OVERLAP_S, lookback_s: float = DEFAULT_LOOKBACK_S,
                 backoff: Backoff | None = None, max_pages: int = 10_000,
                 clock: Callable[[], float] = time.time) -> None:
        if interval_s <= 0 or overlap_s < 0 or lookback_s <= 0:
            raise ValueError("interval and lookback must be positive, overlap not negative")
        self.adapter, self.api, self.shop = adapter, api, shop
        self.store, self.sink = store, sink
        self.interval_s, self.overlap_ms = interval_s, int(overlap_s * 1000)
        self.lookback_ms = int(lookback_s * 1000)
        self.backoff = backoff or Backoff()
        self.max_pages = max_pages
        self.clock = clock

    def windows(self, now_ms: int) -> list[Window]:
        """The windows still to pull, oldest first."""
        cursor = self.store.cursor(self.adapter.name, self.shop)
        start = (now_ms - self.lookback_ms if cursor is None else cursor) - self.overlap_ms
        out = []
        while start < now_ms:
            end = min(now_ms, start + self.adapter.max_window_ms)
            out.append(Window(start, end))
            start = end
        return out

    def poll_once(self) -> PollResult:
        """Pull everything modified since the cursor (less the overlap) up to now."""
        result = PollResult()
        for window in self.windows(int(self.clock() * 1000)):
            self._pull_window(window, result)
            self.store.set_cursor(self.adapter.name, self.shop, window.end_ms)
            result.windows += 1
        return result

    def _pull_window(self, window: Window, result: PollResult) -> None:
        token: str | None = None
        for _ in range(self.max_pages):
            page = self.backoff.run(f"{self.adapter.name} fetch",
                                    functools.partial(self.adapter.fetch, self.api, window, token))
            result.pages += 1
            result.fetched += len(page.orders)
            orders = self._map(page.orders, result)
            if orders:
                self.sink(orders)
                result.synced += len(orders)
            if page.next_token is None:
                return
            token = page.next_token
        raise ChannelError(self.adapter.name, "pages",
                           f"more than {self.max_pages} pages in one window", retryable=False)

    def _map(self, raws: list[dict], result: PollResult) -> list[CanonicalOrder]:
        # The same order twice in one page set (a page boundary shifted under us): the
        # newest copy only. Older-than-stored copies are the hub's to call STALE.
        newest: dict[str, tuple[dict, CanonicalOrder]] = {}
        for raw in raws:
            try:
                order = self.adapter.to_order(raw, self.shop)
            except MappingError as exc:
                log.error("refused: %s", exc)
                self.store.refuse(self.adapter.name, self.shop, exc.order_id, str(exc), raw)
                result.refused.append(f"{exc.order_id}: {exc}")
                continue
            seen = newest.get(order.order_id)
            if seen is None or order.modified_at_ms >= seen[1].modified_at_ms:
                newest[order.order_id] = raw, order
        return [self._with_reasons(raw, order) for raw, order in newest.values()]

    def _with_reasons(self, raw: dict, order: CanonicalOrder) -> CanonicalOrder:
        """An order in refund with the channel's reasons, mapped (asked again on every
        sync of it: the hub answers a reason it has UNCHANGED)."""
        refunds = self.adapter.refunds
        if refunds is None or order.state not in REFUND_STATES:
            return order
        found = self.backoff.run(f"{self.adapter.name} refunds",
                                 functools.partial(refunds, self.api, raw))
        return dataclasses.replace(order,
                                   refund_reasons=mapped(self.adapter.reasons, found))

    def run(self, stop: threading.Event) -> None:
        """Poll every interval until `stop` is set; a failed poll backs off and retries
        (the cursor has not moved, so nothing is skipped)."""
        failures = 0
        while not stop.is_set():
            try:
                result = self.poll_once()
                failures = 0
                log.info("%s/%s: %d orders in %d pages, %d refused", self.adapter.name,
                         self.shop, result.synced, result.pages, len(result.refused))
                wait = self.interval_s
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any one failure
                failures += 1
                wait = min(self.interval_s, self.backoff.delay(failures))
                log.warning("%s/%s poll failed (%s); next try in %.1f s", self.adapter.name,
                            self.shop, exc, wait)
            stop.wait(wait)

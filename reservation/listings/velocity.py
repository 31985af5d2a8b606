"""How fast a SKU is selling, from the counters the listings already read.

Each time a listing's quantity is computed the SKU's units taken (held + confirmed over
its warehouses) are noted with the time; the sale velocity is the rise of that figure
over the last `window_s` seconds. Loads and restocks do not move it (they change
available, not taken); releases and expiries lower taken, so a falling figure counts as
no sale (never a negative velocity).

In memory, per server process: each replica estimates from the samples it takes itself
(any two true samples give a true rate), and a restarted replica knows nothing until its
next samples a window later: it then lists like a static rule until it has them. During
a sale the stock-sync workers ask for the SKU on every change, so samples are many.
"""

from __future__ import annotations

from collections import OrderedDict, deque

MAX_SKUS = 10_000  # the least recently asked SKU is forgotten beyond this
MIN_SPACING_MS = 100  # closer samples add nothing but memory
MAX_SAMPLES = 600


class Velocity:
    def __init__(self, max_skus: int = MAX_SKUS) -> None:
        self.max_skus = max_skus
        self._samples: OrderedDict[str, deque[tuple[int, int]]] = OrderedDict()

    def observe(self, sku: str, at_ms: int, taken: int, window_s: float) -> float:
        """Notes (at_ms, taken) for `sku`; its units a second over the last window_s."""
        samples = self._samples.get(sku)
        if samples is None:
            samples = self._samples[sku] = deque(maxlen=MAX_SAMPLES)
            while len(self._samples) > self.max_skus:
                self._samples.popitem(last=False)
        else:
            self._samples.move_to_end(sku)
        if not samples or at_ms - samples[-1][0] >= MIN_SPACING_MS:
            samples.append((at_ms, taken))
        else:  # the latest figure, at the earlier sample's time
            samples[-1] = (samples[-1][0], taken)
        horizon = at_ms - int(window_s * 1000)
        while len(samples) > 2 and samples[1][0] <= horizon:
            samples.popleft()
        first_at, first = samples[0]
        span_s = (at_ms - first_at) / 1000
        if span_s <= 0:
            return 0.0
        return max(0, taken - first) / span_s

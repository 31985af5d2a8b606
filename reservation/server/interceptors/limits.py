"""Per-caller limits, answering RESOURCE_EXHAUSTED with a retry delay (google.rpc.RetryInfo
and `retry-after-ms`, see errors.py).

The edge (edge.py) applies two limits to every call outside health and reflection, both
just inside the error mapping: first the server-wide in-flight cap
(reservation.access.limits.InFlightCap: shedding must cost less than serving, and it must
happen before queued calls run into their deadlines, which is how latency explodes), then
each principal's token bucket and concurrency cap (here, from auth's grant), so one
adapter's retry storm cannot take the capacity of the others.
"""

from __future__ import annotations

import contextlib
from typing import Any

from reservation.access.grant import Grant
from reservation.access.limits import CallerLimiter, Limit
from reservation.access.principals import Principal
from reservation.settings import Settings


class CallerLimits:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._limiters: dict[tuple[str, Limit], CallerLimiter] = {}

    def limit(self, p: Principal) -> Limit:
        s, own = self.settings, p.limits
        return Limit(rate=s.principal_rate if own.rate is None else own.rate,
                     burst=s.principal_burst if own.burst is None else own.burst,
                     max_in_flight=(s.principal_max_in_flight if own.max_in_flight is None
                                    else own.max_in_flight))

    def limiter(self, p: Principal) -> CallerLimiter:
        # Keyed by name and limit: a reloaded file with new limits starts a fresh bucket.
        key = (p.name, self.limit(p))
        found = self._limiters.get(key)
        if found is None:
            found = self._limiters[key] = CallerLimiter(key[1],
                                                        self.settings.shed_retry_after_ms)
        return found

    def admitted(self, decided: Grant | None) -> contextlib.AbstractContextManager[Any]:
        """Around a call made with `decided` (None: no auth, no caller to limit)."""
        if decided is None:
            return contextlib.nullcontext()
        return self.limiter(decided.principal).admitted(decided.name)

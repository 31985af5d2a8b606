"""Server-side CPU from /proc: what a run point cost the service's processes and Redis.

Throughput on a 2-core box that also runs the load generator is client-bound and noisy;
CPU seconds the server side spent per order are not. A process tree (the server process
and any children it started) and Redis are read separately, before and after the
measured load, so a row can say "N µs per order, of which M in Redis".
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds user+system of all its threads) of one process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its ')'.
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def process(pid: int) -> float:
    """CPU seconds so far of one process (all its threads), without its children."""
    s = _stat(pid)
    return s[1] if s is not None else 0.0


def tree(roots: Iterable[int]) -> float:
    """CPU seconds so far of the processes `roots` and all their descendants."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            s = _stat(int(entry.name))
            if s is not None:
                stats[int(entry.name)] = s
    todo, seen, total = [r for r in roots if r in stats], set(), 0.0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo += [p for p, (ppid, _) in stats.items() if ppid == pid]
    return total


class Meter:
    """CPU seconds of a service tree and of Redis between start() and stop()."""

    def __init__(self, service: Iterable[int], redis: int | None) -> None:
        self.service = list(service)
        self.redis = redis
        self.service_s = self.redis_s = 0.0

    def _read(self) -> tuple[float, float]:
        return tree(self.service), (tree([self.redis]) if self.redis else 0.0)

    def start(self) -> None:
        self._svc0, self._redis0 = self._read()

    def stop(self) -> None:
        svc, red = self._read()
        self.service_s, self.redis_s = svc - self._svc0, red - self._redis0

    def per_order_us(self, orders: int) -> dict[str, float | None]:
        """Row fields: server-side CPU µs per order (service tree + Redis), Redis alone."""
        if orders <= 0:
            return {"cpu_us_per_order": None, "redis_us_per_order": None}
        return {"cpu_us_per_order": round((self.service_s + self.redis_s) / orders * 1e6, 1),
                "redis_us_per_order": round(self.redis_s / orders * 1e6, 1)}

"""`reservation serve --workers N`: N server processes sharing one port (SO_REUSEPORT).

One Python process saturates one core well before Redis does (see benchmarks/), so a
host runs several. The parent owns what must exist once: the embedded redis-server when
no RESERVATION_REDIS_URL is set. It starts N `reservation serve` children pointed at
that Redis and the same port (build_server sets grpc.so_reuseport, so the kernel spreads
connections over them), forwards SIGTERM/SIGINT to them and waits for them to finish
their grace period. A child that dies takes the others down: a supervisor (systemd,
Kubernetes) restarts the whole unit, which is simpler to reason about than partial
restarts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from reservation.server.app import redis_for
from reservation.settings import Settings

log = logging.getLogger(__name__)


def child_env(settings: Settings, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["RESERVATION_REDIS_URL"] = redis_url
    env["RESERVATION_HOST"] = settings.host
    env["RESERVATION_PORT"] = str(settings.port)
    return env


async def serve_workers(settings: Settings, workers: int) -> int:
    """Run until a signal or a child's exit; returns the exit code."""
    if workers > 1 and settings.port == 0:
        raise ValueError("--workers > 1 needs a fixed port: port 0 gives each its own")
    async with redis_for(settings) as url:
        cmd = [sys.executable, "-m", "reservation.cli", "serve"]
        children = [await asyncio.create_subprocess_exec(*cmd, env=child_env(settings, url))
                    for _ in range(workers)]
        log.info("started %d workers on %s:%d: pids %s", workers, settings.host,
                 settings.port, [c.pid for c in children])
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        waits = [asyncio.create_task(c.wait()) for c in children]
        stop = asyncio.create_task(stopping.wait())
        await asyncio.wait([stop, *waits], return_when=asyncio.FIRST_COMPLETED)
        for child in children:
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*waits)
        stop.cancel()
        return 0 if stopping.is_set() else max(abs(c or 0) for c in codes) or 1

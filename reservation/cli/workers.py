"""`reservation serve --workers N`: N server processes sharing one port (SO_REUSEPORT).

One Python process saturates one core well before Redis does (see benchmarks/), so a
host runs several. The parent owns what must exist once: the embedded redis-server when
no RESERVATION_REDIS_URL is set, and the one /metrics endpoint (the workers write
prometheus-client's multiprocess files; the parent serves them all). It starts N
`reservation serve` children pointed at that Redis and the same port with
RESERVATION_REUSE_PORT=true (SO_REUSEPORT: the kernel spreads connections over them;
without it a taken port is an error), forwards SIGTERM/SIGINT to them and waits for them to finish
their grace period. A child that dies takes the others down: a supervisor (systemd,
Kubernetes) restarts the whole unit, which is simpler to reason about than partial
restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator

from reservation.records.database import open_records
from reservation.server import metrics
from reservation.server.app import redis_for
from reservation.settings import ConfigError, Settings

log = logging.getLogger(__name__)


def child_env(settings: Settings, redis_url: str, metrics_dir: str | None,
              worker: int = 0, workers: int = 1) -> dict[str, str]:
    """Worker `worker` of `workers`: its settings, and its own group of the records
    follower's shards (the workers apply in parallel, each shard in one of them)."""
    env = dict(os.environ)
    env["RESERVATION_RECORDS_FOLLOWER_GROUP"] = f"{worker}/{workers}"
    if not settings.redis_sentinels:  # under Sentinel the workers ask the sentinels too
        env["RESERVATION_REDIS_URL"] = redis_url
    if settings.records_database_url:  # the same store (its default is beside our Redis)
        env["RESERVATION_RECORDS_URL"] = settings.records_database_url
    env["RESERVATION_HOST"] = settings.host
    env["RESERVATION_PORT"] = str(settings.port)
    env["RESERVATION_REUSE_PORT"] = "true"
    if metrics_dir:
        # Workers record into files there; the parent alone serves /metrics.
        env[metrics.MULTIPROC_ENV] = metrics_dir
        env["RESERVATION_METRICS_PORT"] = "0"
    return env


@contextlib.contextmanager
def metrics_for_workers(settings: Settings) -> Iterator[str | None]:
    """The multiprocess directory (PROMETHEUS_MULTIPROC_DIR if set, else a fresh one,
    removed afterwards) and one /metrics endpoint over all workers' files."""
    if not settings.metrics_port:
        yield None
        return
    given = os.environ.get(metrics.MULTIPROC_ENV)
    path = given or tempfile.mkdtemp(prefix="reservation-metrics-")
    server, port = metrics.serve(settings.host, settings.metrics_port, path)
    log.info("metrics of every worker on http://%s:%d/metrics", settings.host, port)
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        if not given:
            shutil.rmtree(path, ignore_errors=True)


async def serve_workers(settings: Settings, workers: int) -> int:
    """Run until a signal or a child's exit; returns the exit code."""
    if workers > 1 and settings.port == 0:
        raise ConfigError("--workers > 1 needs a fixed port: port 0 gives each its own")
    if workers > 1 and settings.records_follower_group != "0/1":
        raise ConfigError("RESERVATION_RECORDS_FOLLOWER_GROUP with --workers > 1: the "
                          "workers take the groups 0/N .. N-1/N themselves")
    with metrics_for_workers(settings) as metrics_dir:
        return await _run_workers(settings, workers, metrics_dir)


async def _run_workers(settings: Settings, workers: int, metrics_dir: str | None) -> int:
    if settings.records_database_url:
        # Migrated once, here, before the workers open the same store (N processes
        # creating the same tables at once would fail all but one).
        engine = await asyncio.to_thread(open_records, settings.records_database_url)
        engine.dispose()
    async with redis_for(settings) as url:
        cmd = [sys.executable, "-m", "reservation.cli", "serve"]
        children = [await asyncio.create_subprocess_exec(
            *cmd, env=child_env(settings, url, metrics_dir, i, workers))
            for i in range(workers)]
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

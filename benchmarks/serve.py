"""A `reservation serve` process on its own Redis (AOF everysec), for the benchmarks that
drive the service from outside as its callers do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from reservation.storage.redis_process import RedisProcess, free_port


class Served(NamedTuple):
    target: str
    metrics_port: int
    pid: int
    """The server process (its CPU, with its children's, is the service's)."""
    redis_pid: int


@contextmanager
def served(tmp: Path, **env: str) -> Iterator[Served]:
    """The server with RESERVATION_<NAME> settings from `env` (e.g. WRITE_BACK_GROUPS)."""
    redis = RedisProcess(data_dir=tmp / "redis", appendonly=True, appendfsync="everysec")
    redis.start()
    port, metrics = free_port(), free_port()
    full = {**os.environ, "RESERVATION_REDIS_URL": redis.url, "RESERVATION_PORT": str(port),
            "RESERVATION_METRICS_PORT": str(metrics), "RESERVATION_LOG_LEVEL": "WARNING",
            **{f"RESERVATION_{k.upper()}": v for k, v in env.items()}}
    proc = subprocess.Popen([sys.executable, "-m", "reservation.cli", "serve"], env=full,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = f"127.0.0.1:{port}"
    try:
        _wait_healthy(target)
        yield Served(target, metrics, proc.pid, redis.pid or 0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        redis.stop()


def _wait_healthy(target: str) -> None:
    for _ in range(600):
        r = subprocess.run([sys.executable, "-m", "reservation.cli", "check", "--target",
                            target, "--timeout", "1"], capture_output=True, check=False)
        if r.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("the server did not start")

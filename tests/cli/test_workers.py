"""`reservation serve --workers N`: N processes on one port, one embedded Redis, clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reservation.storage.redis_process import free_port

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout
    return [int(p) for p in out.split()]


def _wait_serving(target: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with grpc.insecure_channel(target) as ch:
                resp = health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1)
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{target} not serving")


def test_two_workers_share_a_port_and_stop_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESERVATION_")}
    env.update(RESERVATION_DATA_DIR=str(tmp_path), RESERVATION_LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "reservation.cli", "serve", "--workers",
                             "2", "--port", str(port)], env=env, stdin=subprocess.DEVNULL)
    try:
        _wait_serving(f"127.0.0.1:{port}", time.monotonic() + 30)
        kids = _children(proc.pid)
        assert len(kids) == 3  # two servers and the embedded redis-server
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not any(Path(f"/proc/{k}").exists() and
                       "zombie" not in Path(f"/proc/{k}/status").read_text().lower()
                       for k in kids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""What a new user hits when starting the service: a bad setting or a taken port is one
line on stderr, and one /metrics scrape covers every worker of `serve --workers N`."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reservation.storage.redis_process import free_port
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import reservation_service_pb2_grpc as rpb_grpc
from tests.helpers.cli import START_BOUND_S, cli, cli_env, start_serve, stop_serve, wait_for

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("name", "value", "says"), [
    ("RESERVATION_LOG_LEVEL", "LOUD", "RESERVATION_LOG_LEVEL='LOUD' is not one of"),
    ("RESERVATION_PORT", "99999", "RESERVATION_PORT=99999 is outside"),
    ("RESERVATION_REDIS_CLSUTER", "1", "did you mean RESERVATION_REDIS_CLUSTER?"),
])
def test_a_bad_setting_is_one_line_on_stderr(name: str, value: str, says: str) -> None:
    result = cli("serve", env=cli_env(**{name: value}))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_serve_on_a_taken_port_fails_in_one_line(tmp_path: Path) -> None:
    first = start_serve(tmp_path)
    try:
        port = first.target.rsplit(":", 1)[1]
        result = cli("serve", env=cli_env(RESERVATION_PORT=port,
                                          RESERVATION_DATA_DIR=str(tmp_path / "other"),
                                          RESERVATION_LOG_LEVEL="WARNING"))
    finally:
        stop_serve(first)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"reservation serve: cannot listen on 127.0.0.1:{port}: the port is taken "
                    "(RESERVATION_PORT; only --workers N shares a port)"), result.stderr
    assert "Traceback" not in result.stderr


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        families = text_string_to_metric_families(reply.read().decode())
        totals: dict[str, float] = {}
        for family in families:
            for s in family.samples:
                if s.labels.get("grpc_method") == "GetStock":
                    totals[s.name] = totals.get(s.name, 0.0) + s.value
        return totals


def test_one_scrape_sees_every_worker(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    files = tmp_path / "metrics"
    files.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reservation.cli", "serve", "--workers", "2"],
        env=cli_env(RESERVATION_DATA_DIR=str(tmp_path / "data"), RESERVATION_PORT=str(port),
                    RESERVATION_METRICS_PORT=str(metrics_port), RESERVATION_LOG_LEVEL="WARNING",
                    RESERVATION_GRACE_PERIOD_S="1", PROMETHEUS_MULTIPROC_DIR=str(files)),
        stdin=subprocess.DEVNULL)
    try:
        target = f"127.0.0.1:{port}"
        assert wait_for(lambda: cli("check", "--target", target, "--timeout", "1")
                        .returncode == 0, START_BOUND_S)
        # Both workers have written their files once they import the metrics.
        assert wait_for(lambda: len({f.stem.rsplit("_", 1)[1]
                                     for f in files.glob("*.db")}) >= 2, START_BOUND_S)
        calls = 12
        for _ in range(calls):  # a new connection each: the kernel spreads them
            with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError):
                rpb_grpc.ReservationServiceStub(channel).GetStock(
                    rpb.GetStockRequest(sku="NO-SUCH"), timeout=10)
        # A worker counts a call as its handler ends, which may be a moment after the
        # client has the answer: wait for the counts (bounded), then demand them exact.
        wait_for(lambda: _scrape(metrics_port).get("grpc_server_handled_total") == calls,
                 START_BOUND_S)
        totals = _scrape(metrics_port)
        assert totals["grpc_server_started_total"] == calls
        assert totals["grpc_server_handled_total"] == calls
        pids = {f.stem.rsplit("_", 1)[1] for f in files.glob("counter_*.db")}
        assert len(pids) == 2, pids  # both workers served some of them
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode == 0

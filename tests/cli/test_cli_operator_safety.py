"""The operator's safety nets in the `reservation` CLI, against a running server: a sale
on a typo'd SKU refused unless `--create`, `--dry-run` on write commands (a plan on
stdout, nothing changed), reschedule / pause / resume, NOT_FOUND for what is not there."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import Served, cli, start_serve, stop_serve
from tests.helpers.redis_servers import start_redis

# Real processes: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("cli-safety")
    redis_proc = start_redis(tmp / "redis", appendonly=False)
    try:
        served = start_serve(tmp, RESERVATION_REDIS_URL=redis_proc.url)
        try:
            yield served
        finally:
            stop_serve(served)
    finally:
        redis_proc.stop()


def run(server: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args, "--target", server.target)


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refused(result: subprocess.CompletedProcess[str], code: str) -> str:
    assert result.returncode == 1, result.stdout
    assert f"error: {code}" in result.stderr, result.stderr
    return result.stderr


def available(server: Served, sku: str) -> dict[str, int]:
    levels = ok(run(server, "stock", "get", sku))["levels"]
    return {lv["warehouseId"]: lv["available"] for lv in levels}


def test_a_sale_on_a_typo_is_refused_unless_created(server: Served) -> None:
    ok(run(server, "stock", "load", "PHONE-X:WH-SH:50"))
    err = refused(run(server, "sale", "start", "t1", "PHNOE-X:WH-SH:5", "--ends", "+1h"),
                  "NOT_FOUND")
    assert "PHNOE-X" in err and "items[0].sku" in err
    refused(run(server, "stock", "get", "PHNOE-X"), "NOT_FOUND")  # nothing created
    sale = ok(run(server, "sale", "start", "t1", "NEW-SKU:WH-SH:5", "--ends", "+1h",
                  "--create"))["sale"]
    assert sale["state"] == "FLASH_SALE_STATE_ACTIVE"


def test_sale_start_dry_run_is_checked_by_the_service_and_starts_nothing(
        server: Served) -> None:
    ok(run(server, "stock", "load", "DRY-1:WH-SH:10"))
    plan = ok(run(server, "sale", "start", "dry-sale", "DRY-1:WH-SH:4", "--ends", "+1h",
                  "--dry-run"))
    assert (plan["dry_run"], plan["command"]) == (True, "sale start")
    assert plan["would"]["sale"]["state"] == "FLASH_SALE_STATE_ACTIVE"
    refused(run(server, "sale", "get", "dry-sale"), "NOT_FOUND")
    assert available(server, "DRY-1") == {"WH-SH": 10}
    err = refused(run(server, "sale", "start", "dry-sale", "DRY-TYPO:WH-SH:4", "--ends",
                      "+1h", "--dry-run"), "NOT_FOUND")
    assert "DRY-TYPO" in err


def test_stock_load_dry_run_shows_before_and_after(server: Served) -> None:
    ok(run(server, "stock", "load", "DRY-2:WH-SH:10"))
    plan = ok(run(server, "stock", "load", "DRY-2:WH-SH:5", "DRY-2:WH-BJ:3", "--dry-run"))
    assert [(w["warehouse_id"], w["new"], w["available"]) for w in plan["would"]] == [
        ("WH-SH", False, [10, 15]), ("WH-BJ", True, [0, 3])]
    plan = ok(run(server, "stock", "load", "DRY-2:WH-SH:4", "--set", "--dry-run"))
    assert plan["would"][0]["available"] == [10, 4]
    assert available(server, "DRY-2") == {"WH-SH": 10}


def test_pause_resume_and_reschedule_from_the_cli(server: Served) -> None:
    ok(run(server, "sale", "start", "p1", "PAUSE-1:WH-SH:5", "--ends", "+1h", "--create"))
    plan = ok(run(server, "sale", "pause", "p1", "--dry-run"))
    assert plan["would"]["state"] == ["ACTIVE", "PAUSED"]
    assert ok(run(server, "sale", "get", "p1"))["sale"]["state"] == "FLASH_SALE_STATE_ACTIVE"
    assert ok(run(server, "sale", "pause", "p1"))["sale"]["state"] == "FLASH_SALE_STATE_PAUSED"
    assert ok(run(server, "sale", "resume", "p1"))["sale"]["state"] == \
        "FLASH_SALE_STATE_ACTIVE"
    plan = ok(run(server, "sale", "reschedule", "p1", "--starts", "+1h", "--ends", "+2h",
                  "--dry-run"))
    assert plan["would"]["sale"]["state"] == "FLASH_SALE_STATE_SCHEDULED"
    assert ok(run(server, "sale", "get", "p1"))["sale"]["state"] == "FLASH_SALE_STATE_ACTIVE"
    moved = ok(run(server, "sale", "reschedule", "p1", "--starts", "+1h", "--ends", "+2h"))
    assert moved["sale"]["state"] == "FLASH_SALE_STATE_SCHEDULED"
    plan = ok(run(server, "sale", "stop", "p1", "--dry-run"))
    assert plan["would"] == {"sale_id": "p1", "state": ["SCHEDULED", "STOPPED"],
                             "units_to_returned": 5}
    for change in ("pause", "resume", "stop"):
        refused(run(server, "sale", change, "nosuch"), "NOT_FOUND")
        refused(run(server, "sale", change, "nosuch", "--dry-run"), "NOT_FOUND")


def test_blocklist_and_guard_dry_runs_change_nothing(server: Served) -> None:
    ok(run(server, "blocklist", "add", "buyer", "scalper-1", "--reason", "bots"))
    plan = ok(run(server, "blocklist", "add", "buyer", "scalper-1", "scalper-2",
                  "--dry-run"))
    assert plan["would"] == {"kind": "buyer", "added": ["scalper-2"],
                             "reason_replaced": ["scalper-1"]}
    plan = ok(run(server, "blocklist", "remove", "buyer", "scalper-1", "nobody",
                  "--dry-run"))
    assert plan["would"] == {"kind": "buyer", "removed": ["scalper-1"],
                             "not_listed": ["nobody"]}
    listed = ok(run(server, "blocklist", "list", "--kind", "buyer"))["entries"]
    assert [e["value"] for e in listed] == ["scalper-1"]

    ok(run(server, "stock", "load", "GUARD-1:WH-SH:20"))
    plan = ok(run(server, "breaker", "force", "GUARD-1", "douyin", "open", "--dry-run"))
    before, after = plan["would"]["breaker"]
    assert (before["state"], after["state"], after["forced"]) == ("CLOSED", "OPEN", True)
    plan = ok(run(server, "safety-stock", "set", "GUARD-1", "--units", "7", "--dry-run"))
    assert plan["would"]["override"] == [None, 7]
    guard = ok(run(server, "safety-stock", "get", "GUARD-1"))["guard"]
    assert "override" not in guard and guard["breakers"] == []


def test_a_dead_letter_dry_run_of_an_order_that_is_not_one_is_refused(
        server: Served) -> None:
    err = refused(run(server, "dead-letters", "requeue", "jd", "no-order", "--dry-run"),
                  "NOT_FOUND")
    assert "no-order" in err


RULES = """\
rules:
  - name: live
    when: {sku: [PHONE]}
    then:
      shares: {douyin: 60, taobao: 30, pos: rest}
"""


def test_listing_rules_put_dry_run_is_checked_and_stores_nothing(
        server: Served, tmp_path: Path) -> None:
    good, bad = tmp_path / "rules.yaml", tmp_path / "bad.yaml"
    good.write_text(RULES)
    bad.write_text(RULES.replace("shares", "sharez"))
    before = ok(run(server, "listings", "rules", "get"))["rules"]["version"]
    plan = ok(run(server, "listings", "rules", "put", str(good), "--dry-run"))
    assert plan["would"]["rules"]["version"] == before + 1
    err = refused(run(server, "listings", "rules", "put", str(bad), "--dry-run"),
                  "INVALID_ARGUMENT")
    assert "sharez" in err
    assert ok(run(server, "listings", "rules", "get"))["rules"]["version"] == before

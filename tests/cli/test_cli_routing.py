"""`reservation warehouses|rules|route` against the real server (in this process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reservation.server.app import App
from tests.helpers.cli import run_cli
from tests.helpers.reservations import load

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]


RULES = """\
weights: {distance: 1.0, load: 0.5, shipments: 2.0}
rules:
  - name: 奶粉 East China
    when: {category: [奶粉], city: [上海, 杭州, 南京]}
    then: {prefer: [华东前置仓A]}
"""


async def test_warehouses_rules_and_route_from_the_command_line(
        app: App, stubs, tmp_path: Path) -> None:
    code, out, err = await run_cli(app, "warehouses", "put", "WH-EAST-A", "--name", "华东前置仓A",
                               "--city", "苏州")
    assert code == 0, err
    assert json.loads(out)["warehouse"]["region"] == "华东"
    code, out, err = await run_cli(app, "warehouses", "put", "WH-HZ", "--name", "杭州仓",
                               "--city", "杭州", "--capacity", "500")
    assert code == 0, err
    code, out, _ = await run_cli(app, "warehouses", "list")
    assert [w["warehouseId"] for w in json.loads(out)["warehouses"]] == ["WH-EAST-A", "WH-HZ"]
    code, out, _ = await run_cli(app, "warehouses", "get", "WH-HZ")
    assert json.loads(out)["warehouse"]["dailyCapacity"] == 500  # a number, like every command

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    code, out, err = await run_cli(app, "rules", "put", str(rules))
    assert code == 0, err
    assert json.loads(out)["rules"]["version"] == 1
    code, out, _ = await run_cli(app, "rules", "get")
    assert "# version 1" in out and "华东前置仓A" in out

    await load(stubs, ("MILK-1", "WH-EAST-A", 10), ("MILK-1", "WH-HZ", 10))
    code, out, err = await run_cli(app, "route", "--city", "杭州", "--sku", "MILK-1:2:奶粉")
    assert code == 0, err
    assert "MILK-1 x2 -> WH-EAST-A x2: preferred by rule '奶粉 East China'" in out
    assert "destination: 华东 浙江 杭州 (matched by city)" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - then: {prefer: [NOWHERE]}\n", encoding="utf-8")
    code, _, err = await run_cli(app, "rules", "put", str(bad))
    assert code == 1 and "INVALID_ARGUMENT" in err and "rules[0].then.prefer[0]" in err

    code, out, _ = await run_cli(app, "rules", "rollback", "1")
    assert code == 0 and json.loads(out)["rules"]["rolledBackTo"] == 1
    code, out, _ = await run_cli(app, "rules", "history")
    assert out.splitlines()[0] == "current version: 2"


async def test_amounts_typed_in_yuan_are_sent_as_exact_cents(
        app: App, stubs, tmp_path: Path) -> None:
    """--cost 12.29 reaches the server as 1229 cents (a float would carry 12.29 as
    12.2899...); an amount with a third decimal is refused before any call."""
    code, out, err = await run_cli(app, "warehouses", "put", "WH-C", "--name", "C仓",
                               "--city", "杭州", "--cost", "12.29")
    assert code == 0, err
    assert json.loads(out)["warehouse"]["costPerOrderCents"] == 1229
    rules = tmp_path / "big.yaml"
    rules.write_text("rules:\n  - name: big\n    when: {amount_above: 500}\n"
                     "    then: {review: big order}\n", encoding="utf-8")
    assert (await run_cli(app, "rules", "put", str(rules)))[0] == 0
    await load(stubs, ("TEA-9", "WH-C", 5))
    code, out, err = await run_cli(app, "route", "--city", "杭州", "--sku", "TEA-9:1",
                               "--amount", "500.01", "--json")
    assert code == 0, err
    assert json.loads(out)["decision"]["reviewReason"] == "big order"
    code, _, err = await run_cli(app, "route", "--city", "杭州", "--sku", "TEA-9:1",
                             "--amount", "500.001")
    assert code == 2 and "at most two decimals" in err


async def test_routing_writes_have_a_dry_run_that_changes_nothing(
        app: App, stubs, tmp_path: Path) -> None:
    code, out, err = await run_cli(app, "warehouses", "put", "WH-DRY", "--name", "干仓",
                               "--city", "杭州", "--dry-run")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["dry_run"] is True and plan["command"] == "warehouses put"
    assert plan["would"]["warehouse"]["region"] == "华东"  # as it would be stored
    code, out, _ = await run_cli(app, "warehouses", "list")
    assert json.loads(out).get("warehouses", []) == []

    assert (await run_cli(app, "warehouses", "put", "WH-HZ", "--name", "杭州仓", "--city",
                      "杭州"))[0] == 0
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: nowhere\n    when: {city: [杭州]}\n"
                     "    then: {exclude: [WH-HZ]}\n", encoding="utf-8")
    code, out, err = await run_cli(app, "rules", "put", str(rules), "--dry-run")
    assert code == 0, err
    would = json.loads(out)["would"]
    assert would["rules"]["version"] == 0 and would["warnings"]  # every warehouse excluded
    code, out, _ = await run_cli(app, "rules", "history")
    assert out.splitlines()[0] == "current version: 0"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - then: {prefer: [NOWHERE]}\n", encoding="utf-8")
    code, _, err = await run_cli(app, "rules", "put", str(bad), "--dry-run")
    assert code == 1 and "rules[0].then.prefer[0]" in err

    assert (await run_cli(app, "rules", "put", str(rules)))[0] == 0
    code, out, err = await run_cli(app, "rules", "rollback", "1", "--dry-run")
    assert code == 0, err
    assert json.loads(out)["would"]["rules"]["rolledBackTo"] == 1
    code, out, _ = await run_cli(app, "rules", "history")
    assert out.splitlines()[0] == "current version: 1"

"""`reservation rules backtest` against the real server: a history file (CSV) and the
hub's recorded orders of a period, as a report and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reservation.server.app import App
from tests.helpers.cli import run_cli
from tests.helpers.reservations import load

pytestmark = pytest.mark.slow

CANDIDATE = """\
rules:
  - name: milk via Hangzhou
    when: {category: [奶粉]}
    then: {prefer: [WH-HZ]}
"""
# Four orders to Shanghai; the candidate sends milk powder via Hangzhou, where 3 shipped.
HISTORY = """订单号,省,市,商品编码,数量,类目,发货仓
H1,上海,上海,MILK-1,1,奶粉,WH-HZ
H2,上海,上海,MILK-1,1,奶粉,WH-HZ
H3,上海,上海,MILK-1,2,奶粉,WH-HZ
H4,上海,上海,MILK-1,1,奶粉,WH-EAST-A
"""


async def test_backtest_a_history_file_and_a_period(app: App, stubs, tmp_path: Path) -> None:
    for args in (("WH-HZ", "--name", "杭州仓", "--city", "杭州"),
                 ("WH-EAST-A", "--name", "华东前置仓A", "--city", "苏州")):
        code, _, err = await run_cli(app, "warehouses", "put", *args)
        assert code == 0, err
    await load(stubs, ("MILK-1", "WH-HZ", 100), ("MILK-1", "WH-EAST-A", 100))
    rules, orders = tmp_path / "candidate.yaml", tmp_path / "history.csv"
    rules.write_text(CANDIDATE, encoding="utf-8")
    orders.write_text(HISTORY, encoding="utf-8")

    code, out, err = await run_cli(app, "rules", "backtest", str(rules), "--orders", str(orders))
    assert code == 0, err
    assert "same as the shipping warehouse: 3 of 4 (75.0%)" in out
    assert "WH-EAST-A -> WH-HZ: 1 (e.g. H4)" in out

    code, out, err = await run_cli(app, "rules", "backtest", str(rules), "--orders", str(orders),
                               "--json")
    assert code == 0, err
    reply = json.loads(out)
    assert (reply["orders"], reply["vsShipped"]["matched"]) == (4, 3)

    # No hub orders in the last day: nothing to compare, said so.
    code, out, err = await run_cli(app, "rules", "backtest", str(rules), "--since", "1d")
    assert code == 0, err
    assert out.startswith("0 orders") and "no orders to compare" in out

    # A bad file is one line naming the row, before anything is sent.
    orders.write_text(HISTORY.replace("H4,上海,上海,MILK-1,1", "H4,上海,上海,MILK-1,x"),
                      encoding="utf-8")
    code, out, err = await run_cli(app, "rules", "backtest", str(rules), "--orders", str(orders))
    assert code != 0 and "row 5, quantity" in err and len(err.strip().splitlines()) == 1

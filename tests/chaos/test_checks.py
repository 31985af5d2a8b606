"""The chaos checkers catch what they are for: fed the break of issue 14 (one part of a
multi-shard order confirmed, the other not) and a lost hold, they report violations."""

from __future__ import annotations

import sqlite3

from benchmarks.chaos import checks
from benchmarks.chaos.workload import Record, Traffic
from reservation.clients.wms.ledger import Ledger


def ledger_with(path, events):
    Ledger(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        for i, (etype, oid, sku) in enumerate(events):
            db.execute("INSERT INTO wb_events VALUES (?, ?, 'chaos', ?, 'rid', ?, 'W1', 1, ?, 0)",
                       (f"e{i}", etype, oid, sku, 1000 + i))
    return str(path)


def test_a_partly_confirmed_order_and_a_lost_hold_are_violations(tmp_path):
    traffic = Traffic()
    traffic.records["m-1"] = Record("m-1", [("A", 1), ("B", 1)], True, ["RESERVED"],
                                    expires_at_ms=5000, confirm="ok")
    traffic.records["s-1"] = Record("s-1", [("A", 1)], False, ["RESERVED"],
                                    expires_at_ms=5000)
    ledger = ledger_with(tmp_path / "l.db", [
        ("HELD", "m-1", "A"), ("HELD", "m-1", "B"), ("CONFIRMED", "m-1", "A"),
        ("HELD", "s-1", "A"), ("RELEASED", "s-1", "A")])
    final = checks.Final(states={"m-1": "CONFIRMED", "s-1": "RELEASED"},
                         parts={"m-1": ["CONFIRMED", "EXPIRED"]}, levels={}, ledger_path=ledger)
    by_name = {c.name: c for c in checks.run_all(traffic, final)}
    assert not by_name["no order partly held or confirmed"].ok
    assert any("m-1" in v for v in by_name["no order partly held or confirmed"].violations)
    lost = by_name["no acknowledged hold lost"].violations
    assert any("s-1" in v and "RELEASED" in v for v in lost)
    assert any("before its expires_at" in v for v in lost)


def test_unknown_or_internal_answers_are_violations():
    traffic = Traffic()
    traffic.errors["Reserve INTERNAL"] += 1
    assert not checks.no_internal(traffic).ok

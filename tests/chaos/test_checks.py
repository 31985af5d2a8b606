"""The chaos checkers catch what they are for: fed the break of issue 14 (one part of a
multi-shard order confirmed, the other not), a lost hold, and the order hub's lost
state, wrong units and audit trail gaps, they report violations."""

from __future__ import annotations

import sqlite3

from benchmarks.chaos import checks
from benchmarks.chaos.orders import HUB_STOCK, HubRecord, Told
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


# -- the order hub's checks --------------------------------------------------------------
CREATED = (1, "CREATED", "", "PENDING_PAYMENT", "adapter:jd", "")
PAID = [(2, "UPDATED", "", "", "adapter:jd", ""),
        (2, "TRANSITION", "PENDING_PAYMENT", "PAID", "adapter:jd", ""),
        (2, "TRANSITION", "PAID", "ROUTED", "rule:router", "")]


def hub_order(oid, lines, *told):
    rec = HubRecord("jd", oid, lines, False)
    rec.told = [Told(f"sync {state}", "UPDATED", state, version) for state, version in told]
    return rec


def levels(**confirmed):
    return {(sku, "W1"): {"loaded": 100, "available": 100 - n, "held": 0, "confirmed": n,
                          "returned": 0} for sku, n in confirmed.items()}


def test_an_acknowledged_order_state_missing_afterwards_is_a_violation():
    traffic = Traffic()
    for oid in ("h-1", "h-2", "h-3"):
        traffic.hub[oid] = hub_order(oid, [("OH-S0", 1)], ("PENDING_PAYMENT", 1),
                                     ("ROUTED", 2))
    history = [CREATED, *PAID]
    final = checks.Final({}, {}, {}, "", hub={
        "h-1": checks.HubFinal("ROUTED", 2, "CONFIRMED", history=history, stream=history),
        # The paid sync was acknowledged, then lost: the order is back at version 1.
        "h-2": checks.HubFinal("PENDING_PAYMENT", 1, "EXPIRED", history=[CREATED],
                               stream=[CREATED]),
        # Version 2 is there but says something else than the adapter was told.
        "h-3": checks.HubFinal("CANCELLED", 2, "RELEASED", history=[
            CREATED, (2, "TRANSITION", "PENDING_PAYMENT", "CANCELLED", "adapter:jd", "")])})

    found = checks.acknowledged_order_states(traffic.hub, final).violations

    assert [v.split(":")[0] for v in found] == ["h-2", "h-3"]
    assert "now PENDING_PAYMENT v1" in found[0] and "history at v2: CANCELLED" in found[1]


def test_order_units_that_differ_from_what_its_state_implies_are_violations():
    traffic = Traffic()
    for oid in ("h-1", "h-2", "h-3", "h-4"):
        traffic.hub[oid] = hub_order(oid, [("OH-S0", 2)])
    final = checks.Final({}, {}, levels(**{sku: 0 for sku in HUB_STOCK}), "", hub={
        "h-1": checks.HubFinal("SHIPPED", 3, "CONFIRMED", shipped=True, paid=True),
        "h-2": checks.HubFinal("CANCELLED", 2, "RELEASED"),
        # A refund before shipping left its units sold; an unpaid order still holds.
        "h-3": checks.HubFinal("REFUNDED", 4, "CONFIRMED", paid=True),
        "h-4": checks.HubFinal("PENDING_PAYMENT", 1, "RESERVED")})
    final.levels[("OH-S0", "W1")].update(available=96, confirmed=4)

    found = checks.order_units(traffic.hub, final).violations

    assert [v.split(":")[0] for v in found] == ["h-3", "h-4", "OH-S0"]
    assert "confirmed 4, held 0; the orders' states sell 2" in found[2]
    final.hub["h-3"].reservation_state = "RELEASED"
    final.hub["h-4"].reservation_state = "EXPIRED"
    final.levels[("OH-S0", "W1")].update(available=98, confirmed=2)
    assert checks.order_units(traffic.hub, final).ok


def test_a_change_missing_from_or_twice_in_the_audit_trail_is_a_violation():
    traffic = Traffic()
    for oid in ("h-1", "h-2", "h-3", "h-4"):
        traffic.hub[oid] = hub_order(oid, [("OH-S0", 1)])
    whole = [CREATED, *PAID]
    final = checks.Final({}, {}, {}, "", hub={
        "h-1": checks.HubFinal("ROUTED", 2, "CONFIRMED", history=whole, stream=whole),
        # Version 2 is not in its history.
        "h-2": checks.HubFinal("ROUTED", 2, "CONFIRMED", history=[CREATED],
                               stream=[CREATED]),
        # The payment applied twice, as versions 2 and 3.
        "h-3": checks.HubFinal("ROUTED", 3, "CONFIRMED", history=[
            *whole, *[(3, *e[1:]) for e in PAID]], stream=[*whole, *[(3, *e[1:])
                                                                     for e in PAID]]),
        # The event stream lacks the router's step.
        "h-4": checks.HubFinal("ROUTED", 2, "CONFIRMED", history=whole, stream=whole[:-1])})

    found = checks.audit_once(traffic.hub, final).violations

    assert [v.split(":")[0] for v in found] == ["h-2", "h-3", "h-4"]
    assert "entered ['PAID', 'ROUTED']" in found[1] and "not the same events" in found[2]

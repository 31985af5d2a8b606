"""The checkers, run once the faults are over and the system has settled (in the spirit
of Jepsen's: compare what clients were told with what the stores hold afterwards).

1. acknowledged holds kept: an order answered RESERVED ends CONFIRMED if its Confirm was
   acknowledged, RELEASED (or EXPIRED, when the Release came after expiry) if its
   Release was, else EXPIRED (or what an unanswered call may have done); no unit of it
   came back before its acknowledged expires_at except by a Release the client sent.
   Any order whose Confirm was acknowledged (also one whose Reserve went unanswered:
   adapters confirm on payment) ends CONFIRMED.
2. whole orders: no multi-shard order has a part CONFIRMED and another not, or a part
   still held, in Redis or in the WMS ledger's events.
3. counters: per SKU and warehouse loaded = available + held + confirmed + returned, all
   >= 0, nothing held once every hold expired.
4. WMS ledger equals the counters once the puller caught up.
5. queued orders settled once: none still QUEUED, and no order was handed a SKU and
   warehouse twice (one HELD event per order, SKU and warehouse).
6. no UNKNOWN or INTERNAL answer reached a client.

The order hub's orders (benchmarks/chaos/orders.py):

7. acknowledged order states kept: every answer an adapter or the WMS was told (state S
   at version V) is in the order's record and history afterwards: the order is at V or
   later, and its history reads S at V.
8. units as the state says: once every unpaid hold has expired, an order holds no unit
   and has its lines sold exactly when the rule says it is sold (stated on its own in
   tests/helpers/order_reference.py: shipped, or paid and on its way, or a refund asked;
   nothing once it ended unshipped or was never paid), both by its hold's state and by
   each SKU's confirmed counter summed over the orders.
9. every change in the audit trail once: the history holds every version 1..V, no
   state entered twice (no order's life here revisits one), no shipment reported
   twice, and the shard's order event stream (audit group) holds exactly the history's
   events.
"""

from __future__ import annotations

import collections
import sqlite3
from dataclasses import dataclass, field

from benchmarks.chaos.orders import HUB_STOCK, HubRecord
from benchmarks.chaos.workload import SHARDS, Record, Traffic
from reservation.storage import keys
from tests.helpers import order_reference as rule

Event = tuple[int, str, str, str, str, str]
"""An order event as both trails can tell it: (version, type, from, to, actor, reason)."""


@dataclass
class HubFinal:
    """The hub's word on one order after the run (GetOrder, GetOrderHistory, Redis)."""

    state: str
    """'NOT_FOUND' when the hub has no such order."""
    version: int = 0
    reservation_state: str = ""
    shipped: bool = False
    paid: bool = False
    history: list[Event] = field(default_factory=list)
    stream: list[Event] = field(default_factory=list)
    """Its events in the shard's order event stream (the audit group's entries)."""


@dataclass
class Check:
    name: str
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass
class Final:
    """What the system holds after the run."""

    states: dict[str, str]
    """Order id -> state from GetReservation ('NOT_FOUND' if none)."""
    parts: dict[str, list[str]]
    """Multi-shard order id -> its part records' states in Redis ('' if none)."""
    levels: dict[tuple[str, str], dict[str, int]]
    ledger_path: str
    hub: dict[str, HubFinal] = field(default_factory=dict)
    """The hub's orders by order id."""


def _events(ledger_path: str) -> list[tuple[str, str, str, str, int]]:
    with sqlite3.connect(ledger_path) as db:
        return list(db.execute("SELECT type, order_id, sku, warehouse_id, occurred_at_ms "
                               "FROM wb_events WHERE channel = 'chaos'"))


def _totals(ledger_path: str) -> dict[tuple[str, str], dict[str, int]]:
    with sqlite3.connect(ledger_path) as db:
        rows = db.execute("SELECT sku, warehouse_id, loaded, available, held, confirmed, "
                          "returned FROM wb_totals")
        return {(r[0], r[1]): dict(zip(("loaded", "available", "held", "confirmed",
                                        "returned"), r[2:])) for r in rows}


def acknowledged_holds(records: dict[str, Record], final: Final,
                       events: list[tuple[str, str, str, str, int]]) -> Check:
    check = Check("no acknowledged hold lost")
    back = collections.defaultdict(list)
    for etype, oid, _, _, at in events:
        if etype in ("RELEASED", "EXPIRED"):
            back[oid].append((etype, at))
    for oid, rec in records.items():
        state = final.states.get(oid, "NOT_FOUND")
        if rec.confirm == "ok" and state != "CONFIRMED":
            check.violations.append(f"{oid}: Confirm acknowledged, now {state}")
            continue
        if "RESERVED" not in rec.answers:
            continue
        if rec.confirm == "ok":
            allowed = {"CONFIRMED"}
        elif rec.release == "ok":
            # A Release that came after expires_at finds the hold (or a part) expired.
            allowed = {"RELEASED", "EXPIRED"}
        else:
            allowed = {"EXPIRED"}
            allowed |= {"CONFIRMED"} if rec.confirm == "unknown" else set()
            allowed |= {"RELEASED"} if rec.release == "unknown" else set()
        if state not in allowed:
            check.violations.append(f"{oid}: answered RESERVED, confirm={rec.confirm or '-'} "
                                    f"release={rec.release or '-'}, now {state}")
        # Units come back early only by a Release the client sent; never by expiry.
        early = [etype for etype, at in back[oid] if at < rec.expires_at_ms
                 and (etype == "EXPIRED" or not rec.release)]
        if early:
            check.violations.append(f"{oid}: units came back ({', '.join(early)}) before "
                                    "its expires_at")
    return check


def whole_orders(records: dict[str, Record], final: Final,
                 events: list[tuple[str, str, str, str, int]]) -> Check:
    check = Check("no order partly held or confirmed")
    held, confirmed = collections.defaultdict(set), collections.defaultdict(set)
    for etype, oid, sku, _, _ in events:
        if etype == "HELD":
            held[oid].add(sku)
        elif etype == "CONFIRMED":
            confirmed[oid].add(sku)
    for oid, rec in records.items():
        if not rec.multi:
            continue
        parts = final.parts.get(oid, [])
        if "CONFIRMED" in parts and set(parts) != {"CONFIRMED"}:
            check.violations.append(f"{oid}: parts {parts} in Redis")
        if "RESERVED" in parts:
            check.violations.append(f"{oid}: a part is still held: {parts}")
        if confirmed[oid] and confirmed[oid] != held[oid]:
            check.violations.append(f"{oid}: ledger confirmed {sorted(confirmed[oid])} of "
                                    f"held {sorted(held[oid])}")
    return check


def counters(final: Final) -> Check:
    check = Check("loaded = available + held + confirmed + returned")
    for (sku, wh), lv in final.levels.items():
        if lv["loaded"] != lv["available"] + lv["held"] + lv["confirmed"] + lv["returned"]:
            check.violations.append(f"{sku}/{wh}: {lv}")
        if min(lv.values()) < 0 or lv["held"] != 0:
            check.violations.append(f"{sku}/{wh}: negative or still held: {lv}")
    return check


def ledger_matches(final: Final) -> Check:
    check = Check("WMS ledger = counters after catch-up")
    totals = _totals(final.ledger_path)
    for key, lv in final.levels.items():
        if totals.get(key) != lv:
            check.violations.append(f"{key}: ledger {totals.get(key)} counters {lv}")
    return check


def queued_once(records: dict[str, Record], final: Final,
                events: list[tuple[str, str, str, str, int]]) -> Check:
    check = Check("every queued order settled once")
    per = collections.Counter((oid, sku, wh) for etype, oid, sku, wh, _ in events
                              if etype == "HELD")
    for (oid, sku, wh), n in per.items():
        if n > 1:
            check.violations.append(f"{oid}: {n} HELD events for {sku}/{wh}")
    for oid, rec in records.items():
        if "QUEUED" in rec.answers and final.states.get(oid) in ("QUEUED", "NOT_FOUND"):
            check.violations.append(f"{oid}: queued, now {final.states.get(oid)}")
    return check


def no_internal(traffic: Traffic) -> Check:
    check = Check("no UNKNOWN/INTERNAL answer")
    for what, n in traffic.errors.items():
        if "UNKNOWN" in what or "INTERNAL" in what:
            check.violations.append(f"{what}: {n}")
    return check


def _state_at(history: list[Event], version: int) -> str | None:
    """The order's state once version `version` was written (None: no such version)."""
    if not any(e[0] == version for e in history):
        return None
    state = ""
    for v, _, _, to, _, _ in history:
        if v <= version and to:
            state = to
    return state


def acknowledged_order_states(hub: dict[str, HubRecord], final: Final) -> Check:
    check = Check("no acknowledged order state lost")
    for oid, rec in hub.items():
        got = final.hub.get(oid, HubFinal("NOT_FOUND"))
        for told in rec.told:
            if got.version < told.version:
                check.violations.append(
                    f"{oid}: told {told.state} v{told.version} ({told.call}), now "
                    f"{got.state} v{got.version}")
                continue
            at = _state_at(got.history, told.version)
            if at != told.state:
                check.violations.append(
                    f"{oid}: told {told.state} v{told.version} ({told.call}), history at "
                    f"v{told.version}: {at or 'nothing'}")
    return check


def sold_by_rule(o: HubFinal) -> bool:
    """Whether the order's units are sold once unpaid holds expired (order_reference.py)."""
    if o.shipped or o.state in rule.GONE:
        return True  # shipped units stay sold, whatever comes after
    if o.state in rule.ENDED:
        return False  # ended before shipping: given back
    if o.state in rule.PAYMENT_REPORTS:
        return True
    return o.state in rule.HOLDS and o.paid  # PENDING_PAYMENT: its hold has expired


def order_units(hub: dict[str, HubRecord], final: Final) -> Check:
    check = Check("order units = what its state implies")
    sold = dict.fromkeys(HUB_STOCK, 0)
    for oid, rec in hub.items():
        got = final.hub.get(oid, HubFinal("NOT_FOUND"))
        if got.state == "NOT_FOUND":
            continue
        want = "CONFIRMED" if sold_by_rule(got) else "nothing"
        has = set(got.reservation_state.split(","))
        ok = has == {"CONFIRMED"} if want == "CONFIRMED" else not has & {"CONFIRMED",
                                                                           "RESERVED"}
        if not ok:
            check.violations.append(f"{oid}: {got.state} (shipped={got.shipped}, "
                                    f"paid={got.paid}) should hold {want}, its hold is "
                                    f"{got.reservation_state}")
        if want == "CONFIRMED":
            for sku, qty in rec.lines:
                sold[sku] += qty
    for sku, units in sold.items():
        levels = [lv for (s, _), lv in final.levels.items() if s == sku]
        confirmed = sum(lv["confirmed"] for lv in levels)
        held = sum(lv["held"] for lv in levels)
        if (confirmed, held) != (units, 0):
            check.violations.append(f"{sku}: confirmed {confirmed}, held {held}; the "
                                    f"orders' states sell {units}, hold 0")
    return check


def audit_once(hub: dict[str, HubRecord], final: Final) -> Check:
    check = Check("every order change in its audit trail once")
    for oid in hub:
        got = final.hub.get(oid, HubFinal("NOT_FOUND"))
        versions = {e[0] for e in got.history}
        if versions != set(range(1, got.version + 1)):
            check.violations.append(f"{oid}: v{got.version}, history has versions "
                                    f"{sorted(versions)}")
        entered = collections.Counter(e[3] for e in got.history if e[1] == "TRANSITION")
        shipments = sum(e[1] == "SHIPMENT_REPORTED" for e in got.history)
        twice = sorted(s for s, n in entered.items() if n > 1)
        if twice or shipments > 1:
            check.violations.append(f"{oid}: recorded twice: entered {twice}, "
                                    f"{shipments} shipments reported")
        if collections.Counter(got.history) != collections.Counter(got.stream):
            check.violations.append(f"{oid}: history {len(got.history)} events, event "
                                    f"stream {len(got.stream)}, not the same events")
    return check


def run_all(traffic: Traffic, final: Final) -> list[Check]:
    events = _events(final.ledger_path)
    return [acknowledged_holds(traffic.records, final, events),
            whole_orders(traffic.records, final, events), counters(final),
            ledger_matches(final), queued_once(traffic.records, final, events),
            no_internal(traffic), acknowledged_order_states(traffic.hub, final),
            order_units(traffic.hub, final), audit_once(traffic.hub, final)]


def part_keys(record: Record) -> list[str]:
    ref = keys.order_ref("chaos", record.order_id)
    shards = sorted({keys.shard_of(sku, SHARDS) for sku, _ in record.lines})
    return [keys.hold(shard, ref) for shard in shards]

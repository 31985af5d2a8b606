"""Interception before shipping: after each sync the hub's orders are checked against the
rule set in force; a hit holds the order (ON_HOLD, so no label is printed) and opens a
review task; operators list the tasks and decide (approve, reject, edit the address),
each decision a move of the order made in the operator's name, so it lands in the
order's audit trail.

Grades (rules.GRADES): A is an automatic reminder, escalated after 2 minutes without
action; B comes with a substitute SKU suggested; C freezes the order until a person
decides. A task closed without a person (the channel cancelled or refunded the order
while it waited) counts toward the self-healing rate.

The rule set is hot-reloaded: every check reads the current version number (one HGET)
and parses a new version once per replica.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from reservation import clock as clock_
from reservation.errors import FailedPrecondition, InvalidArgument, NotFound
from reservation.interception import checks, tables
from reservation.interception import rules as rules_
from reservation.interception.checks import Facts, Subject
from reservation.interception.rules import RuleSet
from reservation.ordersync.hub import OrderHub
from reservation.ordersync.model import Address, Order
from reservation.ordersync.plan import (
    ROUTING_REVIEW,
    STOCK_REFUSED,
    SUSPECTED_DUPLICATE,
    Outcome,
)
from reservation.ordersync.results import Key, Reviewed, SyncResult
from reservation.ordersync.states import OrderState
from reservation.settings import Settings
from reservation.storage.interception import InterceptionStore
from reservation.storage.store import Store

S = OrderState
ESCALATE_AFTER_MS = 2 * 60 * 1000
DECISIONS = ("approve", "reject", "edit_address")
INTERCEPT_FAILED = "intercept failed"
"""The review of an order that shipped while held (Order.intercept_failed)."""
HUB_HOLDS = (SUSPECTED_DUPLICATE, STOCK_REFUSED, ROUTING_REVIEW)
"""Holds the hub makes itself, named by how their note begins: each gets a review."""
_PAUSED = frozenset({S.ON_HOLD, S.REFUND_REQUESTED})
# Too late or nothing to stop: no interception.
_PAST = frozenset({S.SHIPPED, S.DELIVERED, S.CANCELLED, S.REFUNDED, S.CLOSED})
_ENDED_BY_CHANNEL = frozenset({S.CANCELLED, S.REFUNDED, S.CLOSED})


@dataclass(frozen=True)
class Review:
    channel: str
    shop: str
    order_id: str
    rule: str
    grade: str
    reason: str
    suggest: str
    state_before: str
    opened_at_ms: int
    rules_version: int
    status: str = "open"          # open, approved, rejected, automatic
    operator: str = ""
    closed_at_ms: int = 0
    note: str = ""

    @property
    def ref(self) -> str:
        return f"{self.channel}/{self.shop}/{self.order_id}"

    def escalated(self, now_ms: int) -> bool:
        return (self.status == "open" and self.grade == "A"
                and now_ms - self.opened_at_ms >= ESCALATE_AFTER_MS)

    def encode(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def decode(cls, raw: str) -> Review:
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class Checked:
    """An order after the interception check."""

    order: Order
    """As it stands now (moved to ON_HOLD when a rule held it)."""
    review: Review | None
    """Its open review, if it has one."""
    held_now: bool = False
    """A rule held it in this check."""

    @property
    def suspected_duplicate(self) -> bool:
        return self.review is not None and self.review.rule == SUSPECTED_DUPLICATE


@dataclass(frozen=True)
class Stats:
    opened: int
    by_person: int
    automatic: int

    @property
    def self_healing_rate(self) -> float:
        closed = self.by_person + self.automatic
        return self.automatic / closed if closed else 0.0


def _day(ms: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime(ms / 1000))


class Interception:
    def __init__(self, store: Store, settings: Settings, hub: OrderHub,
                 clock: Callable[[], int] = clock_.now_ms) -> None:
        self.store = InterceptionStore(store)
        self.stock = store
        self.settings, self.hub, self.clock = settings, hub, clock
        self._cache: RuleSet | None = None

    # -- the rule set -------------------------------------------------------------------
    async def rules(self) -> RuleSet:
        version = await self.store.current_version()
        if self._cache is not None and self._cache.version == version:
            return self._cache
        if version == 0:
            rs = rules_.parse(rules_.DEFAULT_DOCUMENT, 0)
        else:
            record = await self.store.rules_record(version)
            rs = rules_.parse(json.loads(record or "{}").get("document", {}), version)
        self._cache = rs
        return rs

    async def put_rules(self, document: Mapping[str, Any], comment: str = "",
                        expected_version: int = 0, actor: str = "",
                        validate_only: bool = False) -> RuleSet:
        """validate_only: every check, and the version it would get; nothing stored."""
        rules_.parse(document)  # everything checked before anything is written
        if validate_only:
            return rules_.parse(document, await self.store.next_version(expected_version))
        record = json.dumps({"document": document, "comment": comment, "actor": actor,
                             "at_ms": self.clock()}, ensure_ascii=False, sort_keys=True)
        version = await self.store.put_rules(record, expected_version)
        return rules_.parse(document, version)

    async def set_enabled(self, name: str, enabled: bool, actor: str) -> RuleSet:
        """An operator switches one rule (a promotion's) on or off: a new version."""
        current = await self.rules()
        doc = json.loads(json.dumps(dict(current.document) or rules_.DEFAULT_DOCUMENT))
        for rule in doc.get("rules", []):
            if rule.get("name") == name:
                rule["enabled"] = enabled
                break
        else:
            raise NotFound(f"no interception rule named {name!r}")
        return await self.put_rules(doc, f"{'on' if enabled else 'off'}: {name}",
                                    current.version, actor)

    # -- checking orders ----------------------------------------------------------------
    async def review(self, results: Sequence[SyncResult],
                     facts: Mapping[Key, Facts] | None = None) -> dict[Key, Reviewed]:
        """The hub's reviewer (ordersync/results.py): check orders just written (the last
        result of each key counts; refused ones changed nothing): the rules in force may
        hold them, a hold of the hub's own gets its review, and an order that shipped
        past a hold gets its review whatever the rules; a paid order gets its carrier
        from the carrier table. Returns each order as it stands after the check, with
        its open review."""
        rs = await self.rules()
        last = {r.order.key: r for r in results
                if r.order is not None and r.outcome != Outcome.REFUSED}
        out: dict[Key, Reviewed] = {}
        for k, r in last.items():
            c = await self._after(rs, r, (facts or {}).get(k, Facts()))
            out[k] = Reviewed(c.order, c.review.ref if c.review else "", c.held_now,
                              c.suspected_duplicate)
        return out

    async def _after(self, rs: RuleSet, r: SyncResult, facts: Facts) -> Checked:
        order = r.order
        assert order is not None
        if order.intercept_failed:
            review = await self._intercept_failed(rs, order) or await self._open(order)
            return Checked(order, review)
        if order.state in _ENDED_BY_CHANNEL:
            await self._close_automatic(order)
            return Checked(order, None)
        if order.state in _PAST:  # shipped: too late to stop, nothing to choose
            return Checked(order, None)
        by_rule = None
        if rs.rules:
            by_rule, order = await self._check_one(rs, order, facts)
        order = await self._carrier(rs, order, facts)
        if by_rule is not None:
            return Checked(order, by_rule, held_now=True)
        review = await self._hub_hold(rs, order, r.duplicates)
        if review is None and order.state in _PAUSED:
            review = await self._open(order)
        return Checked(order, review)

    async def _carrier(self, rs: RuleSet, order: Order, facts: Facts) -> Order:
        """A paid order's carrier from the table, recorded on the order (its history)
        and sent to the WMS when it changes; held or not, so an approved order ships
        with it. No row serves it: no carrier (a `no_carrier` rule holds such orders)."""
        if not rs.carriers or not order.paid:
            return order
        choice = tables.choose(rs.carriers, order.address.city, facts.weight_g,
                               facts.promised_hours)
        if choice is None or (choice.carrier, choice.cost_cents) == (
                order.carrier, order.carrier_cost_cents):
            return order
        why = (f"carrier table row {choice.row} (rules v{rs.version}): {order.address.city},"
               f" {facts.weight_g} g" + (f", within {facts.promised_hours} h"
                                         if facts.promised_hours else ""))
        done = await self.hub.choose_carrier(*order.key, choice.carrier, choice.cost_cents,
                                             "rule:carriers", why)
        return done.order or order

    async def _open(self, order: Order) -> Review | None:
        raw = await self.store.review("/".join(order.key))
        review = Review.decode(raw) if raw is not None else None
        return review if review is not None and review.status == "open" else None

    async def _close_automatic(self, order: Order) -> None:
        """The channel cancelled or refunded the order while it waited: the cause went
        away without a person (the self-healing rate counts these)."""
        review = await self._open(order)
        if review is None or review.rule == INTERCEPT_FAILED:
            return  # a shipment past a hold is not undone by a refund: a person looks
        now = self.clock()
        closed = replace(review, status="automatic", closed_at_ms=now,
                         note=f"channel moved the order to {order.state}")
        await self.store.close_review(review.ref, closed.encode(), now, self._ttl(),
                                      _day(now), "automatic")

    async def _hub_hold(self, rs: RuleSet, order: Order,
                        duplicates: Sequence[str]) -> Review | None:
        """The hub held the order itself (a suspected duplicate, refused stock, a routing
        rule's review): a review task for it, once. A duplicate's review names the other
        orders, for operators (ListReviews); the order's own record does not."""
        if order.state != S.ON_HOLD or not order.review:
            return None
        note = order.review[-1]
        rule = next((kind for kind in HUB_HOLDS if note.startswith(kind)), None)
        if rule is None:
            return None
        reason = note + (": " + ", ".join(duplicates) if duplicates else "")
        now = self.clock()
        review = Review(order.channel, order.shop, order.order_id, rule, "C", reason, "",
                        str(order.channel_state), now, rs.version)
        if not await self.store.open_review(review.ref, review.encode(), now, self._ttl(),
                                            _day(now)):
            return None  # one open review per order: it has one
        return review

    async def _intercept_failed(self, rs: RuleSet, order: Order) -> Review | None:
        """Once per order: the open review (if the hold had one) becomes this one, as the
        order is no longer where that review could stop it."""
        ref = "/".join(order.key)
        earlier = await self.store.review(ref)
        if earlier is not None and Review.decode(earlier).rule == INTERCEPT_FAILED:
            return None
        now = self.clock()
        review = Review(order.channel, order.shop, order.order_id, INTERCEPT_FAILED, "C",
                        order.review[-1] if order.review else INTERCEPT_FAILED, "",
                        order.intercept_failed, now, rs.version)
        await self.store.open_review(ref, review.encode(), now, self._ttl(), _day(now),
                                     replace=True)
        return review

    async def _subject(self, rs: RuleSet, order: Order, facts: Facts) -> Subject:
        """What the enabled rules need read: today's orders of the phone, a stock
        snapshot of the lines' SKUs and their substitutes (only for an order whose units
        are not held)."""
        enabled = [r for r in rs.rules if r.enabled]
        phones = 0
        if any(r.when.phone_orders_per_day_at_least for r in enabled):
            phones = await self.store.phone_orders(
                _day(order.created_at_ms or self.clock()), order.buyer_hash,
                "/".join(order.key))
        available: dict[str, int] = {}
        if any(r.when.stock_short for r in enabled) and checks.needs_stock(order):
            skus = {ln.sku for ln in order.lines}
            skus |= {s for sku in skus for s in rs.substitutes.get(sku, ())}
            for sku in sorted(skus):
                levels, _ = await self.stock.stock(sku)
                available[sku] = sum(lv.available for lv in levels)
        return Subject(order, facts, phones, available, rs)

    async def _check_one(self, rs: RuleSet, order: Order,
                         facts: Facts) -> tuple[Review | None, Order]:
        """The rules on one order: the review a hit opened (None: none) and the order
        after it (moved to ON_HOLD by the hit)."""
        ref = "/".join(order.key)
        hits = checks.evaluate(await self._subject(rs, order, facts))
        now = self.clock()
        if not hits:
            return None, order
        hit = hits[0]  # the first rule decides, as in routing
        earlier = await self.store.review(ref)
        if earlier is not None:
            last = Review.decode(earlier)
            # Decided by a person already (a repeat sync from the poller's overlap, an
            # approved address): the same rule does not hold the order again.
            if last.status != "open" and last.rule == hit.rule.name:
                return None, order
        review = Review(order.channel, order.shop, order.order_id, hit.rule.name,
                        hit.grade, f"{hit.rule.then.hold} ({hit.detail})",
                        hit.suggestion, str(order.state), now, rs.version)
        if not await self.store.open_review(ref, review.encode(), now, self._ttl(),
                                            _day(now)):
            return None, order  # one open review per order
        if order.state != S.ON_HOLD and S.ON_HOLD in _allowed(order.state):
            moved = await self.hub.transition(*order.key, S.ON_HOLD, f"rule:{hit.rule.name}",
                                              review.reason)
            order = moved.order or order
        # REFUND_REQUESTED is already a pause (no label is printed); the task is the point.
        return review, order

    def _ttl(self) -> int:
        return self.settings.order_retention_ms

    # -- the review queue ---------------------------------------------------------------
    async def list_reviews(self, status: str = "open", limit: int = 100) -> list[Review]:
        if status not in ("open", "closed"):
            raise InvalidArgument("status", "must be open or closed")
        if not 1 <= limit <= 1000:
            raise InvalidArgument("page_size", "must be between 1 and 1000")
        refs = await (self.store.open_refs(limit) if status == "open"
                      else self.store.closed_refs(limit))
        out = []
        for ref in refs:
            raw = await self.store.review(ref)
            if raw is not None:
                out.append(Review.decode(raw))
        return out

    async def resolve(self, channel: str, shop: str, order_id: str, decision: str,
                      operator: str, address: Address | None = None,
                      note: str = "") -> Review:
        if decision not in DECISIONS:
            raise InvalidArgument("decision", f"must be one of {', '.join(DECISIONS)}")
        if not operator.strip():
            raise InvalidArgument("operator", "must name the operator deciding")
        if decision == "edit_address" and address is None:
            raise InvalidArgument("address", "is needed to edit the address")
        ref = f"{channel}/{shop}/{order_id}"
        raw = await self.store.review(ref)
        if raw is None:
            raise NotFound(f"no review for order {ref}")
        review = Review.decode(raw)
        if review.status != "open":
            raise FailedPrecondition(f"the review of {ref} was closed ({review.status})")
        actor = f"operator:{operator.strip()}"
        if decision == "edit_address":
            assert address is not None
            await self.hub.update_address(channel, shop, order_id, address, actor,
                                          note or "address confirmed in review")
        order = await self.hub.get(channel, shop, order_id)
        target = self._target(order, review, decision)
        if target is not None:
            await self.hub.transition(channel, shop, order_id, target, actor,
                                      f"review {decision}: {review.rule}"
                                      + (f" ({note})" if note else ""))
        now = self.clock()
        closed = replace(review, status="rejected" if decision == "reject" else "approved",
                         operator=operator.strip(), closed_at_ms=now, note=note)
        if not await self.store.close_review(ref, closed.encode(), now, self._ttl(),
                                             _day(now), "by_person"):
            raise FailedPrecondition(f"the review of {ref} was closed meanwhile")
        return closed

    @staticmethod
    def _target(order: Order, review: Review, decision: str) -> OrderState | None:
        state = order.state
        if decision == "reject":
            return S.REFUNDED if state == S.REFUND_REQUESTED else (
                S.CANCELLED if S.CANCELLED in _allowed(state) else None)
        if state == S.REFUND_REQUESTED:  # refund refused: the order goes on
            return S.ROUTED if order.paid else None
        if state != S.ON_HOLD:
            return None
        # Back on the main line as the order stands now (it may have been paid while
        # it waited): routed again if paid, else waiting for payment.
        return S.ROUTED if order.paid else S.PENDING_PAYMENT

    async def stats(self, day: str = "") -> Stats:
        raw = await self.store.stats(day or _day(self.clock()))
        return Stats(raw.get("opened", 0), raw.get("by_person", 0), raw.get("automatic", 0))


def _allowed(state: OrderState) -> Sequence[OrderState]:
    from reservation.ordersync.states import TRANSITIONS
    return TRANSITIONS[state]

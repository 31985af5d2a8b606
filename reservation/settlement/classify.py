"""One order's statement lines against the hub's order: matched, or the differences they
make (no I/O: the run reads the lines and the hub, and hands them here).

The rules, as finance states them:
- a line naming no order (no order number, hub id or tracking number) that is a fee or
  an adjustment is a platform fee or deduction; one that pays goods is missing in hub;
- an order number the hub does not know: a re-order if the line's tracking number is a
  hub order's shipment, else missing in hub;
- the hub's order, paid for goods: if the hub has not seen it shipped, a system delay
  (a re-order if the line's tracking number shipped another hub order); else the goods
  less the shop's discount must be what the hub has the buyer paying (amount mismatch);
- refunded by the channel, not in the hub: refund not synced.
Fees and subsidies on an order's lines are its split, not differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reservation.settlement import classes as k
from reservation.settlement.hub import HubOrder
from reservation.settlement.lines import ADJUSTMENT, FEE, REFUND, SALE, SettlementLine

ORDER, REF, TRACKING, LINE = "order", "ref", "tracking", "line"
"""What a group's key is: the channel's order number, the hub's id, a tracking number,
or (naming nothing) the line itself (file#line)."""


@dataclass(frozen=True)
class Group:
    channel: str
    shop: str
    settle_day: str
    order_key: str
    key_kind: str
    lines: Sequence[SettlementLine]

    @property
    def hub_ref(self) -> str:
        """The hub's id the lines name, if any."""
        return next((line.hub_ref for line in self.lines if line.hub_ref), "")

    @property
    def tracking_numbers(self) -> list[str]:
        return sorted({line.tracking_number for line in self.lines if line.tracking_number})

    def total(self, kinds: Sequence[str], *parts: str) -> int:
        return sum(getattr(line, part) for line in self.lines if line.kind in kinds
                   for part in parts)

    @property
    def payout(self) -> int:
        return sum(line.payout_cents for line in self.lines)


@dataclass(frozen=True)
class Found:
    cls: str
    channel: str
    shop: str
    order_key: str
    hub_ref: str
    settle_day: str
    hub_cents: int
    settled_cents: int
    detail: str

    @property
    def diff_id(self) -> str:
        return f"{self.channel}:{self.shop}/{self.order_key}#{self.cls}"


def _found(group: Group, cls: str, hub_ref: str, hub_cents: int, settled: int,
           detail: str) -> Found:
    return Found(cls, group.channel, group.shop, group.order_key, hub_ref, group.settle_day,
                 hub_cents, settled, detail)


def classify(group: Group, hub: HubOrder | None, shipped_by: HubOrder | None) -> list[Found]:
    """The differences of one group ([]: matched). `hub`: its order in the hub;
    `shipped_by`: the hub order whose shipment has the group's tracking number."""
    if hub is None:
        return [_unmatched(group, shipped_by)]
    found = []
    if any(line.kind == SALE for line in group.lines):
        found += _sale(group, hub, shipped_by)
    refunded = group.total((REFUND,), "refund_cents")
    if refunded and not hub.refunded:
        found.append(_found(group, k.REFUND_NOT_SYNCED, hub.ref, 0, refunded,
                            f"the channel refunded {refunded} cents; the hub has the order "
                            f"{hub.state}"))
    return found


def _unmatched(group: Group, shipped_by: HubOrder | None) -> Found:
    if shipped_by is not None:
        return _found(group, k.MANUAL_REORDER, shipped_by.ref, shipped_by.paid_cents,
                      group.payout, f"paid for {group.order_key or 'no order number'}; "
                      f"shipped as {shipped_by.ref}")
    if group.key_kind == LINE and all(x.kind in (FEE, ADJUSTMENT) for x in group.lines):
        return _found(group, k.PLATFORM_FEE, "", 0, group.payout,
                      "a fee or deduction not tied to an order")
    return _found(group, k.MISSING_IN_HUB, group.hub_ref, 0, group.payout,
                  f"the hub has no order {group.order_key}")


def _sale(group: Group, hub: HubOrder, shipped_by: HubOrder | None) -> list[Found]:
    settled = (group.total((SALE,), "goods_cents")
               - group.total((SALE,), "discount_cents"))
    if not hub.shipped:
        if shipped_by is not None and shipped_by.ref != hub.ref:
            return [_found(group, k.MANUAL_REORDER, shipped_by.ref, hub.paid_cents, settled,
                           f"paid for {hub.ref}; shipped as {shipped_by.ref}")]
        return [_found(group, k.SYSTEM_DELAY, hub.ref, hub.paid_cents, settled,
                       f"paid by the channel; the hub has it {hub.state}")]
    if settled != hub.paid_cents:
        return [_found(group, k.AMOUNT_MISMATCH, hub.ref, hub.paid_cents, settled,
                       f"settled {settled} cents for goods; the hub has {hub.paid_cents} "
                       "paid")]
    return []

"""After-sales reasons as data, and the report the supply chain acts on.

Free-text return reasons ("不喜欢", don't like it) hide what can be fixed: seed 001's
seller found 19% of 2,100 returns a month were colour deviation from one paint batch.
A structured reason is two levels: level 1 is quality, logistics, not as described or
other; level 2 a fixed list under each (TAXONOMY). Service staff (or an adapter, from
the channel's refund reason code) set it per returned SKU, with the goods' batch when
known; it is kept on the order and in its history in the caller's name. The report
groups the reasons set in a period by SKU, batch and reason.

A reason mapped from the channel's refund reason code (an adapter's, `channel_reason`
set) never replaces one service staff set: the people who talked to the buyer or saw
the goods know better than the button the buyer pressed. Staff's replaces any.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reservation.errors import FailedPrecondition, InvalidArgument
from reservation.ordersync import events as ev
from reservation.ordersync import listing
from reservation.ordersync.effects import HoldWant
from reservation.ordersync.model import Order
from reservation.ordersync.plan import Outcome, Plan

TAXONOMY: dict[str, tuple[str, ...]] = {
    "quality": ("colour_deviation", "defect", "damaged_material", "size_wrong",
                "functional_failure", "short_lifetime"),
    "logistics": ("damaged_in_transit", "late_delivery", "lost_parcel", "wrong_item_sent",
                  "missing_parts"),
    "not_as_described": ("colour_differs_from_photo", "size_differs_from_listing",
                         "material_differs", "function_differs"),
    "other": ("changed_mind", "ordered_by_mistake", "better_price_elsewhere", "no_reason"),
}
"""Level 1 -> its level-2 reasons (ids; the docs give each its words)."""

GROUPS = ("sku", "batch", "level1", "level2")
PERIOD_MAX_DAYS = 92


def check_reason(level1: str, level2: str) -> None:
    if level1 not in TAXONOMY:
        raise InvalidArgument("level1", f"unknown reason {level1!r} (one of "
                                        f"{', '.join(TAXONOMY)})")
    if level2 not in TAXONOMY[level1]:
        raise InvalidArgument("level2", f"{level2!r} is not a reason under {level1} (one "
                                        f"of {', '.join(TAXONOMY[level1])})")


def check_groups(group_by: Sequence[str]) -> tuple[str, ...]:
    for i, g in enumerate(group_by):
        if g not in GROUPS:
            raise InvalidArgument(f"group_by[{i}]", f"unknown {g!r} (one of "
                                                    f"{', '.join(GROUPS)})")
    return tuple(g for g in GROUPS if g in group_by) or GROUPS


@dataclass(frozen=True)
class Reason:
    sku: str
    batch: str
    level1: str
    level2: str
    note: str = ""
    channel_reason: str = ""
    """The channel's refund reason code it was mapped from; empty: set by staff."""


def set_reason(current: Order, r: Reason, actor: str, now: int) -> Plan | Outcome:
    """The reason on the order (per SKU, the newest kept) and in its history."""
    if r.sku not in {ln.sku for ln in current.lines}:
        raise InvalidArgument("sku", f"{r.sku!r} is not a line of the order")
    if not current.paid:
        raise FailedPrecondition(f"the order was never paid ({current.state}): no "
                                 "after-sales to explain")
    before = current.after_sales.get(r.sku)
    if r.channel_reason and before is not None and not before.get("channel_reason"):
        raise FailedPrecondition(f"the reason of {r.sku} was set by {before['actor']} "
                                 "(service staff): a channel's reason does not replace it")
    kept = {"level1": r.level1, "level2": r.level2, "batch": r.batch,
            "channel_reason": r.channel_reason}
    if before is not None and {k: before.get(k, "") for k in kept} == kept:
        return Outcome.UNCHANGED
    after = {**kept, "at_ms": now, "actor": actor}
    order = current.copy(version=current.version + 1, updated_at_ms=now,
                         after_sales={**current.after_sales, r.sku: after})
    ctx = ev.Context(order.channel, order.shop, order.order_id, order.version, now, actor,
                     r.note)
    return Plan(order, [ev.updated(ctx, {f"after_sales.{r.sku}": (before, after)})],
                HoldWant.KEEP, current.version, Outcome.UPDATED)


@dataclass(frozen=True)
class ReportRow:
    sku: str
    batch: str
    level1: str
    level2: str
    orders: int
    units: int


def report(orders: Iterable[Order], low_ms: int, high_ms: int,
           groups: tuple[str, ...]) -> list[ReportRow]:
    """Reasons set in [low, high) grouped by `groups` (the others left empty), most
    orders first."""
    counted: Counter[tuple[str, str, str, str]] = Counter()
    units: Counter[tuple[str, str, str, str]] = Counter()
    for o in orders:
        for sku, r in o.after_sales.items():
            if not low_ms <= r["at_ms"] < high_ms:
                continue
            full = {"sku": sku, "batch": r["batch"], "level1": r["level1"],
                    "level2": r["level2"]}
            k = tuple(full[g] if g in groups else "" for g in GROUPS)
            key = (k[0], k[1], k[2], k[3])
            counted[key] += 1
            units[key] += sum(ln.quantity for ln in o.lines if ln.sku == sku)
    return [ReportRow(*key, orders=n, units=units[key])
            for key, n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))]


DAY_MS = 24 * 3600 * 1000
LOOKBACK_MS = 90 * DAY_MS
"""Orders created this long before the period may have their reason set in it."""


async def report_over(lister: listing.Lister, channel: str, low_ms: int, high_ms: int,
                      groups: tuple[str, ...]) -> tuple[list[ReportRow], int]:
    """The report over every order that may have a reason set in [low, high) (created
    up to LOOKBACK_MS before it), from wherever the lister reads; and how many orders
    it read."""
    orders = await listing.every_order(lister, channel, low_ms - LOOKBACK_MS, high_ms)
    return report(orders, low_ms, high_ms, groups), len(orders)

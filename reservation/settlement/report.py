"""A settlement day as finance reads it: per channel and shop, what was settled, split
into goods, discount, fee, subsidy, refund and payout; per order the same split and the
difference it has, if any; the differences by class. Read from the records store,
streamed (the orders of a day are never all in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, select

from reservation.records.schema import settlement_differences as d
from reservation.records.schema import settlement_lines as sl
from reservation.settlement.run import KEY

PARTS = ("goods_cents", "discount_cents", "fee_cents", "subsidy_cents", "refund_cents",
         "payout_cents")


@dataclass(frozen=True)
class Split:
    """One order's (or one line's, when it names no order) money on the day."""

    channel: str
    shop: str
    order_key: str
    goods_cents: int
    discount_cents: int
    fee_cents: int
    subsidy_cents: int
    refund_cents: int
    payout_cents: int
    lines: int
    difference: str
    """The class of its open difference ('' when matched; the first one when several)."""
    hub_ref: str


@dataclass(frozen=True)
class ChannelTotal:
    channel: str
    shop: str
    lines: int
    goods_cents: int
    discount_cents: int
    fee_cents: int
    subsidy_cents: int
    refund_cents: int
    payout_cents: int


@dataclass(frozen=True)
class DayReport:
    day: str
    channels: list[ChannelTotal]
    open_by_class: dict[str, int]
    """Open differences of every day, by class (what is still to do)."""
    found_today: dict[str, int]
    """Differences first found on this day, by class (open, closed or resolved)."""


def totals(c: Connection, day: str, channel: str = "") -> list[ChannelTotal]:
    where = [sl.c.settle_day == day] + ([sl.c.channel == channel] if channel else [])
    q = (select(sl.c.channel, sl.c.shop, func.count(),
                *(func.coalesce(func.sum(sl.c[p]), 0) for p in PARTS))
         .where(*where).group_by(sl.c.channel, sl.c.shop).order_by(sl.c.channel, sl.c.shop))
    return [ChannelTotal(r[0], r[1], int(r[2]), *(int(x) for x in r[3:]))  # type: ignore[arg-type]
            for r in c.execute(q)]


def _counts(c: Connection, *where: object) -> dict[str, int]:
    q = select(d.c["class"], func.count()).where(*where).group_by(d.c["class"])  # type: ignore[arg-type]
    return {cls: int(n) for cls, n in c.execute(q)}


def day_report(c: Connection, day: str, channel: str = "") -> DayReport:
    scope = [d.c.channel == channel] if channel else []
    return DayReport(day, totals(c, day, channel),
                     _counts(c, d.c.state == "OPEN", *scope),
                     _counts(c, d.c.settle_day == day, *scope))


def splits(c: Connection, day: str) -> Iterator[Split]:
    """Every order of the day with its split and its open difference, by channel."""
    key = KEY.label("key")
    grouped = (select(sl.c.channel, sl.c.shop, key, func.count().label("n"),
                      *(func.sum(sl.c[p]).label(p) for p in PARTS))
               .where(sl.c.settle_day == day)
               .group_by(sl.c.channel, sl.c.shop, key).subquery())
    open_ = (select(d.c.channel, d.c.shop, d.c.order_key, func.min(d.c["class"]).label("cls"),
                    func.max(d.c.hub_ref).label("hub_ref"))
             .where(d.c.state == "OPEN").group_by(d.c.channel, d.c.shop, d.c.order_key)
             .subquery())
    q = (select(grouped, open_.c.cls, open_.c.hub_ref)
         .outerjoin(open_, and_(open_.c.channel == grouped.c.channel,
                                open_.c.shop == grouped.c.shop,
                                open_.c.order_key == grouped.c.key))
         .order_by(grouped.c.channel, grouped.c.shop, grouped.c.key)
         .execution_options(yield_per=1000))
    for r in c.execute(q):
        m = r._mapping
        yield Split(r.channel, r.shop, r.key, goods_cents=int(m["goods_cents"]),
                    discount_cents=int(m["discount_cents"]), fee_cents=int(m["fee_cents"]),
                    subsidy_cents=int(m["subsidy_cents"]),
                    refund_cents=int(m["refund_cents"]), payout_cents=int(m["payout_cents"]),
                    lines=int(r.n), difference=r.cls or "", hub_ref=r.hub_ref or "")

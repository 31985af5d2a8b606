"""A reconciliation run for one settlement day, in one transaction: every statement
line of the day grouped by order and matched to the hub's order, or filed as a
difference of its class; every open difference checked again (its lines, whatever
their day, and the hub's side), and closed when no longer found.

Lines are read in order of their group, streamed, and matched a batch of groups at a
time (one query for the batch's orders, one for its tracking numbers), so a day of any
size runs in bounded memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import Connection, Engine, String, case, cast, select, text

from reservation import clock
from reservation.errors import InvalidArgument
from reservation.records.schema import settlement_differences as d
from reservation.records.schema import settlement_lines as sl
from reservation.settlement import classes as k
from reservation.settlement import hub, hubside
from reservation.settlement.classify import LINE, ORDER, REF, TRACKING, Found, Group, classify
from reservation.settlement.differences import OPEN, apply
from reservation.settlement.lines import CST, DAY, SettlementLine
from reservation.storage.orders import order_ref

DEFAULT_UNSETTLED_DAYS = 7
"""N: a shipped order with no payout this many days on is SHIPPED_UNSETTLED; a refund in
the hub no statement took back this many days on is MISSING_AT_CHANNEL."""
LOOKBACK_DAYS = 90
"""How far back the hub's side is looked at (orders before it are history)."""
BATCH = 500
LINE_CLASSES = (k.SYSTEM_DELAY, k.MANUAL_REORDER, k.PLATFORM_FEE, k.REFUND_NOT_SYNCED,
                k.AMOUNT_MISMATCH, k.MISSING_IN_HUB)
RUN_LOCK = 7_263_052
"""PostgreSQL advisory lock held by a run: two runs at once take turns."""

# A line's group: its order number, else the hub's id, else its tracking number, else
# the line itself.
KEY = case((sl.c.channel_order_id != "", sl.c.channel_order_id),
           (sl.c.hub_ref != "", sl.c.hub_ref),
           (sl.c.tracking_number != "", sl.c.tracking_number),
           else_=sl.c.file_id + "#" + cast(sl.c.line_no, String))


@dataclass(frozen=True)
class RunResult:
    day: str
    groups: int
    """Orders (and lines naming none) checked, the day's and the open differences'."""
    matched: int
    found: int
    """Differences found by this run (new, still open, or reopened)."""
    opened: int
    closed: int


def day_start_ms(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), time(), CST).timestamp() * 1000)


def run(engine: Engine, day: str, unsettled_days: int = DEFAULT_UNSETTLED_DAYS,
        now_ms: int | None = None) -> RunResult:
    if not DAY.match(day):
        raise InvalidArgument("day", f"{day!r} is not YYYY-MM-DD")
    if unsettled_days < 1:
        raise InvalidArgument("unsettled_days", "at least 1")
    now = clock.now_ms() if now_ms is None else now_ms
    with engine.begin() as c:
        if c.dialect.name == "postgresql":
            c.execute(text(f"SELECT pg_advisory_xact_lock({RUN_LOCK})"))
        found: dict[str, Found] = {}
        groups = matched = 0
        for batch in _batched(itertools.chain(_day_groups(c, day), _rechecks(c, day))):
            for differences in _match(c, batch):
                groups += 1
                matched += not differences
                found.update((f.diff_id, f) for f in differences)
        cutoff = day_start_ms(day) - (unsettled_days - 1) * 86_400_000 - 1
        floor = day_start_ms(day) - LOOKBACK_DAYS * 86_400_000
        for f in itertools.chain(hubside.unsettled(c, day, floor, cutoff),
                                 hubside.missing_at_channel(c, day, floor, cutoff)):
            found[f.diff_id] = f
        opened, closed = apply(c, found, day, now)
    return RunResult(day, groups, matched, len(found), opened, closed)


def _line(r: object) -> SettlementLine:
    return SettlementLine(
        line_no=r.line_no, kind=r.kind, channel_order_id=r.channel_order_id,  # type: ignore[attr-defined]
        hub_ref=r.hub_ref, tracking_number=r.tracking_number,  # type: ignore[attr-defined]
        goods_cents=r.goods_cents, discount_cents=r.discount_cents,  # type: ignore[attr-defined]
        fee_cents=r.fee_cents, subsidy_cents=r.subsidy_cents,  # type: ignore[attr-defined]
        refund_cents=r.refund_cents, payout_cents=r.payout_cents)  # type: ignore[attr-defined]


def _key_kind(line: SettlementLine) -> str:
    if line.channel_order_id:
        return ORDER
    if line.hub_ref:
        return REF
    return TRACKING if line.tracking_number else LINE


def _groups(c: Connection, where: Sequence[object]) -> Iterator[Group]:
    q = (select(sl, KEY.label("key")).where(*where)  # type: ignore[arg-type]
         .order_by(sl.c.settle_day, sl.c.channel, sl.c.shop, KEY, sl.c.file_id, sl.c.line_no)
         .execution_options(yield_per=BATCH))
    rows = c.execute(q)
    for (day, channel, shop, key), members in itertools.groupby(
            rows, lambda r: (r.settle_day, r.channel, r.shop, r.key)):
        lines = [_line(r) for r in members]
        yield Group(channel, shop, day, key, _key_kind(lines[0]), lines)


def _day_groups(c: Connection, day: str) -> Iterator[Group]:
    return _groups(c, [sl.c.settle_day == day])


def _rechecks(c: Connection, day: str) -> Iterator[Group]:
    """The groups of the open differences of other days (their lines as they are now)."""
    open_ = c.execute(select(d.c.settle_day, d.c.channel, d.c.shop, d.c.order_key)
                      .where(d.c.state == OPEN, d.c.settle_day != day,
                             d.c["class"].in_(LINE_CLASSES))).all()
    wanted = {(r.settle_day, r.channel, r.shop, r.order_key) for r in open_}
    for other_day in sorted({w[0] for w in wanted}):
        keys = sorted({w[3] for w in wanted if w[0] == other_day})
        for i in range(0, len(keys), BATCH):
            for group in _groups(c, [sl.c.settle_day == other_day,
                                     KEY.in_(keys[i:i + BATCH])]):
                if (group.settle_day, group.channel, group.shop, group.order_key) in wanted:
                    yield group


def _batched(groups: Iterable[Group]) -> Iterator[list[Group]]:
    it = iter(groups)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def _ref(group: Group) -> str | None:
    if group.hub_ref:
        return group.hub_ref
    if group.key_kind == ORDER:
        return order_ref(group.channel, group.shop, group.order_key)
    return None


def _match(c: Connection, batch: list[Group]) -> Iterator[list[Found]]:
    refs = {ref for g in batch if (ref := _ref(g))}
    shipped_as = hub.by_tracking(c, {n for g in batch for n in g.tracking_numbers})
    orders = hub.read(c, refs | set(shipped_as.values()))
    for group in batch:
        ref = _ref(group)
        by_number = next((orders.get(shipped_as[n]) for n in group.tracking_numbers
                          if n in shipped_as), None)
        yield classify(group, orders.get(ref) if ref else None, by_number)

"""The differences reconciliation files, kept in the records store: one row per order
(or line) and class, OPEN until a run no longer finds it (CLOSED, by 'run') or a person
resolves it (RESOLVED, by who and why). A run's findings are applied here: new ones
opened, the ones still there brought up to date, a closed one found again reopened, a
resolved one left as the person left it, and every open one not found closed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert, select, update

from reservation.errors import FailedPrecondition, InvalidArgument, NotFound
from reservation.records.schema import settlement_differences as d
from reservation.settlement.classes import CLASSES
from reservation.settlement.classify import Found

OPEN, CLOSED, RESOLVED = "OPEN", "CLOSED", "RESOLVED"
CHUNK = 500


def _states(c: Connection, ids: list[str]) -> dict[str, str]:
    states = {r.diff_id: r.state for r in c.execute(
        select(d.c.diff_id, d.c.state).where(d.c.state == OPEN))}
    for i in range(0, len(ids), CHUNK):
        states.update((r.diff_id, r.state) for r in c.execute(
            select(d.c.diff_id, d.c.state).where(d.c.diff_id.in_(ids[i:i + CHUNK]))))
    return states


def _row(f: Found, day: str, now: int) -> dict[str, object]:
    return {"diff_id": f.diff_id, "channel": f.channel, "shop": f.shop,
            "order_key": f.order_key, "hub_ref": f.hub_ref, "class": f.cls,
            "settle_day": f.settle_day, "hub_cents": f.hub_cents,
            "settled_cents": f.settled_cents, "detail": f.detail, "state": OPEN,
            "opened_at_ms": now, "checked_day": day, "closed_at_ms": None, "closed_by": "",
            "reason": ""}


def apply(c: Connection, found: Mapping[str, Found], day: str, now: int) -> tuple[int, int]:
    """(opened, closed) by this run's findings."""
    states = _states(c, list(found))
    new = [_row(f, day, now) for i, f in found.items() if i not in states]
    again = [_row(f, day, now) for i, f in found.items() if states.get(i) == CLOSED]
    still = [{"id": i, "hub_ref": f.hub_ref, "hub_cents": f.hub_cents,
              "settled_cents": f.settled_cents, "detail": f.detail, "checked_day": day}
             for i, f in found.items() if states.get(i) == OPEN]
    gone = [{"id": i, "reason": f"not found by the run of {day}"}
            for i, state in states.items() if state == OPEN and i not in found]
    if new:
        c.execute(insert(d), new)
    if again:
        c.execute(update(d).where(d.c.diff_id == bindparam("id")),
                  [{**{k: v for k, v in r.items() if k != "diff_id"}, "id": r["diff_id"]}
                   for r in again])
    if still:
        c.execute(update(d).where(d.c.diff_id == bindparam("id"))
                  .values(hub_ref=bindparam("hub_ref"), hub_cents=bindparam("hub_cents"),
                          settled_cents=bindparam("settled_cents"),
                          detail=bindparam("detail"), checked_day=bindparam("checked_day")),
                  still)
    if gone:
        c.execute(update(d).where(d.c.diff_id == bindparam("id"))
                  .values(state=CLOSED, closed_at_ms=now, closed_by="run",
                          reason=bindparam("reason")), gone)
    return len(new) + len(again), len(gone)


@dataclass(frozen=True)
class Difference:
    diff_id: str
    channel: str
    shop: str
    order_key: str
    hub_ref: str
    cls: str
    settle_day: str
    hub_cents: int
    settled_cents: int
    detail: str
    state: str
    opened_at_ms: int
    checked_day: str
    closed_at_ms: int | None
    closed_by: str
    reason: str


def _difference(r: object) -> Difference:
    m = r._mapping  # type: ignore[attr-defined]
    return Difference(**{("cls" if k == "class" else k): m[k] for k in m})


def get(c: Connection, diff_id: str) -> Difference:
    row = c.execute(select(d).where(d.c.diff_id == diff_id)).first()
    if row is None:
        raise NotFound(f"no settlement difference {diff_id!r}")
    return _difference(row)


def resolve(c: Connection, diff_id: str, who: str, why: str, now: int) -> Difference:
    """A person's decision on an open difference: RESOLVED, by whom and why."""
    if not why.strip():
        raise InvalidArgument("reason", "say why (it is kept with the difference)")
    current = get(c, diff_id)
    if current.state != OPEN:
        raise FailedPrecondition(f"difference {diff_id!r} is {current.state}, not OPEN")
    c.execute(update(d).where(d.c.diff_id == diff_id, d.c.state == OPEN)
              .values(state=RESOLVED, closed_at_ms=now, closed_by=who, reason=why))
    return get(c, diff_id)


def class_names() -> list[str]:
    return sorted(CLASSES)


@dataclass(frozen=True)
class Filter:
    """Which differences (empty: any). `day`: the day they were first found."""

    channel: str = ""
    day: str = ""
    cls: str = ""
    state: str = ""


def page(c: Connection, where: Filter, after: str = "", limit: int = 100) -> list[Difference]:
    """Differences matching `where`, by id, after the id `after` (keyset paging)."""
    if where.cls and where.cls not in CLASSES:
        raise InvalidArgument("difference_class", f"{where.cls!r} is not one of "
                                                  f"{class_names()}")
    if where.state and where.state not in (OPEN, CLOSED, RESOLVED):
        raise InvalidArgument("state", "OPEN, CLOSED or RESOLVED")
    q = select(d).where(d.c.diff_id > after).order_by(d.c.diff_id).limit(limit)
    for column, value in ((d.c.channel, where.channel), (d.c.settle_day, where.day),
                          (d.c["class"], where.cls), (d.c.state, where.state)):
        if value:
            q = q.where(column == value)
    return [_difference(r) for r in c.execute(q)]

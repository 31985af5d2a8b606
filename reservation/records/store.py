"""The records store's SQL: apply a run of stream entries with their orders' rows and
the shard's cursor in one transaction, and read orders and their events back.

Plain (blocking) SQLAlchemy Core: the follower and the reads call it in a thread
(asyncio.to_thread), so the event loop never waits on the database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    String,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, IntegrityError

from reservation import clock
from reservation.ordersync import finding
from reservation.ordersync.events import OrderEvent
from reservation.ordersync.model import Order
from reservation.records import rows
from reservation.records.schema import (
    cursors,
    order_events,
    order_lines,
    order_warehouses,
    orders,
    routing,
    shipments,
)

START = "0-0"
"""The cursor of a shard nothing was applied from yet."""


@dataclass(frozen=True)
class TrailEvent:
    """One audit event as its shard's stream carried it."""

    event_id: str
    """<shard>-<entry id> of its first entry (a replayed copy keeps it: kept once)."""
    shard: int
    entry_id: str
    ref: str
    event: OrderEvent
    payload: str


@dataclass(frozen=True)
class Filter:
    """What ListOrders asks for (empty: any); created times inclusive."""

    channel: str = ""
    state: str = ""
    warehouse: str = ""
    created_from_ms: int = 0
    created_to_ms: int = 2**53


class _Moved(Exception):
    """Another follower moved the cursor first: roll back."""


def _among(c: Connection, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """column IN values. PostgreSQL gets the values as ONE array parameter (= ANY): a
    pass's IN list of thousands of parameters cost the follower more Python (expanding,
    then psycopg splitting the long SQL) than the rows it writes. SQLite has no arrays."""
    if c.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(values)


def _insert(c: Connection, table: Table, values: Sequence[Mapping[str, Any]]) -> None:
    """Insert the rows (each with the same keys). PostgreSQL takes them by COPY, in the
    transaction like any statement: an executemany runs one INSERT per row in the
    server, which the follower waited on for most of its SQL time."""
    if not values:
        return
    if c.dialect.name != "postgresql":
        c.execute(insert(table), list(values))
        return
    cols = list(values[0])
    quote = c.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(map(quote, cols))}) FROM STDIN"
    driver = c.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cur, cur.copy(sql) as copy:
            for row in values:
                copy.write_row([row[k] for k in cols])
    except c.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy's own statements raise
        raise DBAPIError.instance(sql, None, exc, c.dialect.loaded_dbapi.Error) from exc


class Records:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- the follower's side ------------------------------------------------------------
    def cursor(self, shard: int) -> str:
        with self.engine.connect() as c:
            found = c.execute(select(cursors.c.last_entry_id)
                              .where(cursors.c.shard == shard)).scalar_one_or_none()
        return found or START

    def cursors(self) -> dict[int, str]:
        """Every shard's cursor that has one."""
        with self.engine.connect() as c:
            return {r.shard: r.last_entry_id for r in c.execute(
                select(cursors.c.shard, cursors.c.last_entry_id))}

    def apply(self, shard: int, expected: str, last: str, events: Sequence[TrailEvent],
              current: dict[str, Order | None]) -> bool:
        """apply_many for one shard."""
        return self.apply_many({shard: (expected, last)}, events, current)

    def apply_many(self, moves: Mapping[int, tuple[str, str]], events: Sequence[TrailEvent],
                   current: Mapping[str, Order | None],
                   docs: Mapping[str, str] | None = None) -> bool:
        """Store the events (each once), the current rows of their orders (`current`:
        ref -> the order as the hub has it now; None: no longer in Redis) and each
        shard's cursor (`moves`: shard -> (expected, last)), in one transaction, if every
        cursor is still the one expected. False: another follower moved one first
        (nothing was written). `docs`: ref -> the order's document as Redis keeps it,
        stored as it is (rows.order_row); an order without one is encoded."""
        try:
            with self.engine.begin() as c:
                # Shards in order: two followers at once lock the cursor rows alike, so
                # the later one waits, then finds the cursor moved (no deadlock).
                for shard in sorted(moves):
                    if not self._move_cursor(c, shard, *moves[shard]):
                        raise _Moved
                self._put_orders(c, current, self._add_events(c, events), docs or {})
        except (_Moved, IntegrityError):  # IntegrityError: two first cursor rows at once
            return False
        return True

    @staticmethod
    def _move_cursor(c: Connection, shard: int, expected: str, last: str) -> bool:
        now = clock.now_ms()
        if expected == START:
            known = c.execute(select(cursors.c.last_entry_id)
                              .where(cursors.c.shard == shard)).scalar_one_or_none()
            if known is None:
                c.execute(insert(cursors).values(shard=shard, last_entry_id=last,
                                                  updated_at_ms=now))
                return True
        moved = c.execute(update(cursors)
                          .where(cursors.c.shard == shard, cursors.c.last_entry_id == expected)
                          .values(last_entry_id=last, updated_at_ms=now))
        return moved.rowcount == 1

    @staticmethod
    def _add_events(c: Connection, events: Sequence[TrailEvent]) -> Counter[str]:
        """Insert the events not stored yet; how many per order."""
        if not events:
            return Counter()
        ids = [e.event_id for e in events]
        have = set(c.execute(select(order_events.c.event_id)
                             .where(_among(c, order_events.c.event_id, ids))).scalars())
        new: list[dict[str, Any]] = []
        added: Counter[str] = Counter()
        for e in events:
            if e.event_id in have:
                continue
            have.add(e.event_id)
            added[e.ref] += 1
            ms, _, seq = e.entry_id.partition("-")
            ev = e.event
            new.append({"event_id": e.event_id, "shard": e.shard, "entry_ms": int(ms),
                        "entry_seq": int(seq), "ref": e.ref, "type": ev.type.value,
                        "version": ev.version, "at_ms": ev.at_ms, "actor": ev.actor,
                        "from_state": ev.from_state, "to_state": ev.to_state,
                        "payload": e.payload})
        _insert(c, order_events, new)
        return added

    @staticmethod
    def _put_orders(c: Connection, current: Mapping[str, Order | None],
                    added: Mapping[str, int], docs: Mapping[str, str]) -> None:
        """Each order's rows as of its `current` order (None: only its event count),
        unless the store has a newer version: a few statements for the whole batch,
        not a few per order. `added`: the events just stored, per order."""
        if not current:
            return
        refs = list(current)
        had: dict[str, int] = {}
        events = dict.fromkeys(refs, 0)
        for r in c.execute(select(orders.c.ref, orders.c.version, orders.c.events)
                           .where(_among(c, orders.c.ref, refs))):
            had[r.ref] = r.version
            # A row's count is its events in the store (every write keeps it so): add
            # the new ones rather than count them all again.
            events[r.ref] = r.events + added.get(r.ref, 0)
        unseen = [ref for ref in refs if ref not in had]
        if unseen:  # events may have come before the order's row (no order in Redis)
            events.update((r.ref, int(r.n)) for r in c.execute(
                select(order_events.c.ref, func.count().label("n"))
                .where(_among(c, order_events.c.ref, unseen)).group_by(order_events.c.ref)))
        fresh: list[tuple[str, Order]] = []
        counted = []
        for ref, order in current.items():
            if order is None or (ref in had and had[ref] > order.version):
                if ref in had:
                    counted.append({"r": ref, "n": events[ref]})
            else:
                fresh.append((ref, order))
        if counted:
            c.execute(update(orders).where(orders.c.ref == bindparam("r"))
                      .values(events=bindparam("n")), counted)
        if not fresh:
            return
        replaced = [ref for ref, _ in fresh if ref in had]
        if replaced:
            for table in (order_lines, shipments, routing, order_warehouses, orders):
                c.execute(delete(table).where(_among(c, table.c.ref, replaced)))
        _insert(c, orders, [rows.order_row(ref, o, events[ref], docs.get(ref))
                             for ref, o in fresh])
        for table, of in ((order_lines, rows.line_rows), (shipments, rows.shipment_rows),
                          (order_warehouses, rows.warehouse_rows)):
            _insert(c, table, [row for ref, o in fresh for row in of(ref, o)])
        _insert(c, routing, [rows.routing_row(ref, o) for ref, o in fresh])

    # -- reads --------------------------------------------------------------------------
    def get(self, ref: str) -> tuple[Order, int] | None:
        """The order as last applied, and how many of its events the store has."""
        with self.engine.connect() as c:
            row = c.execute(select(orders.c.doc, orders.c.warehouses,
                                   orders.c.reservation_state, orders.c.events)
                            .where(orders.c.ref == ref)).one_or_none()
        if row is None:
            return None
        return rows.order_of(row.doc, row.warehouses, row.reservation_state), row.events

    def history(self, ref: str, offset: int, count: int) -> list[str]:
        """The order's events as the stream carried them, oldest first."""
        with self.engine.connect() as c:
            return list(c.execute(
                select(order_events.c.payload).where(order_events.c.ref == ref)
                .order_by(order_events.c.entry_ms, order_events.c.entry_seq)
                .offset(offset).limit(count)).scalars())

    def closed_page(self, where: Filter, after: tuple[int, str],
                    count: int) -> list[tuple[str, Order]]:
        """Closed orders matching `where`, by (created ms, ref) past `after`, at most
        count, each with its ref."""
        if where.state and not rows.is_closed(where.state):
            return []  # only a closed order has closed_at_ms (rows.order_row)
        with self.engine.connect() as c:
            return [(r.ref, rows.order_of(r.doc, r.warehouses, r.reservation_state))
                    for r in c.execute(closed_query(where, after, count))]

    def find(self, ask: finding.Ask) -> list[finding.Seen]:
        """FindOrders in SQL: the orders of a buyer, an order number or a tracking
        number, newest first, each with its last event."""
        with self.engine.connect() as c:
            found = [(r.ref, rows.order_of(r.doc, r.warehouses, r.reservation_state))
                     for r in c.execute(find_query(ask))]
            last: dict[str, str] = {}
            if found:
                for r in c.execute(
                        select(order_events.c.ref, order_events.c.payload)
                        .where(order_events.c.ref.in_([ref for ref, _ in found]))
                        .order_by(order_events.c.entry_ms, order_events.c.entry_seq)):
                    last[r.ref] = r.payload  # the newest wins
        return [finding.Seen(order, OrderEvent.decode(last[ref]) if ref in last else None)
                for ref, order in found]

    # -- eviction -----------------------------------------------------------------------
    def closed_before(self, cutoff_ms: int, count: int) -> list[tuple[str, int, int]]:
        """Orders closed before cutoff whose record is still in Redis, oldest first:
        (ref, version, events applied) each."""
        with self.engine.connect() as c:
            return [(r.ref, r.version, r.events) for r in c.execute(
                select(orders.c.ref, orders.c.version, orders.c.events)
                .where(orders.c.closed_at_ms < cutoff_ms, orders.c.evicted_at_ms.is_(None))
                .order_by(orders.c.closed_at_ms).limit(count))]

    def mark_evicted(self, refs: Sequence[str], at_ms: int) -> None:
        if refs:
            with self.engine.begin() as c:
                c.execute(update(orders).where(orders.c.ref.in_(refs))
                          .values(evicted_at_ms=at_ms))

    def event_count(self, ref: str) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(order_events)
                                 .where(order_events.c.ref == ref)).scalar_one())


def closed_query(where: Filter, after: tuple[int, str], count: int) -> Select[Any]:
    """The query of Records.closed_page (benchmarks/records_sql.py explains it). By
    warehouse it pages order_warehouses' index: the position and the bounds are on its
    copy of (created, ref), so the index range serves both."""
    q = select(orders.c.ref, orders.c.doc, orders.c.warehouses, orders.c.reservation_state)
    created, ref = orders.c.created_at_ms, orders.c.ref
    if where.warehouse:
        held = order_warehouses
        q = q.join(held, held.c.ref == orders.c.ref).where(
            held.c.warehouse == where.warehouse, held.c.closed_at_ms.is_not(None))
        created, ref = held.c.created_at_ms, held.c.ref
    q = (q.where(orders.c.closed_at_ms.is_not(None),
                 # (created, ref) past `after`; the first bound alone is what an index
                 # range starts from (the OR is not)
                 created >= after[0],
                 or_(created > after[0], and_(created == after[0], ref > after[1])),
                 created >= where.created_from_ms, created <= where.created_to_ms)
         .order_by(created, ref).limit(count))
    if where.channel:
        q = q.where(orders.c.channel == where.channel)
    if where.state:
        q = q.where(orders.c.state == where.state)
    return q


def find_query(ask: finding.Ask) -> Select[Any]:
    """The orders Records.find answers with, newest first."""
    q = select(orders.c.ref, orders.c.doc, orders.c.warehouses, orders.c.reservation_state)
    if ask.kind == finding.BUYER:
        q = q.where(orders.c.buyer_hash == ask.value)
    elif ask.kind == finding.NUMBER:
        q = q.where(orders.c.order_id == ask.value)
    else:
        q = q.where(orders.c.ref.in_(select(shipments.c.ref).where(
            shipments.c.tracking_number == ask.value)))
    return q.order_by(orders.c.created_at_ms.desc(), orders.c.ref).limit(ask.limit)

"""The records schema under migrations: up and down, on an empty and on a filled
database, on SQLite and on PostgreSQL; and the newest revision is what schema.py says."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, func, insert, inspect, select, text

from reservation.records import migrate
from reservation.records.database import engine_for, open_records
from reservation.records.schema import metadata

TABLES = {"orders", "order_lines", "order_shipments", "order_routing", "order_warehouses",
          "order_events",
          "records_cursors", "settlement_files", "settlement_lines", "settlement_differences"}
# The queries people make, each with an index (issue: by channel and time, by state, by
# warehouse, by buyer hash, by tracking number).
INDEXED = {("orders", ("channel", "created_at_ms", "ref")), ("orders", ("state", "created_at_ms")),
           ("orders", ("warehouse", "created_at_ms")),
           # ListOrders by any warehouse holding the order's stock, in its page order
           ("order_warehouses", ("warehouse", "created_at_ms", "ref")),
           ("orders", ("buyer_hash", "created_at_ms")),
           ("order_shipments", ("tracking_number",)), ("orders", ("closed_at_ms",)),
           # settlement: a statement's lines by order and by tracking number, a day's
           # lines, the open differences by channel and day
           ("settlement_lines", ("channel", "channel_order_id")),
           ("settlement_lines", ("tracking_number",)),
           ("settlement_lines", ("settle_day", "channel")),
           ("settlement_differences", ("state", "channel", "settle_day"))}


@pytest.fixture
def engine(records_url: str) -> Iterator[Engine]:
    made = engine_for(records_url)
    yield made
    made.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _indexes(engine: Engine) -> set[tuple[str, tuple[str, ...]]]:
    found = set()
    for table in _tables(engine):
        for ix in inspect(engine).get_indexes(table):
            found.add((table, tuple(ix["column_names"])))
    return found


def _fill(engine: Engine) -> None:
    t = metadata.tables
    ref = "jd:shop-1/JD-1"
    held = "order_warehouses" in _tables(engine)  # from 0005
    with engine.begin() as c:
        c.execute(insert(t["orders"]).values(
            ref=ref, channel="jd", shop="shop-1", order_id="JD-1", state="PAID", version=2,
            buyer_hash="b1", total_cents=1999, paid_cents=1999, warehouse="WH-1",
            warehouses="WH-1", reservation_state="CONFIRMED", review_state="",
            created_at_ms=1, updated_at_ms=2, closed_at_ms=None, events=2, doc="{}"))
        c.execute(insert(t["order_lines"]).values(
            ref=ref, line_no=0, sku="S1", quantity=1, price_cents=1999, brand="", category="",
            warehouse_id="", gift_of=""))
        c.execute(insert(t["order_shipments"]).values(
            ref=ref, seq=0, carrier="SF", tracking_number="SF1", shipped_at_ms=3,
            warehouse_id="WH-1"))
        c.execute(insert(t["order_routing"]).values(ref=ref, rules_version=1,
                                                    warehouses="WH-1", routes="[]"))
        if held:  # the columns every revision of it has
            c.execute(text("INSERT INTO order_warehouses (ref, warehouse, created_at_ms) "
                           "VALUES (:r, 'WH-1', 1)"), {"r": ref})
        c.execute(insert(t["order_events"]).values(
            event_id="0-1-0", shard=0, entry_ms=1, entry_seq=0, ref=ref, type="CREATED",
            version=1, at_ms=1, actor="jd", from_state="", to_state="PAID", payload="{}"))
        c.execute(insert(t["records_cursors"]).values(shard=0, last_entry_id="1-0",
                                                      updated_at_ms=1))
        _fill_settlement(c)


def _fill_settlement(c: Connection) -> None:
    t = metadata.tables
    file_id = "jd:shop-1/2026-12-06"
    c.execute(insert(t["settlement_files"]).values(
        file_id=file_id, channel="jd", shop="shop-1", settle_day="2026-12-06", name="f.csv",
        digest="0" * 64, version=1, lines=1, fetched_at_ms=1))
    c.execute(insert(t["settlement_lines"]).values(
        file_id=file_id, line_no=2, channel="jd", shop="shop-1", settle_day="2026-12-06",
        kind="SALE", channel_order_id="JD-1", hub_ref="", tracking_number="SF1",
        goods_cents=1999, discount_cents=0, fee_cents=20, subsidy_cents=0, refund_cents=0,
        payout_cents=1979))
    c.execute(insert(t["settlement_differences"]).values(
        diff_id="jd:shop-1/JD-1#AMOUNT_MISMATCH", channel="jd", shop="shop-1",
        order_key="JD-1", hub_ref="jd:shop-1/JD-1", **{"class": "AMOUNT_MISMATCH"},
        settle_day="2026-12-06", hub_cents=1999, settled_cents=1979, detail="", state="OPEN",
        opened_at_ms=1, checked_day="2026-12-06", closed_at_ms=None, closed_by="",
        reason=""))


def test_up_on_an_empty_database_makes_every_table_and_index(engine: Engine) -> None:
    assert migrate.current(engine) is None
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert _tables(engine) == TABLES
    assert INDEXED <= _indexes(engine)


def test_the_newest_revision_is_what_the_schema_module_says(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), metadata)
    assert diff == []


def test_down_from_empty_leaves_nothing_and_up_again_works(engine: Engine) -> None:
    migrate.upgrade(engine)
    migrate.downgrade(engine)
    assert migrate.current(engine) is None
    assert _tables(engine) == set()
    migrate.upgrade(engine)
    assert _tables(engine) == TABLES


def test_up_and_down_on_a_filled_database(engine: Engine) -> None:
    migrate.upgrade(engine)
    _fill(engine)
    migrate.upgrade(engine)  # already at head: a no-op that keeps the rows
    with engine.connect() as c:
        assert c.execute(select(metadata.tables["orders"].c.total_cents)).scalar_one() == 1999
        assert c.execute(select(metadata.tables["order_events"].c.event_id)).scalars().all() \
            == ["0-1-0"]
    migrate.downgrade(engine)
    assert _tables(engine) == set()
    migrate.upgrade(engine)
    with engine.connect() as c:
        assert c.execute(select(metadata.tables["orders"].c.ref)).all() == []


def test_down_one_revision_keeps_the_rows_of_the_one_before(engine: Engine) -> None:
    migrate.upgrade(engine)
    _fill(engine)
    revisions = migrate.revisions()
    for down_to in reversed(revisions[:-1]):
        migrate.downgrade(engine, down_to)
        assert migrate.current(engine) == down_to
        with engine.connect() as c:
            for table in _tables(engine):
                assert c.execute(select(func.count()).select_from(
                    metadata.tables[table])).scalar_one() == 1, (down_to, table)
    migrate.upgrade(engine)
    with engine.connect() as c:
        row = c.execute(select(metadata.tables["orders"])).one()
    assert (row.total_cents, row.evicted_at_ms) == (1999, None)


def test_up_to_order_warehouses_lists_every_warehouse_of_the_stored_orders(
        engine: Engine) -> None:
    migrate.upgrade(engine, "0004")
    _fill(engine)
    orders = metadata.tables["orders"]
    with engine.begin() as c:
        c.execute(orders.update().values(warehouses="WH-1,WH-2"))
        c.execute(insert(orders).values(
            ref="jd:shop-1/JD-2", channel="jd", shop="shop-1", order_id="JD-2", state="PAID",
            version=1, buyer_hash="b2", total_cents=1, paid_cents=0, warehouse="",
            warehouses="", reservation_state="", review_state="", created_at_ms=5,
            updated_at_ms=5, closed_at_ms=None, events=1, doc="{}"))
    migrate.upgrade(engine)
    held = metadata.tables["order_warehouses"]
    with engine.connect() as c:
        assert set(c.execute(select(held.c.ref, held.c.warehouse, held.c.created_at_ms))) == {
            ("jd:shop-1/JD-1", "WH-1", 1), ("jd:shop-1/JD-1", "WH-2", 1)}
    migrate.downgrade(engine, "0004")
    assert "order_warehouses" not in _tables(engine)
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(orders)).scalar_one() == 2


def test_up_to_closed_listing_marks_the_warehouse_rows_of_closed_orders(
        engine: Engine) -> None:
    migrate.upgrade(engine, "0005")
    _fill(engine)  # JD-1: open, in WH-1
    orders = metadata.tables["orders"]
    with engine.begin() as c:
        c.execute(insert(orders).values(
            ref="jd:shop-1/JD-2", channel="jd", shop="shop-1", order_id="JD-2", state="CLOSED",
            version=1, buyer_hash="b2", total_cents=1, paid_cents=0, warehouse="WH-2",
            warehouses="WH-2,WH-3", reservation_state="", review_state="", created_at_ms=5,
            updated_at_ms=9, closed_at_ms=9, events=1, doc="{}"))
        for ref, w, created in (("jd:shop-1/JD-2", "WH-2", 5), ("jd:shop-1/JD-2", "WH-3", 5)):
            c.execute(text("INSERT INTO order_warehouses (ref, warehouse, created_at_ms) "
                           "VALUES (:r, :w, :c)"), {"r": ref, "w": w, "c": created})
    migrate.upgrade(engine)
    held = metadata.tables["order_warehouses"]
    with engine.connect() as c:
        assert set(c.execute(select(held.c.ref, held.c.warehouse, held.c.closed_at_ms))) == {
            ("jd:shop-1/JD-1", "WH-1", None), ("jd:shop-1/JD-2", "WH-2", 9),
            ("jd:shop-1/JD-2", "WH-3", 9)}
    assert ("order_warehouses", ("warehouse", "created_at_ms", "ref")) in _indexes(engine)
    migrate.downgrade(engine, "0005")
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM order_warehouses")).scalar_one() == 3
    assert ("order_warehouses", ("warehouse", "created_at_ms", "ref")) in _indexes(engine)


def test_opening_the_store_migrates_it(records_url: str) -> None:
    engine = open_records(records_url)
    try:
        assert migrate.current(engine) == migrate.head()
        assert _tables(engine) == TABLES
    finally:
        engine.dispose()


def test_replicas_starting_together_migrate_once(postgres_records_url: str) -> None:
    """Four processes' worth of start-ups at once on one PostgreSQL database: each finds
    the schema at head (the advisory lock makes them take turns)."""
    with ThreadPoolExecutor(4) as pool:
        engines = list(pool.map(lambda _: open_records(postgres_records_url), range(4)))
    try:
        assert {migrate.current(e) for e in engines} == {migrate.head()}
    finally:
        for e in engines:
            e.dispose()

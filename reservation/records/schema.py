"""The orders of record: tables of the SQL read model (SQLAlchemy Core).

One row per order (its current state, the columns people filter by, and the document
GetOrder answers), its lines, shipments and routing decision, every order event of the
audit trail once (the stream entry's event id is unique), and per shard stream the id of
the last entry applied, written in the same transaction as the rows it produced.

The migrations in migrations/versions/ create exactly these tables (a test compares
them); change both together.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Money is integer cents and times are integer ms since the epoch, as in the order
# document: no float ever touches an amount, and no time zone a timestamp.
orders = Table(
    "orders", metadata,
    Column("ref", String(400), primary_key=True,
           comment="the hub's id of the order: channel:shop/order_id"),
    Column("channel", String(32), nullable=False),
    Column("shop", String(128), nullable=False),
    Column("order_id", String(256), nullable=False, comment="the channel's order id"),
    Column("state", String(32), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("buyer_hash", String(128), nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("paid_cents", BigInteger, nullable=False),
    Column("warehouse", String(128), nullable=False,
           comment="where it ships from: the first warehouse holding its stock, else "
                   "the first routing picked; '' when neither"),
    Column("warehouses", Text, nullable=False, comment="every warehouse holding its "
                                                       "stock, comma-separated"),
    Column("reservation_state", String(64), nullable=False,
           comment="its stock holds' states when applied (GetOrder's reservation_state)"),
    Column("review_state", Text, nullable=False,
           comment="why it is (or was) held for review, newest reason; '' when never"),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("updated_at_ms", BigInteger, nullable=False),
    Column("closed_at_ms", BigInteger, nullable=True,
           comment="when it reached a terminal state (NULL while open)"),
    Column("evicted_at_ms", BigInteger, nullable=True,
           comment="when its record and history left Redis (NULL: Redis has them)"),
    Column("events", Integer, nullable=False,
           comment="audit events of the order applied so far (its Redis history's length "
                   "once the record is caught up)"),
    Column("doc", Text, nullable=False,
           comment="the order document as the hub stores it (what GetOrder answers)"),
)
Index("orders_channel_created", orders.c.channel, orders.c.created_at_ms, orders.c.ref)
Index("orders_created", orders.c.created_at_ms, orders.c.ref)
Index("orders_state", orders.c.state, orders.c.created_at_ms)
Index("orders_warehouse", orders.c.warehouse, orders.c.created_at_ms)
Index("orders_buyer", orders.c.buyer_hash, orders.c.created_at_ms)
Index("orders_number", orders.c.order_id)  # FindOrders by order number
Index("orders_closed", orders.c.closed_at_ms)  # what eviction looks for
# ListOrders' closed orders with no filter but time, in page order: partial, so a page
# past the last closed order does not walk the open ones (the newest week, mostly).
Index("orders_closed_created", orders.c.created_at_ms, orders.c.ref,
      postgresql_where=orders.c.closed_at_ms.is_not(None),
      sqlite_where=orders.c.closed_at_ms.is_not(None))
# The same by channel: a deep page in the newest week walked its open orders.
Index("orders_closed_channel_created", orders.c.channel, orders.c.created_at_ms,
      orders.c.ref, postgresql_where=orders.c.closed_at_ms.is_not(None),
      sqlite_where=orders.c.closed_at_ms.is_not(None))



def _ref() -> Column[str]:
    """The order a row belongs to (the children go when the order row goes)."""
    return Column("ref", String(400), ForeignKey("orders.ref", ondelete="CASCADE"),
                  primary_key=True)


order_lines = Table(
    "order_lines", metadata,
    _ref(),
    Column("line_no", Integer, primary_key=True),
    Column("sku", String(256), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("brand", String(128), nullable=False),
    Column("category", String(128), nullable=False),
    Column("warehouse_id", String(128), nullable=False),
    Column("gift_of", String(256), nullable=False),
)
Index("order_lines_sku", order_lines.c.sku)

shipments = Table(
    "order_shipments", metadata,
    _ref(),
    Column("seq", Integer, primary_key=True),
    Column("carrier", String(64), nullable=False),
    Column("tracking_number", String(128), nullable=False),
    Column("shipped_at_ms", BigInteger, nullable=False),
    Column("warehouse_id", String(128), nullable=False),
)
Index("order_shipments_tracking", shipments.c.tracking_number)

routing = Table(
    "order_routing", metadata,
    _ref(),
    Column("rules_version", BigInteger, nullable=False, comment="0: not routed"),
    Column("warehouses", Text, nullable=False,
           comment="where routing planned to ship from, comma-separated"),
    Column("routes", Text, nullable=False,
           comment="per line, the candidates the stock script tried (JSON list)"),
)

order_warehouses = Table(
    "order_warehouses", metadata,
    _ref(),
    Column("warehouse", String(128), primary_key=True),
    Column("created_at_ms", BigInteger, nullable=False,
           comment="the order's (ListOrders pages by it)"),
    Column("closed_at_ms", BigInteger, nullable=True,
           comment="the order's (NULL while open): ListOrders from the store lists closed ones"),
)
# ListOrders' closed orders by warehouse (any warehouse holding the order's stock:
# `orders.warehouses`, one row each), in the order it pages by; partial, as
# orders_closed_created.
Index("order_warehouses_closed", order_warehouses.c.warehouse,
      order_warehouses.c.created_at_ms, order_warehouses.c.ref,
      postgresql_where=order_warehouses.c.closed_at_ms.is_not(None),
      sqlite_where=order_warehouses.c.closed_at_ms.is_not(None))

order_events = Table(
    "order_events", metadata,
    Column("event_id", String(64), primary_key=True,
           comment="<shard>-<stream entry id>: unique, so an event is kept once"),
    Column("shard", Integer, nullable=False),
    Column("entry_ms", BigInteger, nullable=False),
    Column("entry_seq", BigInteger, nullable=False),
    Column("ref", String(400), nullable=False),
    Column("type", String(32), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("from_state", String(32), nullable=False),
    Column("to_state", String(32), nullable=False),
    Column("payload", Text, nullable=False,
           comment="the event as the stream carried it (GetOrderHistory decodes it)"),
)
# History is in stream order: within one order every event is in its record's shard.
Index("order_events_order", order_events.c.ref, order_events.c.entry_ms,
      order_events.c.entry_seq)

cursors = Table(
    "records_cursors", metadata,
    Column("shard", Integer, primary_key=True),
    Column("last_entry_id", String(64), nullable=False,
           comment="the last entry of the shard's order event stream applied"),
    Column("updated_at_ms", BigInteger, nullable=False),
)

# Settlement (reservation/settlement/): the channels' statements, their lines, and the
# differences reconciliation files. A statement is one file per channel, shop and day;
# a replaced file (another digest) supersedes the earlier one's lines in one transaction.
settlement_files = Table(
    "settlement_files", metadata,
    Column("file_id", String(400), primary_key=True,
           comment="channel:shop/day: one statement per channel, shop and settlement day"),
    Column("channel", String(32), nullable=False),
    Column("shop", String(128), nullable=False),
    Column("settle_day", String(10), nullable=False, comment="YYYY-MM-DD (China time)"),
    Column("name", String(256), nullable=False, comment="the file's name at the channel"),
    Column("digest", String(64), nullable=False, comment="SHA-256 of the file's bytes"),
    Column("version", Integer, nullable=False, comment="1, then +1 per replacement"),
    Column("lines", Integer, nullable=False),
    Column("fetched_at_ms", BigInteger, nullable=False),
)
Index("settlement_files_day", settlement_files.c.settle_day, settlement_files.c.channel)

settlement_lines = Table(
    "settlement_lines", metadata,
    Column("file_id", String(400), primary_key=True),
    Column("line_no", Integer, primary_key=True, comment="the line in the source file"),
    Column("channel", String(32), nullable=False),
    Column("shop", String(128), nullable=False),
    Column("settle_day", String(10), nullable=False),
    Column("kind", String(16), nullable=False,
           comment="SALE, REFUND, FEE (a deduction without goods) or ADJUSTMENT"),
    Column("channel_order_id", String(256), nullable=False, comment="'' when none"),
    Column("hub_ref", String(400), nullable=False, comment="the hub's id if the file has it"),
    Column("tracking_number", String(128), nullable=False),
    Column("goods_cents", BigInteger, nullable=False),
    Column("discount_cents", BigInteger, nullable=False, comment="the seller's share"),
    Column("fee_cents", BigInteger, nullable=False, comment="platform fees and deductions"),
    Column("subsidy_cents", BigInteger, nullable=False, comment="shipping subsidy"),
    Column("refund_cents", BigInteger, nullable=False),
    Column("payout_cents", BigInteger, nullable=False,
           comment="goods - discount - fee + subsidy - refund, to the cent"),
)
Index("settlement_lines_order", settlement_lines.c.channel, settlement_lines.c.channel_order_id)
Index("settlement_lines_day", settlement_lines.c.settle_day, settlement_lines.c.channel)
Index("settlement_lines_tracking", settlement_lines.c.tracking_number)

settlement_differences = Table(
    "settlement_differences", metadata,
    Column("diff_id", String(480), primary_key=True,
           comment="channel:shop/order key#class: one open difference per order and class"),
    Column("channel", String(32), nullable=False),
    Column("shop", String(128), nullable=False),
    Column("order_key", String(256), nullable=False,
           comment="the channel's order id, else the tracking number, else file#line"),
    Column("hub_ref", String(400), nullable=False, comment="'' when the hub has none"),
    Column("class", String(32), nullable=False),
    Column("settle_day", String(10), nullable=False, comment="the day it was first found"),
    Column("hub_cents", BigInteger, nullable=False, comment="what the hub expects"),
    Column("settled_cents", BigInteger, nullable=False, comment="what the channel paid"),
    Column("detail", Text, nullable=False),
    Column("state", String(16), nullable=False, comment="OPEN, CLOSED or RESOLVED"),
    Column("opened_at_ms", BigInteger, nullable=False),
    Column("checked_day", String(10), nullable=False, comment="the last run that saw it"),
    Column("closed_at_ms", BigInteger, nullable=True),
    Column("closed_by", String(256), nullable=False, comment="'run' or who resolved it"),
    Column("reason", Text, nullable=False, comment="why it closed or was resolved"),
)
Index("settlement_differences_open", settlement_differences.c.state,
      settlement_differences.c.channel, settlement_differences.c.settle_day)
Index("settlement_differences_order", settlement_differences.c.hub_ref)

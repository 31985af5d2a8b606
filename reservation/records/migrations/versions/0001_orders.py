"""The orders of record: orders, lines, shipments, routing, events, cursors.

Revision ID: 0001
Revises:
Create Date: 2026-12-07

A migration is a frozen picture of the schema at its revision, so it spells the tables
out instead of importing schema.py (which moves on); tests/records/test_migrations.py
checks that head and schema.py agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_BIG, _TEXT = sa.BigInteger(), sa.Text()


def _s(n: int) -> sa.String:
    return sa.String(n)


def _ref(primary: bool = True) -> sa.Column:
    fk = sa.ForeignKey("orders.ref", ondelete="CASCADE")
    return sa.Column("ref", _s(400), fk, primary_key=primary)


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("ref", _s(400), primary_key=True,
                  comment="the hub's id of the order: channel:shop/order_id"),
        sa.Column("channel", _s(32), nullable=False),
        sa.Column("shop", _s(128), nullable=False),
        sa.Column("order_id", _s(256), nullable=False, comment="the channel's order id"),
        sa.Column("state", _s(32), nullable=False),
        sa.Column("version", _BIG, nullable=False),
        sa.Column("buyer_hash", _s(128), nullable=False),
        sa.Column("total_cents", _BIG, nullable=False),
        sa.Column("paid_cents", _BIG, nullable=False),
        sa.Column("warehouse", _s(128), nullable=False,
                  comment="where it ships from: the first warehouse holding its stock, else "
                          "the first routing picked; '' when neither"),
        sa.Column("warehouses", _TEXT, nullable=False,
                  comment="every warehouse holding its stock, comma-separated"),
        sa.Column("reservation_state", _s(64), nullable=False,
                  comment="its stock holds' states when applied (GetOrder's "
                          "reservation_state)"),
        sa.Column("review_state", _TEXT, nullable=False,
                  comment="why it is (or was) held for review, newest reason; '' when never"),
        sa.Column("created_at_ms", _BIG, nullable=False),
        sa.Column("updated_at_ms", _BIG, nullable=False),
        sa.Column("closed_at_ms", _BIG, nullable=True,
                  comment="when it reached a terminal state (NULL while open)"),
        sa.Column("events", sa.Integer(), nullable=False,
                  comment="audit events of the order applied so far (its Redis history's "
                          "length once the record is caught up)"),
        sa.Column("doc", _TEXT, nullable=False,
                  comment="the order document as the hub stores it (what GetOrder answers)"),
    )
    op.create_index("orders_channel_created", "orders", ["channel", "created_at_ms", "ref"])
    op.create_index("orders_created", "orders", ["created_at_ms", "ref"])
    op.create_index("orders_state", "orders", ["state", "created_at_ms"])
    op.create_index("orders_warehouse", "orders", ["warehouse", "created_at_ms"])
    op.create_index("orders_buyer", "orders", ["buyer_hash", "created_at_ms"])
    op.create_table(
        "order_lines", _ref(),
        sa.Column("line_no", sa.Integer(), primary_key=True),
        sa.Column("sku", _s(256), nullable=False),
        sa.Column("quantity", _BIG, nullable=False),
        sa.Column("price_cents", _BIG, nullable=False),
        sa.Column("brand", _s(128), nullable=False),
        sa.Column("category", _s(128), nullable=False),
        sa.Column("warehouse_id", _s(128), nullable=False),
        sa.Column("gift_of", _s(256), nullable=False),
    )
    op.create_index("order_lines_sku", "order_lines", ["sku"])
    op.create_table(
        "order_shipments", _ref(),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("carrier", _s(64), nullable=False),
        sa.Column("tracking_number", _s(128), nullable=False),
        sa.Column("shipped_at_ms", _BIG, nullable=False),
        sa.Column("warehouse_id", _s(128), nullable=False),
    )
    op.create_index("order_shipments_tracking", "order_shipments", ["tracking_number"])
    op.create_table(
        "order_routing", _ref(),
        sa.Column("rules_version", _BIG, nullable=False, comment="0: not routed"),
        sa.Column("warehouses", _TEXT, nullable=False,
                  comment="where routing planned to ship from, comma-separated"),
        sa.Column("routes", _TEXT, nullable=False,
                  comment="per line, the candidates the stock script tried (JSON list)"),
    )
    op.create_table(
        "order_events",
        sa.Column("event_id", _s(64), primary_key=True,
                  comment="<shard>-<stream entry id>: unique, so an event is kept once"),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("entry_ms", _BIG, nullable=False),
        sa.Column("entry_seq", _BIG, nullable=False),
        sa.Column("ref", _s(400), nullable=False),
        sa.Column("type", _s(32), nullable=False),
        sa.Column("version", _BIG, nullable=False),
        sa.Column("at_ms", _BIG, nullable=False),
        sa.Column("actor", _s(256), nullable=False),
        sa.Column("from_state", _s(32), nullable=False),
        sa.Column("to_state", _s(32), nullable=False),
        sa.Column("payload", _TEXT, nullable=False,
                  comment="the event as the stream carried it (GetOrderHistory decodes it)"),
    )
    op.create_index("order_events_order", "order_events", ["ref", "entry_ms", "entry_seq"])
    op.create_table(
        "records_cursors",
        sa.Column("shard", sa.Integer(), primary_key=True),
        sa.Column("last_entry_id", _s(64), nullable=False,
                  comment="the last entry of the shard's order event stream applied"),
        sa.Column("updated_at_ms", _BIG, nullable=False),
    )


def downgrade() -> None:
    for table in ("records_cursors", "order_events", "order_routing", "order_shipments",
                  "order_lines", "orders"):
        op.drop_table(table)

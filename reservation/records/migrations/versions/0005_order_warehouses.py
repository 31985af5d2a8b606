"""order_warehouses: every warehouse holding an order's stock, one row each, so ListOrders
by warehouse pages an index instead of matching the comma-separated list of every order;
and orders_closed_created, the closed orders in ListOrders' page order.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The orders already stored: their comma-separated warehouses column, split, in one
# statement (so `reservation records migrate --sql` prints it too).
_BACKFILL = {
    "postgresql": """
INSERT INTO order_warehouses (ref, warehouse, created_at_ms)
SELECT DISTINCT ref, w, created_at_ms
FROM orders, unnest(string_to_array(warehouses, ',')) AS w WHERE w <> ''
""",
    "sqlite": """
INSERT INTO order_warehouses (ref, warehouse, created_at_ms)
WITH RECURSIVE split(ref, created_at_ms, warehouse, rest) AS (
  SELECT ref, created_at_ms, '', warehouses || ',' FROM orders WHERE warehouses <> ''
  UNION ALL
  SELECT ref, created_at_ms, substr(rest, 1, instr(rest, ',') - 1),
         substr(rest, instr(rest, ',') + 1) FROM split WHERE rest <> ''
)
SELECT DISTINCT ref, warehouse, created_at_ms FROM split WHERE warehouse <> ''
""",
}


def upgrade() -> None:
    op.create_table(
        "order_warehouses",
        sa.Column("ref", sa.String(400), sa.ForeignKey("orders.ref", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("warehouse", sa.String(128), primary_key=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False,
                  comment="the order's (ListOrders pages by it)"),
    )
    op.create_index("order_warehouses_listed", "order_warehouses",
                    ["warehouse", "created_at_ms", "ref"])
    op.execute(_BACKFILL[op.get_context().dialect.name])
    closed = sa.text("closed_at_ms IS NOT NULL")
    op.create_index("orders_closed_created", "orders", ["created_at_ms", "ref"],
                    postgresql_where=closed, sqlite_where=closed)


def downgrade() -> None:
    op.drop_index("orders_closed_created", table_name="orders")
    op.drop_index("order_warehouses_listed", table_name="order_warehouses")
    op.drop_table("order_warehouses")

"""order_warehouses: every warehouse holding an order's stock, one row each, so ListOrders
by warehouse pages an index instead of matching the comma-separated list of every order.

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

CHUNK = 5000
"""Orders read per step of the backfill (by ref, so a large table is never read whole)."""


def upgrade() -> None:
    table = op.create_table(
        "order_warehouses",
        sa.Column("ref", sa.String(400), sa.ForeignKey("orders.ref", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("warehouse", sa.String(128), primary_key=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False,
                  comment="the order's (ListOrders pages by it)"),
    )
    op.create_index("order_warehouses_listed", "order_warehouses",
                    ["warehouse", "created_at_ms", "ref"])
    # The orders already stored: their warehouses column, split.
    c = op.get_bind()
    orders = sa.table("orders", sa.column("ref", sa.String), sa.column("warehouses", sa.Text),
                      sa.column("created_at_ms", sa.BigInteger))
    last = ""
    while True:
        rows = c.execute(sa.select(orders.c.ref, orders.c.warehouses, orders.c.created_at_ms)
                         .where(orders.c.ref > last).order_by(orders.c.ref).limit(CHUNK)).all()
        if not rows:
            return
        held = [{"ref": r.ref, "warehouse": w, "created_at_ms": r.created_at_ms}
                for r in rows for w in dict.fromkeys(r.warehouses.split(",")) if w]
        if held:
            c.execute(sa.insert(table), held)
        last = rows[-1].ref


def downgrade() -> None:
    op.drop_index("order_warehouses_listed", table_name="order_warehouses")
    op.drop_table("order_warehouses")

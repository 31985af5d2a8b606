"""orders_number: an index on the channel's order number, for FindOrders.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("orders_number", "orders", ["order_id"])


def downgrade() -> None:
    op.drop_index("orders_number", table_name="orders")

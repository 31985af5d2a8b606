"""orders.evicted_at_ms: when an order's record and history left Redis.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot drop a column in place (downgrade); PostgreSQL
    # runs it as plain ALTER TABLE.
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column(
            "evicted_at_ms", sa.BigInteger(), nullable=True,
            comment="when its record and history left Redis (NULL: Redis has them)"))
    op.create_index("orders_closed", "orders", ["closed_at_ms"])


def downgrade() -> None:
    op.drop_index("orders_closed", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("evicted_at_ms")

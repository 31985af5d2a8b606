"""Settlement: the channels' statement files, their lines, and reconciliation's
differences.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

Spelled out, not imported from schema.py (a migration is a frozen picture of its
revision; tests/records/test_migrations.py checks head against schema.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _col(name: str, kind: sa.types.TypeEngine, comment: str | None = None,
         primary: bool = False, null: bool = False) -> sa.Column:
    return sa.Column(name, kind, primary_key=primary, nullable=null, comment=comment)


def upgrade() -> None:
    s, big, text = sa.String, sa.BigInteger(), sa.Text()
    op.create_table(
        "settlement_files",
        _col("file_id", s(400), "channel:shop/day: one statement per channel, shop and "
             "settlement day", primary=True),
        _col("channel", s(32)), _col("shop", s(128)),
        _col("settle_day", s(10), "YYYY-MM-DD (China time)"),
        _col("name", s(256), "the file's name at the channel"),
        _col("digest", s(64), "SHA-256 of the file's bytes"),
        _col("version", sa.Integer(), "1, then +1 per replacement"),
        _col("lines", sa.Integer()), _col("fetched_at_ms", big),
    )
    op.create_index("settlement_files_day", "settlement_files", ["settle_day", "channel"])
    op.create_table(
        "settlement_lines",
        _col("file_id", s(400), primary=True),
        _col("line_no", sa.Integer(), "the line in the source file", primary=True),
        _col("channel", s(32)), _col("shop", s(128)), _col("settle_day", s(10)),
        _col("kind", s(16), "SALE, REFUND, FEE (a deduction without goods) or ADJUSTMENT"),
        _col("channel_order_id", s(256), "'' when none"),
        _col("hub_ref", s(400), "the hub's id if the file has it"),
        _col("tracking_number", s(128)),
        _col("goods_cents", big),
        _col("discount_cents", big, "the seller's share"),
        _col("fee_cents", big, "platform fees and deductions"),
        _col("subsidy_cents", big, "shipping subsidy"),
        _col("refund_cents", big),
        _col("payout_cents", big, "goods - discount - fee + subsidy - refund, to the cent"),
    )
    op.create_index("settlement_lines_order", "settlement_lines",
                    ["channel", "channel_order_id"])
    op.create_index("settlement_lines_day", "settlement_lines", ["settle_day", "channel"])
    op.create_index("settlement_lines_tracking", "settlement_lines", ["tracking_number"])
    op.create_table(
        "settlement_differences",
        _col("diff_id", s(480), "channel:shop/order key#class: one open difference per "
             "order and class", primary=True),
        _col("channel", s(32)), _col("shop", s(128)),
        _col("order_key", s(256), "the channel's order id, else the tracking number, else "
             "file#line"),
        _col("hub_ref", s(400), "'' when the hub has none"),
        _col("class", s(32)),
        _col("settle_day", s(10), "the day it was first found"),
        _col("hub_cents", big, "what the hub expects"),
        _col("settled_cents", big, "what the channel paid"),
        _col("detail", text),
        _col("state", s(16), "OPEN, CLOSED or RESOLVED"),
        _col("opened_at_ms", big),
        _col("checked_day", s(10), "the last run that saw it"),
        _col("closed_at_ms", big, null=True),
        _col("closed_by", s(256), "'run' or who resolved it"),
        _col("reason", text, "why it closed or was resolved"),
    )
    op.create_index("settlement_differences_open", "settlement_differences",
                    ["state", "channel", "settle_day"])
    op.create_index("settlement_differences_order", "settlement_differences", ["hub_ref"])


def downgrade() -> None:
    for table in ("settlement_differences", "settlement_lines", "settlement_files"):
        op.drop_table(table)  # their indexes go with them

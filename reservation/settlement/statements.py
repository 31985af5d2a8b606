"""Statements into the records store, idempotent: the same file twice changes nothing, a
replaced file (another digest for the same channel, shop and day) supersedes the earlier
one's lines in one transaction and counts a version up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from reservation import clock
from reservation.records.schema import settlement_files, settlement_lines
from reservation.settlement.lines import Statement, check

NEW, SAME, SUPERSEDED = "NEW", "SAME", "SUPERSEDED"


@dataclass(frozen=True)
class Stored:
    outcome: str
    """NEW (first file of its day), SAME (a repeat: nothing written) or SUPERSEDED."""
    version: int
    lines: int


def store(engine: Engine, statement: Statement) -> Stored:
    check(statement)
    try:
        return _store(engine, statement)
    except IntegrityError:
        # Two fetchers stored the day's first file at once: the other one's row is there
        # now, so this second try compares digests like any repeat.
        return _store(engine, statement)


def _store(engine: Engine, statement: Statement) -> Stored:
    with engine.begin() as c:
        row = c.execute(select(settlement_files.c.digest, settlement_files.c.version)
                        .where(settlement_files.c.file_id == statement.file_id)
                        .with_for_update()).first()
        if row is not None and row.digest == statement.digest:
            return Stored(SAME, row.version, len(statement.lines))
        if row is None:
            c.execute(insert(settlement_files).values(_file_row(statement, version=1)))
        else:
            c.execute(delete(settlement_lines)
                      .where(settlement_lines.c.file_id == statement.file_id))
            c.execute(update(settlement_files)
                      .where(settlement_files.c.file_id == statement.file_id)
                      .values(_file_row(statement, version=row.version + 1)))
        _insert_lines(c, statement)
    version = 1 if row is None else row.version + 1
    return Stored(NEW if row is None else SUPERSEDED, version, len(statement.lines))


def _file_row(statement: Statement, version: int) -> dict[str, object]:
    return {"file_id": statement.file_id, "channel": statement.channel,
            "shop": statement.shop, "settle_day": statement.settle_day,
            "name": statement.name, "digest": statement.digest, "version": version,
            "lines": len(statement.lines), "fetched_at_ms": clock.now_ms()}


def _insert_lines(c: Connection, statement: Statement) -> None:
    if not statement.lines:
        return
    common = {"file_id": statement.file_id, "channel": statement.channel,
              "shop": statement.shop, "settle_day": statement.settle_day}
    c.execute(insert(settlement_lines), [
        {**common, "line_no": line.line_no, "kind": line.kind,
         "channel_order_id": line.channel_order_id, "hub_ref": line.hub_ref,
         "tracking_number": line.tracking_number, "goods_cents": line.goods_cents,
         "discount_cents": line.discount_cents, "fee_cents": line.fee_cents,
         "subsidy_cents": line.subsidy_cents, "refund_cents": line.refund_cents,
         "payout_cents": line.payout_cents}
        for line in statement.lines])

"""Settlement at a day's scale: a day of statement lines across the six channels
reconciled against the hub's orders in the records store, the report written, and the
same day run again.

    python -m benchmarks.settlement [--orders 100000] [--db postgresql://...] [--runs 3]

The records store is filled directly (the orders shipped, one statement per channel
with a payout line per order, and noise: 1 % of the payouts for orders the hub never
saw, 1 % with the wrong amount, 0.5 % refunds the hub has not got). Per run (the
differences emptied first): the first reconciliation of the day, the report written
(XLSX with the splits and differences, CSV), and a second reconciliation of the same
day (nothing changes). Medians over --runs; the process's peak RSS.

With --db postgresql://.../postgres a database of its own is made there and dropped
after. Writes benchmarks/results/settlement.{json,md} (or --out STEM). Run it alone
(the CPU lock, exclusively): the figures are times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert

from benchmarks import paths
from reservation.records.database import open_records
from reservation.records.schema import orders, settlement_differences, shipments
from reservation.settlement import exports, statements
from reservation.settlement.differences import Filter, page
from reservation.settlement.lines import REFUND, SALE, SettlementLine, Statement, digest_of
from reservation.settlement.report import day_report, splits
from reservation.settlement.run import run
from reservation.storage.orders import order_ref

RESULTS = paths.ROOT / "benchmarks" / "results" / "settlement"
CHANNELS = ("taobao", "jd", "pdd", "douyin", "wechat", "pos")
DAY = "2026-12-06"
SHOP = "main"
CHUNK = 5_000


@contextmanager
def database(url: str) -> Iterator[str]:
    """SQLite in a temporary directory, or a private PostgreSQL database, dropped after."""
    if not url:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'records.sqlite3'}"
        return
    import psycopg

    name = f"settle_bench_{uuid.uuid4().hex[:10]}"
    admin = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    try:
        yield admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") \
            + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _order_row(channel: str, n: int, now: int) -> dict[str, Any]:
    oid = f"{channel[:2].upper()}{n:08d}"
    return {"ref": order_ref(channel, SHOP, oid), "channel": channel, "shop": SHOP,
            "order_id": oid, "state": "SHIPPED", "version": 5, "buyer_hash": f"b{n % 997}",
            "total_cents": 9_900, "paid_cents": 9_900, "warehouse": "WH-A",
            "warehouses": "WH-A", "reservation_state": "CONFIRMED", "review_state": "",
            "created_at_ms": now, "updated_at_ms": now, "closed_at_ms": None,
            "evicted_at_ms": None, "events": 5, "doc": "{}"}


def fill(engine: Engine, count: int) -> None:
    now = int(time.time() * 1000)
    per = count // len(CHANNELS)
    with engine.begin() as c:
        for channel in CHANNELS:
            for start in range(0, per, CHUNK):
                rows = [_order_row(channel, n, now) for n in range(start, min(per, start + CHUNK))]
                c.execute(insert(orders), rows)
                c.execute(insert(shipments), [
                    {"ref": r["ref"], "seq": 0, "carrier": "SF", "tracking_number":
                     f"SF{r['order_id']}", "shipped_at_ms": now, "warehouse_id": "WH-A"}
                    for r in rows])
    for channel in CHANNELS:
        lines = list(_lines(channel, per))
        statements.store(engine, Statement(channel, SHOP, DAY, f"{channel}.csv",
                                           digest_of(f"{channel}{per}".encode()), lines))


def _lines(channel: str, per: int) -> Iterator[SettlementLine]:
    for n in range(per):
        oid = f"{channel[:2].upper()}{n:08d}"
        if n % 100 == 1:
            oid = f"NEVER{n}"  # a payout for an order the hub never saw
        goods = 9_900 - (100 if n % 100 == 2 else 0)  # the wrong amount
        yield SettlementLine(line_no=n + 2, kind=SALE, channel_order_id=oid,
                             goods_cents=goods, fee_cents=59, payout_cents=goods - 59)
    for n in range(0, per, 200):  # refunds the hub has not got
        oid = f"{channel[:2].upper()}{n + 3:08d}"
        yield SettlementLine(line_no=per + n + 2, kind=REFUND, channel_order_id=oid,
                             refund_cents=9_900, payout_cents=-9_900)


def one_run(engine: Engine, out: Path) -> dict[str, float | int]:
    with engine.begin() as c:
        c.execute(delete(settlement_differences))
    t0 = time.perf_counter()
    first = run(engine, DAY)
    t1 = time.perf_counter()
    with engine.connect() as c:
        report = day_report(c, DAY)
        exports.write_xlsx(out / "settlement.xlsx", report, splits(c, DAY),
                           page(c, Filter(state="OPEN"), limit=10_000_000))
        exports.write_csv(out / "settlement.csv", splits(c, DAY))
    t2 = time.perf_counter()
    again = run(engine, DAY)
    t3 = time.perf_counter()
    assert (again.opened, again.closed) == (0, 0), again
    return {"run_s": round(t1 - t0, 2), "report_s": round(t2 - t1, 2),
            "rerun_s": round(t3 - t2, 2), "groups": first.groups, "matched": first.matched,
            "differences": first.found}


def write(result: dict[str, Any], stem: Path) -> None:
    meta, m = result["meta"], result["median"]
    lines = ["# Settlement", "",
             (f"`{meta['command']}` on commit {meta['commit']} ({meta['when']}, "
             f"{meta['machine']}, load {meta['load_start']} -> {meta['load_end']}); records "
             f"store: {result['db']}; {result['orders']} orders, {result['lines']} statement "
             f"lines over {len(CHANNELS)} channels."), "",
             "| median of runs | seconds |", "|---|---|",
             f"| reconcile the day (first run) | {m['run_s']} |",
             f"| write the report (XLSX + CSV) | {m['report_s']} |",
             f"| reconcile the same day again (no change) | {m['rerun_s']} |", "",
             (f"Orders checked {m['groups']}, matched {m['matched']}, differences "
             f"{m['differences']}. Peak RSS {result['peak_rss_mb']} MB."), ""]
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.settlement",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--db", default="", help="a PostgreSQL server's URL (default: SQLite)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results files STEM.json/.md")
    args = p.parse_args(argv)
    load_start = os.getloadavg()[0]
    with database(args.db) as url, tempfile.TemporaryDirectory() as tmp:
        engine = open_records(url)
        try:
            fill(engine, args.orders)
            runs = [one_run(engine, Path(tmp)) for _ in range(args.runs)]
        finally:
            engine.dispose()
    per = args.orders // len(CHANNELS)
    result: dict[str, Any] = {
        "runs": runs, "median": {k: statistics.median(r[k] for r in runs) for k in runs[0]},
        "orders": per * len(CHANNELS),
        "lines": len(CHANNELS) * (per + len(range(0, per, 200))),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "db": "postgresql" if args.db else "sqlite",
        "meta": paths.run_meta("benchmarks.settlement", argv or [], load_start)}
    write(result, args.out)
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Settlement from the command line, against the records store (RESERVATION_RECORDS_URL,
or the SQLite file beside the embedded Redis):

    reservation settle run --day YYYY-MM-DD [--unsettled-days N]   reconcile the day
    reservation settle report --day YYYY-MM-DD [--channel C]       the day's totals and differences
    reservation settle export --day YYYY-MM-DD --out DIR           XLSX, CSV and vouchers

`run` is the T+1 job: after the adapters have fetched the day's statements (10:00 China
time), run it for the day before (cron, or a Kubernetes CronJob). Running a day again
changes nothing unless the statements or the hub did.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from reservation.cli.records import _url
from reservation.errors import ReservationError
from reservation.settings import ConfigError

CST = timezone(timedelta(hours=8))  # the channels' days (not imported: parser build time)


def _yesterday() -> str:
    return (datetime.now(CST).date() - timedelta(days=1)).isoformat()


def _day(value: str) -> str:
    from reservation.settlement.lines import DAY

    if not DAY.match(value):
        raise ConfigError(f"--day: {value!r} is not YYYY-MM-DD")
    return value


def _engine() -> Any:
    from reservation.records.database import open_records

    return open_records(_url())


def _run(args: argparse.Namespace) -> int:
    from reservation.settlement.run import run

    engine = _engine()
    try:
        r = run(engine, args.day, args.unsettled_days)
    except ReservationError as exc:
        raise ConfigError(f"--day/--unsettled-days: {exc}") from None
    finally:
        engine.dispose()
    print(f"settlement {r.day}: {r.groups} orders checked, {r.matched} matched, "
          f"{r.found} differences ({r.opened} new, {r.closed} closed)")
    return 0


def _report(args: argparse.Namespace) -> int:
    from reservation.settlement.exports import yuan
    from reservation.settlement.report import day_report

    engine = _engine()
    try:
        with engine.connect() as c:
            r = day_report(c, _day(args.day), args.channel)
    finally:
        engine.dispose()
    print(f"settlement {r.day}")
    print(f"{'channel':<8} {'shop':<12} {'lines':>7} {'goods':>12} {'discount':>10} "
          f"{'fee':>10} {'subsidy':>10} {'refund':>10} {'payout':>12}")
    for t in r.channels:
        print(f"{t.channel:<8} {t.shop:<12} {t.lines:>7} {yuan(t.goods_cents):>12} "
              f"{yuan(t.discount_cents):>10} {yuan(t.fee_cents):>10} "
              f"{yuan(t.subsidy_cents):>10} {yuan(t.refund_cents):>10} "
              f"{yuan(t.payout_cents):>12}")
    for title, counts in (("open differences", r.open_by_class),
                          (f"found on {r.day}", r.found_today)):
        listed = ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none"
        print(f"{title}: {listed}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from reservation.settlement import exports
    from reservation.settlement.differences import Filter, page
    from reservation.settlement.report import day_report, splits

    day = _day(args.day)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    engine = _engine()
    try:
        with engine.connect() as c:
            report = day_report(c, day)
            found = [*page(c, Filter(state="OPEN"), limit=1_000_000),
                     *(x for x in page(c, Filter(day=day), limit=1_000_000)
                       if x.state != "OPEN")]
            written = [
                exports.write_xlsx(out / f"settlement-{day}.xlsx", report, splits(c, day),
                                   found),
                exports.write_csv(out / f"settlement-{day}.csv", splits(c, day)),
                exports.write_u8(out / f"vouchers-u8-{day}.csv", report),
                exports.write_kingdee(out / f"vouchers-kingdee-{day}.xlsx", report)]
    finally:
        engine.dispose()
    for path in written:
        print(path)
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("settle", help="settlement: reconcile a day, report it, export it")
    ssub = p.add_subparsers(dest="settle_command", required=True)
    r = ssub.add_parser("run", help="reconcile a settlement day (T+1)")
    r.add_argument("--day", default=_yesterday(), help="YYYY-MM-DD (default: yesterday, "
                                                       "China time)")
    r.add_argument("--unsettled-days", type=int, default=7,
                   help="N: a shipped order unpaid (or a refund not taken back) this many "
                        "days on is a difference")
    r.set_defaults(func=_run)
    rep = ssub.add_parser("report", help="a day's totals per channel and differences")
    rep.add_argument("--day", default=_yesterday(), help="YYYY-MM-DD")
    rep.add_argument("--channel", default="", help="one channel only")
    rep.set_defaults(func=_report)
    e = ssub.add_parser("export", help="XLSX report, CSV, 用友 U8 and 金蝶 vouchers")
    e.add_argument("--day", default=_yesterday(), help="YYYY-MM-DD")
    e.add_argument("--out", default=".", help="the folder to write into")
    e.set_defaults(func=_export)

"""`reservation settle run|report|export`: real processes against a SQLite store holding
a statement of the fake JD channel."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from reservation.clients.channels.fake_statements import Payout
from reservation.records.database import open_records
from tests.helpers.cli import cli, cli_env
from tests.helpers.settlement import import_statement

pytestmark = pytest.mark.slow  # real processes
DAY = "2026-12-06"


def test_run_report_and_export_a_day(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    engine = open_records(url)
    import_statement(engine, "jd", DAY, Payout("J1", goods_cents=1_000, fee_cents=6),
                     Payout("", fee_cents=250))
    engine.dispose()
    env = cli_env(RESERVATION_RECORDS_URL=url)
    ran = cli("settle", "run", "--day", DAY, env=env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == (f"settlement {DAY}: 2 orders checked, 0 matched, "
                          "2 differences (2 new, 0 closed)\n")
    again = cli("settle", "run", "--day", DAY, env=env)
    assert "2 differences (0 new, 0 closed)" in again.stdout
    report = cli("settle", "report", "--day", DAY, env=env)
    assert report.returncode == 0, report.stderr
    jd = next(line.split() for line in report.stdout.splitlines() if line.startswith("jd"))
    assert jd == ["jd", "shop-1", "3", "10.00", "0.00", "2.56", "0.00", "0.00", "7.44"]
    assert "open differences: MISSING_IN_HUB 1, PLATFORM_FEE 1" in report.stdout
    out = tmp_path / "out"
    export = cli("settle", "export", "--day", DAY, "--out", str(out), env=env)
    assert export.returncode == 0, export.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"settlement-{DAY}.csv", f"settlement-{DAY}.xlsx",
                     f"vouchers-kingdee-{DAY}.xlsx", f"vouchers-u8-{DAY}.csv"]
    assert load_workbook(out / f"settlement-{DAY}.xlsx")["Differences"].max_row == 3


def test_a_bad_day_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = cli_env(RESERVATION_RECORDS_URL=f"sqlite:///{tmp_path / 'r.sqlite3'}")
    for command in ("run", "report", "export"):
        out = cli("settle", command, "--day", "6/12/2026", env=env)
        assert (out.returncode, out.stdout) == (2, ""), command
        assert out.stderr.count("\n") == 1 and "6/12/2026" in out.stderr

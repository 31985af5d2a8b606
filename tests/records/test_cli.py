"""`reservation records migrate` and `revision`: real processes against a SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from reservation.records import migrate
from tests.helpers.cli import cli, cli_env

pytestmark = pytest.mark.slow  # real processes


def test_migrate_up_down_and_the_revision(tmp_path: Path) -> None:
    env = cli_env(RESERVATION_RECORDS_URL=f"sqlite:///{tmp_path / 'r.sqlite3'}")
    newest = migrate.head()  # a later revision moves it; the test goes on as it was
    assert cli("records", "revision", env=env).stdout == f"records store: empty (newest: {newest})\n"
    up = cli("records", "migrate", env=env)
    assert (up.returncode, up.stdout) == (0, f"records store: empty -> {newest}\n"), up.stderr
    assert cli("records", "revision", env=env).stdout == \
        f"records store: {newest} (newest: {newest})\n"
    back = cli("records", "migrate", "--to", "0001", env=env)
    assert (back.returncode, back.stdout) == (0, f"records store: {newest} -> 0001\n"), back.stderr
    down = cli("records", "migrate", "--to", "base", env=env)
    assert (down.returncode, down.stdout) == (0, "records store: 0001 -> empty\n"), down.stderr


def test_the_sql_is_printed_without_connecting() -> None:
    # A server that is not there: --sql never connects.
    env = cli_env(RESERVATION_RECORDS_URL="postgresql://postgres@127.0.0.1:1/orders")
    out = cli("records", "migrate", "--sql", env=env)
    assert out.returncode == 0, out.stderr
    assert "CREATE TABLE orders" in out.stdout
    assert "CREATE INDEX order_shipments_tracking ON order_shipments (tracking_number)" \
        in out.stdout


def test_an_unknown_revision_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = cli_env(RESERVATION_RECORDS_URL=f"sqlite:///{tmp_path / 'r.sqlite3'}")
    out = cli("records", "migrate", "--to", "0999", env=env)
    assert out.returncode == 2
    assert out.stderr == ("reservation records: --to 0999: Can't locate revision identified "
                          "by '0999'\n")


def test_no_store_configured_is_one_line_and_exit_2() -> None:
    out = cli("records", "revision", env=cli_env(RESERVATION_REDIS_URL="redis://127.0.0.1:1"))
    assert out.returncode == 2
    assert out.stderr.startswith("reservation records: RESERVATION_RECORDS_URL is not set")


def test_repair_needs_the_services_redis_and_finds_nothing_broken(
        tmp_path: Path, redis_url: str) -> None:
    store = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    out = cli("records", "repair", env=cli_env(RESERVATION_RECORDS_URL=store))
    assert out.returncode == 2
    assert out.stderr.startswith("reservation records: RESERVATION_REDIS_URL is not set")
    ok = cli("records", "repair", env=cli_env(RESERVATION_RECORDS_URL=store,
                                              RESERVATION_REDIS_URL=redis_url))
    assert (ok.returncode, ok.stdout) == (0, "records store: no shard is broken\n"), ok.stderr

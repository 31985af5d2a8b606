"""The `reservation` command as a user runs it: a real process, its exit code and output.

`serve` without RESERVATION_REDIS_URL must start (and on SIGTERM stop) a private
redis-server; `check` is a health check whose exit code is the answer; the operator
commands print JSON and exit 1 with the server's INVALID_ARGUMENT message on bad input.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reservation.storage.redis_process import RedisProcess, free_port
from tests.helpers.cli import (
    STOP_BOUND_S,
    Served,
    cli,
    cli_env,
    is_alive,
    start_serve,
    stop_serve,
    wait_for,
)
from tests.helpers.redis_servers import start_redis

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

# ---------------------------------------------------------------- serve (embedded Redis)


@pytest.fixture
def served_embedded(tmp_path: Path) -> Iterator[Served]:
    served = start_serve(tmp_path)
    yield served
    stop_serve(served)


def test_serve_without_a_url_runs_its_own_redis_server(served_embedded: Served) -> None:
    assert len(served_embedded.redis_children()) == 1


def test_serve_without_a_url_keeps_an_aof_in_the_data_dir(served_embedded: Served) -> None:
    redis_dir = served_embedded.data_dir / "redis"
    aof = list(redis_dir.glob("appendonly*"))  # Redis 7: appendonlydir/, older: .aof
    assert aof, sorted(p.name for p in redis_dir.iterdir())


def test_serve_reports_serving_to_check(served_embedded: Served) -> None:
    result = cli("check", "--target", served_embedded.target)
    assert result.returncode == 0, result.stderr
    assert "SERVING" in result.stdout


def test_sigterm_makes_serve_exit_0(served_embedded: Served) -> None:
    served_embedded.proc.send_signal(signal.SIGTERM)
    assert served_embedded.proc.wait(STOP_BOUND_S) == 0, served_embedded.output()


def test_sigterm_stops_the_redis_server_that_serve_started(served_embedded: Served) -> None:
    [redis_pid] = served_embedded.redis_children()
    served_embedded.proc.send_signal(signal.SIGTERM)
    served_embedded.proc.wait(STOP_BOUND_S)
    assert wait_for(lambda: not is_alive(redis_pid), STOP_BOUND_S)


def test_data_survives_a_serve_restart_on_the_same_data_dir(tmp_path: Path) -> None:
    # The embedded Redis keeps an AOF, so stock loaded before a restart is still there.
    first = start_serve(tmp_path)
    try:
        assert cli("stock", "load", "KEEP:WH-1:7", "--target", first.target).returncode == 0
    finally:
        stop_serve(first)
    second = start_serve(tmp_path)
    try:
        result = cli("stock", "get", "KEEP", "--target", second.target)
    finally:
        stop_serve(second)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["levels"][0]["available"] == 7


# ---------------------------------------------------------------- check


def test_check_exits_1_when_nothing_listens() -> None:
    result = cli("check", "--target", f"127.0.0.1:{free_port()}", "--timeout", "1")
    assert result.returncode == 1
    assert "unhealthy" in result.stderr


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    proc = start_redis(tmp_path / "redis", appendonly=False)
    yield proc
    proc.stop()


def test_check_redis_exits_0_when_redis_runs_scripts(own_redis: RedisProcess) -> None:
    result = cli("check", "--redis", env=cli_env(RESERVATION_REDIS_URL=own_redis.url))
    assert result.returncode == 0, result.stderr


def test_check_redis_exits_1_when_redis_is_down() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = cli("check", "--redis", "--timeout", "1", env=cli_env(RESERVATION_REDIS_URL=url))
    assert result.returncode == 1
    assert "unhealthy" in result.stderr


def test_check_redis_without_a_url_is_refused() -> None:
    result = cli("check", "--redis")
    assert result.returncode != 0
    assert "RESERVATION_REDIS_URL" in result.stderr


# ---------------------------------------------------------------- operator commands


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `reservation serve` on an external Redis (RESERVATION_REDIS_URL) for the
    operator-command tests; each test uses its own SKUs and sale ids."""
    tmp = tmp_path_factory.mktemp("cli-server")
    redis_proc = start_redis(tmp / "redis", appendonly=False)
    try:
        served = start_serve(tmp, RESERVATION_REDIS_URL=redis_proc.url)
        try:
            yield served
        finally:
            stop_serve(served)
    finally:
        redis_proc.stop()


def test_serve_with_a_url_starts_no_redis_of_its_own(server: Served) -> None:
    assert server.redis_children() == []


def operator(server: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args, "--target", server.target)


def ok_json(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_stock_load_prints_the_new_levels_as_json(server: Served) -> None:
    out = ok_json(operator(server, "stock", "load", "OP-1:WH-SH:100", "OP-1:WH-BJ:50"))
    [stock] = out["stocks"]  # type: ignore[misc]
    assert stock["sku"] == "OP-1"
    assert {lv["warehouseId"]: lv["available"] for lv in stock["levels"]} == \
        {"WH-SH": 100, "WH-BJ": 50}


def test_stock_load_adds_unless_set_is_given(server: Served) -> None:
    ok_json(operator(server, "stock", "load", "OP-2:WH-1:10"))
    ok_json(operator(server, "stock", "load", "OP-2:WH-1:5"))
    out = ok_json(operator(server, "stock", "load", "--set", "OP-2:WH-1:3"))
    assert out["stocks"][0]["levels"][0]["available"] == 3  # type: ignore[index]
    out = ok_json(operator(server, "stock", "get", "OP-2"))
    assert out["levels"][0]["loaded"] == 3  # type: ignore[index]


def test_stock_load_of_quantity_zero_exits_1_naming_the_field(server: Served) -> None:
    result = operator(server, "stock", "load", "OP-3:WH-1:0")
    assert result.returncode == 1
    assert "INVALID_ARGUMENT" in result.stderr
    assert "items[0].quantity" in result.stderr


def test_stock_load_of_a_malformed_item_is_a_usage_error(server: Served) -> None:
    result = operator(server, "stock", "load", "no-colons-here")
    assert result.returncode == 2  # argparse: never reaches the server
    assert "SKU:WAREHOUSE:QUANTITY" in result.stderr


def test_sale_start_prints_the_sale_as_json(server: Served) -> None:
    out = ok_json(operator(server, "sale", "start", "op-sale-1", "OP-S1:WH-1:30", "--create",
                           "--ends", "+1h", "--per-buyer-limit", "2", "--hold-ttl", "15m"))
    sale = out["sale"]
    assert sale["saleId"] == "op-sale-1"  # type: ignore[index]
    assert sale["state"] == "FLASH_SALE_STATE_ACTIVE"  # type: ignore[index]
    assert sale["perBuyerLimit"] == 2  # type: ignore[index]
    assert sale["items"][0]["level"]["available"] == 30  # type: ignore[index]


def test_sale_start_takes_rate_limits_and_the_blocklist_its_entries(server: Served) -> None:
    out = ok_json(operator(server, "sale", "start", "op-sale-g", "OP-G:WH-1:5", "--create", "--ends",
                           "+1h", "--buyer-rate", "5/1m", "--ip-rate", "100/1h"))
    sale = out["sale"]
    assert sale["buyerRate"] == {"orders": 5, "per": "60s"}  # type: ignore[index]
    assert sale["ipRate"] == {"orders": 100, "per": "3600s"}  # type: ignore[index]
    assert ok_json(operator(server, "blocklist", "add", "ip", "192.0.2.1", "192.0.2.2",
                            "--reason", "scalper"))["size"] == 2
    listed = ok_json(operator(server, "blocklist", "list", "--kind", "ip"))
    assert [(e["value"], e["reason"]) for e in listed["entries"]] == [  # type: ignore[index]
        ("192.0.2.1", "scalper"), ("192.0.2.2", "scalper")]
    assert ok_json(operator(server, "blocklist", "remove", "ip", "192.0.2.1"))["size"] == 1


def test_sale_get_prints_the_sale_as_json(server: Served) -> None:
    ok_json(operator(server, "sale", "start", "op-sale-2", "OP-S2:WH-1:10", "--create", "--ends", "+1h"))
    out = ok_json(operator(server, "sale", "get", "op-sale-2"))
    assert out["sale"]["items"][0]["sku"] == "OP-S2"  # type: ignore[index]


def test_sale_stop_prints_the_unsold_units_as_returned(server: Served) -> None:
    ok_json(operator(server, "sale", "start", "op-sale-3", "OP-S3:WH-1:10", "--create", "--ends", "+1h"))
    out = ok_json(operator(server, "sale", "stop", "op-sale-3"))
    sale = out["sale"]
    assert sale["state"] == "FLASH_SALE_STATE_STOPPED"  # type: ignore[index]
    assert sale["items"][0]["level"]["returned"] == 10  # type: ignore[index]


def test_sale_list_shows_the_sales_started(server: Served) -> None:
    ok_json(operator(server, "sale", "start", "op-sale-l1", "OP-L1:WH-1:5", "--create", "--ends", "+1h"))
    ok_json(operator(server, "sale", "start", "op-sale-l2", "OP-L2:WH-1:5", "--create", "--ends", "+2h"))
    out = ok_json(operator(server, "sale", "list"))
    ids = [s["saleId"] for s in out["sales"]]  # type: ignore[index]
    assert ids.index("op-sale-l1") < ids.index("op-sale-l2")  # soonest to end first


def test_zero_counters_are_printed_as_numbers(server: Served) -> None:
    ok_json(operator(server, "stock", "load", "OP-Z:WH-1:4"))
    [level] = ok_json(operator(server, "stock", "get", "OP-Z"))["levels"]  # type: ignore[index]
    assert (level["available"], level["held"], level["confirmed"]) == (4, 0, 0)


def test_version_is_printed() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("reservation ")


def test_sale_start_ending_before_it_starts_exits_1_naming_the_field(server: Served) -> None:
    result = operator(server, "sale", "start", "op-sale-4", "OP-S4:WH-1:10", "--create",
                      "--starts", "+2h", "--ends", "+1h")
    assert result.returncode == 1
    assert "INVALID_ARGUMENT" in result.stderr
    assert "ends_at" in result.stderr


def test_sale_get_of_an_unknown_sale_exits_1_not_found(server: Served) -> None:
    result = operator(server, "sale", "get", "no-such-sale")
    assert result.returncode == 1
    assert "NOT_FOUND" in result.stderr
    assert "no-such-sale" in result.stderr


def test_operator_command_exits_1_when_no_server_listens() -> None:
    result = cli("stock", "get", "X", "--target", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "UNAVAILABLE" in result.stderr

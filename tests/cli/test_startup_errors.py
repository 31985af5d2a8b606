"""Every start-up failure is one line naming the setting, and exit code 2: never a
traceback (a pod crash-looping on a wrong setting would send one to the log collector per
restart). With RESERVATION_LOG_FORMAT=json the line is a JSON object like every log."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.certs import Authority
from tests.helpers.cli import cli, cli_env

# Real processes: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _one_line(env: dict[str, str]) -> str:
    result = cli("serve", env=cli_env(**{"RESERVATION_PORT": "0", **env}))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_redis_unreachable_names_the_url_setting() -> None:
    line = _one_line({"RESERVATION_REDIS_URL": "redis://127.0.0.1:1"})
    assert line == ("reservation serve: cannot reach Redis at redis://127.0.0.1:1 "
                    "(RESERVATION_REDIS_URL): connection refused; start it, or unset "
                    "RESERVATION_REDIS_URL for a private redis-server")


def test_redis_unreachable_is_one_json_line_when_logs_are_json() -> None:
    line = _one_line({"RESERVATION_REDIS_URL": "redis://127.0.0.1:1",
                      "RESERVATION_LOG_FORMAT": "json"})
    record = json.loads(line)
    assert record["level"] == "CRITICAL" and record["exit_code"] == 2
    assert "RESERVATION_REDIS_URL" in record["msg"]


def test_a_bad_setting_is_one_json_line_when_logs_are_json() -> None:
    record = json.loads(_one_line({"RESERVATION_ORDER_SLA": "jd=abc",
                                   "RESERVATION_LOG_FORMAT": "json"}))
    assert record["msg"].startswith("reservation serve: RESERVATION_ORDER_SLA: 'jd=abc'")


@pytest.mark.parametrize(("url", "says"), [
    ("notaurl", "RESERVATION_REDIS_URL='notaurl': the scheme must be redis, rediss or unix"),
    ("redis://127.0.0.1:99999", "RESERVATION_REDIS_URL='redis://127.0.0.1:99999': Port out"),
    ("redis://:secret@127.0.0.1:6379/x",
     "RESERVATION_REDIS_URL='redis://:***@127.0.0.1:6379/x': the database must be a number"),
])
def test_a_malformed_redis_url_is_refused_before_connecting(url: str, says: str) -> None:
    line = _one_line({"RESERVATION_REDIS_URL": url})
    assert line.startswith(f"reservation serve: {says}"), line
    assert "secret" not in line


def test_a_malformed_records_url_is_refused_before_connecting() -> None:
    line = _one_line({"RESERVATION_RECORDS_URL": "mysql://u:secret@127.0.0.1/orders"})
    assert line == ("reservation serve: RESERVATION_RECORDS_URL='mysql://u:***@127.0.0.1/orders': "
                    "the scheme must be sqlite or postgresql (sqlite:///path/to/records.sqlite3 "
                    "or postgresql://user[:password]@host[:port]/db)")


def test_a_records_database_that_is_not_there_names_the_url(redis_url: str,
                                                            postgres_server: str) -> None:
    missing = postgres_server.rsplit("/", 1)[0] + "/reservation_no_such_database"
    line = _one_line({"RESERVATION_REDIS_URL": redis_url, "RESERVATION_RECORDS_URL": missing})
    assert line.startswith(f"reservation serve: cannot open the records store "
                           f"'{missing.replace('postgresql://', 'postgresql+psycopg://')}' "
                           "(RESERVATION_RECORDS_URL): "), line
    assert 'database "reservation_no_such_database" does not exist' in line, line


def test_a_database_the_redis_does_not_have_names_the_url(redis_url: str) -> None:
    base = redis_url.rsplit("/", 1)[0] if redis_url.count("/") > 2 else redis_url
    line = _one_line({"RESERVATION_REDIS_URL": f"{base}/99"})
    assert line.startswith(f"reservation serve: RESERVATION_REDIS_URL={base}/99: this Redis "
                           "has no database 99"), line


def test_cluster_mode_against_a_plain_redis_names_the_cluster_setting(redis_url: str) -> None:
    line = _one_line({"RESERVATION_REDIS_URL": redis_url, "RESERVATION_REDIS_CLUSTER": "true"})
    assert "is not a Redis Cluster node; set RESERVATION_REDIS_CLUSTER=false" in line, line


def test_the_order_sla_names_its_variable() -> None:
    line = _one_line({"RESERVATION_ORDER_SLA": "jd=abc"})
    assert line == ("reservation serve: RESERVATION_ORDER_SLA: 'jd=abc' is not "
                    "channel=route_ms/ship_ms (e.g. jd=900000/14400000)")


def test_an_address_the_machine_does_not_have_is_not_called_taken(redis_url: str) -> None:
    line = _one_line({"RESERVATION_REDIS_URL": redis_url, "RESERVATION_HOST": "999.1.1.1"})
    assert line.startswith("reservation serve: RESERVATION_HOST=999.1.1.1 is not an address "
                           "of this machine"), line
    assert "taken" not in line


def test_a_taken_port_says_taken_and_names_the_port_setting(redis_url: str,
                                                            taken_port: int) -> None:
    line = _one_line({"RESERVATION_REDIS_URL": redis_url, "RESERVATION_PORT": str(taken_port)})
    assert line == (f"reservation serve: cannot listen on 127.0.0.1:{taken_port}: the port is "
                    "taken (RESERVATION_PORT; only --workers N shares a port)")


def test_a_taken_metrics_port_names_the_metrics_setting(redis_url: str, taken_port: int) -> None:
    line = _one_line({"RESERVATION_REDIS_URL": redis_url,
                      "RESERVATION_METRICS_PORT": str(taken_port)})
    assert line.startswith(f"reservation serve: cannot serve /metrics on 127.0.0.1:{taken_port} "
                           "(RESERVATION_METRICS_PORT):"), line


def test_a_tls_key_of_another_certificate_is_named_not_called_a_taken_port(
        redis_url: str, tmp_path: Path) -> None:
    ca = Authority(tmp_path)
    one, other = ca.issue("one", "127.0.0.1", server=True), ca.issue("two", "x", server=True)
    line = _one_line({"RESERVATION_REDIS_URL": redis_url, "RESERVATION_TLS_CERT": str(one.cert),
                      "RESERVATION_TLS_KEY": str(other.key)})
    assert line == (f"reservation serve: cannot use the TLS files: RESERVATION_TLS_KEY "
                    f"({other.key}) is not the key of RESERVATION_TLS_CERT ({one.cert})")

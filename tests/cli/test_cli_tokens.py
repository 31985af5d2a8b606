"""Where the commands take their token from, against a real server with an auth file:
`--token-file PATH`, `--token-file -` (stdin), RESERVATION_AUTH_TOKEN, and `--token`, which
still works but warns that ps and shell history show it. Both commands (`reservation`,
`reservation-clients`) share the options (reservation/api/connection.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reservation.access.tokens import hash_token
from reservation.api.connection import TOKEN_ARGUMENT_WARNING
from tests.helpers.cli import Served, cli_env, start_serve, stop_serve
from tests.helpers.redis_servers import start_redis

# Real processes: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

OPERATOR, READER = "tok-cli-operator", "tok-cli-reader"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("cli-tokens")
    auth = tmp / "principals.yaml"
    auth.write_text(yaml.safe_dump({"principals": [
        {"name": "ops", "role": "operator", "token_hash": hash_token(OPERATOR)},
        {"name": "dash", "role": "reader", "token_hash": hash_token(READER)}]}))
    redis_proc = start_redis(tmp / "redis", appendonly=False)
    try:
        served = start_serve(tmp, RESERVATION_REDIS_URL=redis_proc.url,
                             RESERVATION_AUTH_FILE=str(auth),
                             RESERVATION_ORDER_BUYER_HASH_KEY="cli-tokens-buyer-key",
                             RESERVATION_WRITE_BACK_BATCH_KEY="cli-tokens-key")
        try:
            yield served
        finally:
            stop_serve(served)
    finally:
        redis_proc.stop()


def run(server: Served, *args: str, stdin: str = "", command: str = "reservation.cli",
        **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", command, *args, "--target", server.target],
                          env=cli_env(**env), input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)


def token_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "token"
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def loaded(result: subprocess.CompletedProcess[str]) -> int:
    """Units loaded, from `reservation stock load`'s reply (fails on an error)."""
    assert result.returncode == 0, result.stderr
    stocks = json.loads(result.stdout)["stocks"]
    return sum(int(level["available"]) for stock in stocks for level in stock["levels"])


def test_a_token_file_authenticates_without_a_warning(server: Served, tmp_path: Path) -> None:
    path = token_file(tmp_path, f"{OPERATOR}\n")
    assert loaded(run(server, "stock", "load", "TOK-F:WH-1:3", "--token-file", path)) == 3
    read = run(server, "stock", "get", "TOK-F", "--token-file", path)
    assert (read.returncode, read.stderr) == (0, "")


def test_a_token_file_is_read_from_its_first_line_spaces_dropped(
        server: Served, tmp_path: Path) -> None:
    path = token_file(tmp_path, f"  {OPERATOR}  \nsecond line ignored\n")
    assert loaded(run(server, "stock", "load", "TOK-L:WH-1:2", "--token-file", path)) == 2


def test_token_file_dash_reads_stdin(server: Served) -> None:
    result = run(server, "stock", "load", "TOK-S:WH-1:4", "--token-file", "-",
                 stdin=f"{OPERATOR}\n")
    assert loaded(result) == 4
    assert result.stderr == ""


def test_the_environment_variable_authenticates(server: Served) -> None:
    result = run(server, "stock", "load", "TOK-E:WH-1:5", RESERVATION_AUTH_TOKEN=OPERATOR)
    assert loaded(result) == 5
    assert result.stderr == ""


def test_a_token_file_wins_over_the_environment(server: Served, tmp_path: Path) -> None:
    path = token_file(tmp_path, OPERATOR)
    result = run(server, "stock", "load", "TOK-W:WH-1:1", "--token-file", path,
                 RESERVATION_AUTH_TOKEN="not-a-token")
    assert loaded(result) == 1


def test_token_on_the_command_line_works_and_warns_once(server: Served) -> None:
    result = run(server, "stock", "load", "TOK-A:WH-1:6", "--token", OPERATOR)
    assert loaded(result) == 6
    assert result.stderr.splitlines() == [TOKEN_ARGUMENT_WARNING]
    assert "ps" in TOKEN_ARGUMENT_WARNING and "history" in TOKEN_ARGUMENT_WARNING


def test_the_token_read_is_the_one_the_server_checks(server: Served, tmp_path: Path) -> None:
    # A reader's token from a file: reads pass, writes are PERMISSION_DENIED, so the
    # file's token (not some default) reached the server.
    assert loaded(run(server, "stock", "load", "TOK-G:WH-1:1",
                      RESERVATION_AUTH_TOKEN=OPERATOR)) == 1
    path = token_file(tmp_path, READER)
    read = run(server, "stock", "get", "TOK-G", "--token-file", path)
    assert read.returncode == 0, read.stderr
    refused = run(server, "stock", "load", "TOK-R:WH-1:1", "--token-file", path)
    assert refused.returncode == 1
    assert "PERMISSION_DENIED" in refused.stderr


def test_no_token_is_unauthenticated(server: Served) -> None:
    result = run(server, "stock", "get", "TOK-F")
    assert result.returncode == 1
    assert "UNAUTHENTICATED" in result.stderr


def test_a_missing_or_empty_token_file_is_a_usage_error_naming_it(
        server: Served, tmp_path: Path) -> None:
    missing = run(server, "stock", "get", "X", "--token-file", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert f"--token-file {tmp_path / 'nope'}: No such file or directory" in missing.stderr
    empty = run(server, "stock", "get", "X", "--token-file", token_file(tmp_path, "\n\n"))
    assert empty.returncode == 2
    assert "no token in it" in empty.stderr
    nothing = run(server, "stock", "get", "X", "--token-file", "-", stdin="")
    assert nothing.returncode == 2
    assert "--token-file stdin: no token in it" in nothing.stderr


def test_token_and_token_file_together_are_refused(server: Served, tmp_path: Path) -> None:
    result = run(server, "stock", "get", "X", "--token", OPERATOR,
                 "--token-file", token_file(tmp_path, OPERATOR))
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


def test_reservation_clients_takes_the_same_token_options(
        server: Served, tmp_path: Path) -> None:
    audit = ["audit", "--db", f"sqlite:///{tmp_path / 'audit.db'}", "--until-idle",
             "--wait", "0", "--quiet"]
    clients = "reservation.clients"
    from_file = run(server, *audit, "--token-file", token_file(tmp_path, OPERATOR),
                    command=clients)
    assert (from_file.returncode, from_file.stderr) == (0, "")
    from_stdin = run(server, *audit, "--token-file", "-", stdin=OPERATOR, command=clients)
    assert (from_stdin.returncode, from_stdin.stderr) == (0, "")
    argument = run(server, *audit, "--token", OPERATOR, command=clients)
    assert argument.returncode == 0
    assert argument.stderr.splitlines() == [TOKEN_ARGUMENT_WARNING]
    wrong = run(server, *audit, "--token-file", token_file(tmp_path, "wrong"), command=clients)
    assert wrong.returncode == 1
    assert "UNAUTHENTICATED" in wrong.stderr


def test_whoami_names_the_principal_of_the_token(server: Served, tmp_path: Path) -> None:
    result = run(server, "auth", "whoami", "--token-file", token_file(tmp_path, READER))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"authEnabled": True, "principal": "dash",
                                         "roles": ["reader"]}

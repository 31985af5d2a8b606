"""`reservation listings` against a running server: the rule set from a YAML file, what
a listing should show, resyncs, each listing's view, bad input naming the field."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Served, cli, start_serve, stop_serve
from tests.helpers.redis_servers import start_redis

# Real processes: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

RULES = """\
rules:
  - name: live
    when: {sku: [PHONE]}
    then:
      shares: {douyin: 60, taobao: 30, pos: rest}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("cli-listings")
    redis_proc = start_redis(tmp / "redis", appendonly=False)
    try:
        served = start_serve(tmp, RESERVATION_REDIS_URL=redis_proc.url)
        try:
            yield served
        finally:
            stop_serve(served)
    finally:
        redis_proc.stop()


def run(server: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args, "--target", server.target)


def ok(result: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_operators_share_a_sku_among_the_channels_from_a_rule_file(
        server: Served, tmp_path: Path) -> None:
    ok(run(server, "stock", "load", "PHONE:WH-A:100"))
    rules = tmp_path / "listings.yaml"
    rules.write_text(RULES)
    put = ok(run(server, "listings", "rules", "put", str(rules), "--comment", "live sale"))
    assert put["rules"]["version"] == 1 and put["rules"]["actor"].startswith("operator")
    shown = ok(run(server, "listings", "quantities", "douyin", "live", "PHONE"))
    assert shown["quantities"][0]["quantity"] == 60
    assert ok(run(server, "listings", "resync", "douyin"))["resyncEpoch"] == 1
    view = ok(run(server, "listings", "get", "PHONE"))
    assert {v["channel"] for v in view["listings"]} == {"douyin", "taobao", "pos"}
    history = ok(run(server, "listings", "rules", "history"))
    assert [v["comment"] for v in history["versions"]] == ["live sale"]


def test_a_bad_rule_file_exits_1_naming_the_field(server: Served, tmp_path: Path) -> None:
    rules = tmp_path / "bad.yaml"
    rules.write_text(RULES.replace("rest", "70"))
    result = run(server, "listings", "rules", "put", str(rules))
    assert result.returncode == 1
    assert "INVALID_ARGUMENT" in result.stderr and "rules[0].then.shares" in result.stderr

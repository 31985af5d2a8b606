"""The auth file: parsing, hashes, reloading without a restart, the development token,
and the principal's name in log lines and audit records."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from reservation.access import principals, tokens
from reservation.access.roles import Role
from reservation.logs import JsonFormatter, TextFormatter, bound
from reservation.server.app import App, AuthFileError, start_app
from reservation.settings import ConfigError, Settings
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2
from tests.helpers.access import auth_document, token_of
from tests.helpers.server import Stubs, test_settings


@pytest.mark.parametrize("scheme", ["sha256", "scrypt"])
def test_a_token_matches_its_hash_only(scheme: str) -> None:
    stored = tokens.hash_token("right", scheme)
    tokens.check_hash(stored)
    assert tokens.matches("right", stored)
    assert not tokens.matches("wrong", stored)
    assert not tokens.matches("righ", stored)


@pytest.mark.parametrize("entry, complaint", [
    ({"role": "adapter", "token_hash": tokens.hash_token("t"), "channels": ["jd"]}, ".name"),
    ({"name": "a", "role": "king", "token_hash": tokens.hash_token("t")}, ".role"),
    ({"name": "a", "role": "adapter", "token_hash": tokens.hash_token("t")}, ".channels"),
    ({"name": "a", "role": "wms", "token_hash": tokens.hash_token("t")}, ".groups"),
    ({"name": "a", "role": "reader"}, "needs token_hash or client_cert_cn"),
    ({"name": "a", "role": "reader", "token_hash": "plain-text"}, ".token_hash"),
    ({"name": "a", "role": "reader", "token_hash": tokens.hash_token("t"), "tokn": 1},
     "unknown key"),
    ({"name": "a", "role": "reader", "token_hash": tokens.hash_token("t"),
      "limits": {"rate": -1}}, ".limits.rate"),
])
def test_a_bad_entry_is_refused_naming_the_key(entry: dict[str, Any], complaint: str) -> None:
    with pytest.raises(principals.PrincipalFileError, match=rf"principals\[0\].*{complaint}"):
        principals.parse({"principals": [entry]})


def test_duplicate_names_are_refused() -> None:
    doc = auth_document()
    doc["principals"].append(dict(doc["principals"][0]))
    with pytest.raises(principals.PrincipalFileError, match="appears twice"):
        principals.parse(doc)


def test_roles_and_scope_are_read() -> None:
    d = principals.parse(auth_document())
    adapter = d.by_token("tok-adapter-jd")
    assert adapter is not None and adapter.roles == {Role.ADAPTER}
    assert adapter.channels == {"jd"} and d.by_token("tok-adapter-j") is None


async def test_the_file_is_read_again_when_it_changes(app: App, as_stubs: Stubs,
                                                      auth_file: Path) -> None:
    newcomer = (("authorization", "Bearer tok-new"),)
    request = rpb.GetStockRequest(sku="NOPE")

    async def code(metadata: Any) -> grpc.StatusCode:
        try:
            await as_stubs.rs.GetStock(request, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    assert await code(newcomer) == grpc.StatusCode.UNAUTHENTICATED
    doc = auth_document([{"name": "new", "role": "reader",
                          "token_hash": tokens.hash_token("tok-new")}])
    _rewrite(auth_file, doc)
    assert await code(newcomer) != grpc.StatusCode.UNAUTHENTICATED
    # A broken edit keeps the last good file in force...
    _rewrite(auth_file, "principals: [ {")
    assert await code(newcomer) != grpc.StatusCode.UNAUTHENTICATED
    # ...and revoking works the same way.
    _rewrite(auth_file, auth_document())
    assert await code(newcomer) == grpc.StatusCode.UNAUTHENTICATED
    assert await code(token_of("reader")) != grpc.StatusCode.UNAUTHENTICATED


def _rewrite(path: Path, content: Any) -> None:
    text = content if isinstance(content, str) else yaml.safe_dump(content)
    path.write_text(text)
    st = path.stat()  # a new mtime even within the file system's timestamp granularity
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


async def test_audit_records_and_log_lines_name_the_principal(app: App,
                                                             as_stubs: Stubs) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("reservation.audit")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        await as_stubs.admin.LoadStock(apb.LoadStockRequest(
            items=[types_pb2.StockItem(sku="AU-1", warehouse_id="WH", quantity=1)],
            mode=apb.LOAD_MODE_SET),
            metadata=(*token_of("operator"), ("x-operator", "alice")))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    record = json.loads(stream.getvalue().splitlines()[-1])
    assert (record["who"], record["on_behalf_of"], record["principal"]) == (
        "ops", "alice", "ops")


def test_bound_fields_go_on_every_record_in_both_formats() -> None:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "hello", None, None)
    with bound(principal="jd-adapter"):
        assert json.loads(JsonFormatter().format(record))["principal"] == "jd-adapter"
        assert TextFormatter("%(message)s").format(record) == "hello [principal=jd-adapter]"
    assert "principal" not in json.loads(JsonFormatter().format(record))


def test_auth_without_a_batch_key_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="WRITE_BACK_BATCH_KEY"):
        Settings(auth_token="t")
    with pytest.raises(ConfigError, match="WRITE_BACK_BATCH_KEY"):
        Settings.from_env({"RESERVATION_AUTH_FILE": "/x.yaml"})


def test_auth_without_a_strong_buyer_hash_key_is_refused_at_start() -> None:
    # An empty (or short) key makes the keyed hash of an 11-digit phone number a table
    # lookup away: with callers kept apart by auth, the buyers' phones must be too.
    for key in ("", "short-key"):
        with pytest.raises(ConfigError, match="RESERVATION_ORDER_BUYER_HASH_KEY of at least"):
            Settings(auth_token="t", write_back_batch_key="k", order_buyer_hash_key=key)
    Settings(auth_token="t", write_back_batch_key="k", order_buyer_hash_key="x" * 16)
    Settings(order_buyer_hash_key="")  # without auth (a laptop, the demo): not required


async def test_a_broken_auth_file_is_refused_at_start(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"principals": [{"name": "x", "role": "king"}]}))
    with pytest.raises(AuthFileError, match="role"):
        await start_app(test_settings(redis_url, auth_file=str(path),
                                      write_back_batch_key="k"))


async def test_the_development_token_is_every_role_and_says_so(
        redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        app = await start_app(test_settings(redis_url, auth_token="dev",
                                            write_back_batch_key="k"))
    try:
        assert "development shortcut" in caplog.text
        async with grpc.aio.insecure_channel(app.target) as channel:
            stubs = Stubs(channel)
            dev = (("authorization", "Bearer dev"),)
            await stubs.admin.ListFlashSales(apb.ListFlashSalesRequest(), metadata=dev)
            reply = await stubs.rs.ReserveBatch(rpb.ReserveBatchRequest(requests=[
                rpb.ReserveRequest(channel="any", order_id="o", buyer_id="b")]), metadata=dev)
            assert reply.results[0].error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    finally:
        await app.stop(grace=0)


def test_hash_token_command_prints_a_usable_hash() -> None:
    out = subprocess.run([sys.executable, "-m", "reservation.cli", "auth", "hash-token"],
                         input="s3cret\n", capture_output=True, text=True, check=True)
    stored = out.stdout.strip()
    assert tokens.matches("s3cret", stored) and "s3cret" not in stored

"""The generated reference pages (docs_gen/) cover everything they claim to, from the
code itself: every setting, every RPC and message, every command and option."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
import re

import pytest

import reservation.v1
from docs_gen import api_page, cli_page, md, settings_page
from reservation.cli.main import build_parser as server_parser
from reservation.clients.cli import build_parser as clients_parser
from reservation.settings import Settings


def test_every_setting_has_a_docstring() -> None:
    docs = settings_page.field_docstrings()
    names = [f.name for f in dataclasses.fields(Settings)]
    assert sorted(docs) == sorted(names)
    assert [n for n in names if not docs[n]] == [], "give these Settings fields a docstring"


def test_a_field_without_a_docstring_is_found() -> None:
    source = ("class Settings:\n    a: int = 1\n    \"\"\"Documented.\"\"\"\n"
              "    b: int = 2\n    c: str = ''\n    \"\"\"Also.\"\"\"\n")
    assert settings_page.field_docstrings(source) == {"a": "Documented.", "b": "", "c": "Also."}


def test_the_settings_page_lists_every_variable_once_with_its_meaning() -> None:
    page = settings_page.render()
    docs = settings_page.field_docstrings()
    for f in dataclasses.fields(Settings):
        rows = [ln for ln in page.splitlines() if ln.startswith(f"| `RESERVATION_{f.name.upper()}` |")]
        assert len(rows) == 1, f.name
        assert md.cell(docs[f.name]) in rows[0], f.name
    assert "*no docstring*" not in page


def test_the_settings_page_shows_no_value_of_the_machine_that_built_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """data_dir's default is computed from $HOME at import: the page shows the rule."""
    page = settings_page.render()
    row = next(ln for ln in page.splitlines() if "`RESERVATION_DATA_DIR`" in ln)
    assert "~/.local/share/reservation" in row and str(Settings().data_dir) not in row


def test_settings_defaults_read_as_people_write_them() -> None:
    assert settings_page.render_default("x_ms", 900_000, None) == "`900000` (15 min)"
    assert settings_page.render_default("x_ms", 86_400_000 * 2, None) == "`172800000` (2 days)"
    assert settings_page.render_default("x", None, None) == "unset"
    assert settings_page.render_default("x", "", None) == "empty"
    assert settings_page.render_default("x", False, None) == "`false`"


def _rpcs() -> dict[str, list[str]]:
    """Service -> its methods, from the generated Python modules (not from the page's
    own protoc run)."""
    found: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(reservation.v1.__path__):
        if info.name.endswith("_pb2"):
            module = importlib.import_module(f"reservation.v1.{info.name}")
            for name, service in module.DESCRIPTOR.services_by_name.items():
                found[name] = [m.name for m in service.methods]
    return found


def _messages() -> set[str]:
    found = set()
    for info in pkgutil.iter_modules(reservation.v1.__path__):
        if info.name.endswith("_pb2"):
            module = importlib.import_module(f"reservation.v1.{info.name}")
            found |= set(module.DESCRIPTOR.message_types_by_name)
            found |= set(module.DESCRIPTOR.enum_types_by_name)
    return found


@pytest.fixture(scope="module")
def api() -> str:
    return api_page.render()


def test_the_api_page_has_every_service_and_method(api: str) -> None:
    rpcs = _rpcs()
    assert len(rpcs) >= 8
    for service, methods in rpcs.items():
        section = api.split(f"\n### {service}\n", 1)[1].split("\n### ", 1)[0]
        listed = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
        assert listed == methods, service


def test_the_api_page_has_every_message_and_enum(api: str) -> None:
    headings = set(re.findall(r"^### (\S+)$", api, flags=re.MULTILINE))
    assert _messages() <= headings


def test_the_api_page_carries_the_proto_comments_and_shows_missing_ones(api: str) -> None:
    # Written above `rpc ListFlashSales` and `message StockLevel` in the protos.
    assert "Sales started within the retention period, the soonest to end first." in api
    assert "Invariant: loaded = available + held + confirmed + returned." in api
    assert api_page.NO_COMMENT in api  # some elements have none yet: they say so


def test_every_type_link_of_the_api_page_has_its_heading(api: str) -> None:
    headings = {h.lower().replace(".", "") for h in
                re.findall(r"^### (\S+)$", api, flags=re.MULTILINE)}
    assert set(re.findall(r"\]\(#([a-z0-9]+)\)", api)) <= headings


def _commands(parser: argparse.ArgumentParser, path: list[str]) -> list[list[str]]:
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, [*path, name])
    return found


@pytest.mark.parametrize("name,build", [("reservation", server_parser),
                                        ("reservation-clients", clients_parser)])
def test_the_cli_page_has_every_command_and_option(name: str, build: object) -> None:
    page = cli_page.render()
    parser = build()  # type: ignore[operator]
    for path in _commands(parser, [name]):
        heading = f"{'#' * min(len(path) + 1, 4)} {' '.join(path)}\n"
        assert heading in page, path
    for flag in ("--per-buyer-limit", "--queue-deadline", "--until-idle", "--ledger"):
        assert f"`{flag}" in page


def test_the_cli_page_never_shows_a_value_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESERVATION_AUTH_TOKEN", "tok-s3cret-value")
    monkeypatch.setenv("CHANNEL_JD_APP_SECRET", "jd-s3cret-value")
    page = cli_page.render()
    assert "s3cret" not in page


def test_markdown_text_keeps_angle_brackets_visible() -> None:
    assert md.cell("Bearer <token> | `feed-<channel>`") == \
        "Bearer &lt;token&gt; \\| `feed-<channel>`"

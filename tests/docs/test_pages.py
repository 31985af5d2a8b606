"""The README and the docs pages stay true: their links resolve, their commands parse
with the real parsers, their grpcurl requests are real methods with valid request JSON,
and every results file is on the performance page with its date and commit."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import MethodDescriptor

import reservation.v1
from reservation.cli.main import build_parser as server_parser
from reservation.clients.cli import build_parser as clients_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
TOP = [ROOT / name for name in ("README.md", "CONTRIBUTING.md", "CHANGELOG.md")] + \
    [ROOT / "k8s" / "README.md", ROOT / "clients" / "README.md"]


def _blocks(text: str) -> list[str]:
    """Shell lines of the fenced code blocks, continuations joined, comments dropped."""
    lines: list[str] = []
    fence, open_line = False, False
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("```"):
            fence, open_line = not fence, False
            continue
        if not fence:
            continue
        if open_line:
            lines[-1] = lines[-1].removesuffix("\\") + " " + stripped
        else:
            lines.append(stripped)
        open_line = lines[-1].endswith("\\") or not _complete(lines[-1])
    return lines


def _complete(line: str) -> bool:
    """False while a quoted argument runs on to the next line."""
    try:
        shlex.split(line, comments=True)
    except ValueError:
        return False
    return True


def _commands(text: str, program: str) -> list[list[str]]:
    """Argument lists of every `.venv/bin/<program> ...` in the code blocks."""
    found = []
    for line in _blocks(text):
        at = line.find(f".venv/bin/{program} ")
        if at < 0 or line.startswith("#"):
            continue
        words = shlex.split(line[at:], comments=True)
        for stop in ("|", "&", ";", ">", "<"):
            if stop in words:
                words = words[: words.index(stop)]
        found.append(words[1:])
    return found


def _placeholder(words: list[str]) -> bool:
    """Synopsis lines ("[--sku X]", "URL", "SKU:QTY...") show a shape, not a command."""
    return any(w.startswith("[") or w.endswith("]") or "..." in w or w.isupper()
               for w in words)


def _parses(build: Callable[[], argparse.ArgumentParser], words: list[str]) -> str | None:
    try:
        build().parse_args(words)
    except SystemExit as exc:
        return None if exc.code == 0 else f"{' '.join(words)}: exit {exc.code}"
    return None


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_every_command_on_the_page_parses(page: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    text = page.read_text(encoding="utf-8")
    wrong = []
    for program, build in (("reservation", server_parser),
                           ("reservation-clients", clients_parser)):
        for words in _commands(text, program):
            if page.name == "README.md" or not _placeholder(words):
                problem = _parses(build, words)
                if problem:
                    wrong.append(problem)
    assert wrong == [], capsys.readouterr().err


def _methods() -> dict[str, MethodDescriptor]:
    found = {}
    for info in pkgutil.iter_modules(reservation.v1.__path__):
        if info.name.endswith("_pb2"):
            module = importlib.import_module(f"reservation.v1.{info.name}")
            for service in module.DESCRIPTOR.services_by_name.values():
                for method in service.methods:
                    found[f"{service.full_name}/{method.name}"] = method
    return found


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_every_grpcurl_request_names_a_method_and_fits_its_request(page: Path) -> None:
    methods = _methods()
    from google.protobuf import message_factory
    for line in _blocks(page.read_text(encoding="utf-8")):
        if not line.startswith("grpcurl ") or " list" in line:
            continue
        words = shlex.split(line)
        method = methods[words[-1]]
        request = message_factory.GetMessageClass(method.input_type)()
        json_format.Parse(words[words.index("-d") + 1], request)


def _links(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", text)


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", TOP, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_of_the_top_level_pages_resolves(page: Path) -> None:
    """mkdocs --strict checks docs/; these files live outside it."""
    if not page.exists():
        pytest.skip(f"{page.name} not written yet")
    text = page.read_text(encoding="utf-8")
    headings = {_slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}
    for link in _links(text):
        if link.startswith(("http://", "https://")):
            continue
        target, _, anchor = link.partition("#")
        if target:
            assert (page.parent / target).exists(), f"{page.name}: {link}"
        elif anchor:
            assert anchor in headings, f"{page.name}: {link}"


def test_the_readme_is_a_front_door() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    assert "## Contents" in text
    first = text.index("```sh")
    assert text.index("make demo") > first and text.index("make test") > first
    assert text.index("make demo") < text.index("## Contents")
    assert sum(1 for link in _links(text) if link.startswith("docs/")) >= 10


def test_every_results_file_is_on_the_performance_page_with_its_date_and_commit() -> None:
    page = (DOCS / "performance" / "index.md").read_text(encoding="utf-8")
    rows = [ln for ln in page.splitlines() if ln.startswith("| [")]
    missing = []
    for path in sorted((ROOT / "benchmarks" / "results").iterdir()):
        name = path.name
        at = re.fullmatch(r"(.+-at-)([0-9a-f]{7})(\.\w+)", name)
        if at:  # orders-at-<commit>.json: the pattern and the commit in one row
            pattern = f"`{at.group(1)}<commit>{at.group(3)}`"
            row = [r for r in rows if pattern in r and at.group(2) in r]
        else:
            row = [r for r in rows if f"`{name}`" in r]
        if len(row) != 1:
            missing.append(name)
            continue
        cells = [c.strip() for c in row[0].strip("|").split("|")]
        assert re.search(r"20\d\d-\d\d-\d\d", cells[2]), name  # measured
        assert re.search(r"[0-9a-f]{7}", cells[3]), name  # commit
    assert missing == []


def test_results_json_quotes_are_from_the_files() -> None:
    """The dates the performance page gives for runs that record one are those runs'."""
    page = (DOCS / "performance" / "index.md").read_text(encoding="utf-8")
    for name, key in (("results.json", "date"), ("orders.json", "when")):
        meta = json.loads((ROOT / "benchmarks" / "results" / name).read_text())["meta"]
        row = next(r for r in page.splitlines() if f"`{name}`" in r)
        assert meta[key] in row, name


def test_the_checks_see_the_readme_commands_and_catch_a_wrong_one() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(_commands(text, "reservation")) >= 8
    assert len(_commands(text, "reservation-clients")) >= 3
    bad = "```sh\n.venv/bin/reservation sale start s1 A:W:1 --ends +1h \\\n    --buyer-limit 2\n```"
    [words] = _commands(bad, "reservation")
    assert _parses(server_parser, words) is not None

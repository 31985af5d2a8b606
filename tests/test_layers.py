"""Dependencies point down only: the layers and code map in docs/ARCHITECTURE.md are
enforced here.

Every import in both distributions (module level and inside functions alike) is checked:
in the server's reservation/ against the layers below (an upward edge, or a capability
importing a capability it does not declare, fails with the file, the line and the edge);
in the clients' clients/reservation/clients/ against the API alone (reservation.v1, the
generated stubs, and reservation.api, how to connect): a client never imports the server.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "reservation"
CLIENTS = ROOT / "clients" / "reservation" / "clients"

# Lowest first. A module may import its own package and any package of a lower layer.
# The API packages (v1: generated; api: how to connect) are shipped by both distributions
# and import nothing of the service: they are the bottom of the callers' side.
LAYERS: list[set[str]] = [
    {"api"},
    {"settings", "errors", "clock", "logs"},  # the foundation: may import each other
    {"domain"},
    {"storage"},
    {"stock", "reserving", "queueing", "writeback", "routing", "ordersync", "interception",
     "access",
     "guard", "listings", "records", "settlement"},
    {"server"},
    {"cli"},
]
# Capabilities share one layer; these are the edges between them that are allowed.
CAPABILITY_DEPS: dict[str, set[str]] = {
    "queueing": {"reserving"},
    "ordersync": {"reserving", "routing", "stock", "writeback"},
    "interception": {"ordersync", "routing"},
    "reserving": {"routing"},
    "records": {"ordersync"},
    "settlement": {"records", "ordersync"},
}
# The generated protobuf code is for the edge only: nothing below the server imports it.
# reservation.api is for callers: the server's CLI (and the clients).
MAY_IMPORT_V1 = {"server", "cli", "v1", "api"}  # api: the messages callers build (history)
MAY_IMPORT_API = {"cli", "api"}
CLIENTS_MAY_IMPORT = {"clients", "v1", "api"}


def _rank(top: str) -> int:
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"reservation.{top} is in no layer: add it to LAYERS and to "
                         "docs/ARCHITECTURE.md")


def _top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "reservation" and len(parts) > 1 else None


def _imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in a file, relative ones resolved."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # "from reservation import x" imports the subpackage x
            names = [f"{base}.{a.name}" for a in node.names] if base == "reservation" else [base]
            out += [(node.lineno, n) for n in names]
    return out


def _server_edge(me: str, other: str, where: str) -> str | None:
    """Why the server's package `me` may not import `other`; None when it may."""
    if other == "clients":
        return f"{where} (the server never imports the clients distribution)"
    if other == "v1":
        return None if me in MAY_IMPORT_V1 else f"{where} (generated code is for the gRPC edge only)"
    if other == "api":
        return None if me in MAY_IMPORT_API else f"{where} (reservation.api is for callers)"
    if _rank(other) > _rank(me):
        return f"{where} (upward)"
    if _rank(other) == _rank(me) > 1 and other not in CAPABILITY_DEPS.get(me, set()):
        return f"{where} (sideways: not in CAPABILITY_DEPS)"
    return None


def _violations(package: Path = PACKAGE) -> list[str]:
    found = []
    root = package.parent
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[1] == "v1" or len(rel.parts) == 2 and rel.name == "__init__.py":
            continue
        me = rel.with_suffix("").parts[1]
        for line, module in _imports(path, root):
            other = _top(module)
            if other is None or other == me:
                continue
            problem = _server_edge(me, other, f"{rel}:{line}: reservation.{me} imports {module}")
            if problem:
                found.append(problem)
    return found + _client_violations()


def _client_violations(clients: Path = CLIENTS) -> list[str]:
    found = []
    root = clients.parent.parent
    for path in sorted(clients.rglob("*.py")):
        rel = path.relative_to(root)
        for line, module in _imports(path, root):
            other = _top(module)
            if other is not None and other not in CLIENTS_MAY_IMPORT:
                found.append(f"{rel}:{line}: reservation.clients imports {module} "
                              "(clients use the gRPC API only)")
    return found


def test_dependencies_point_down_only() -> None:
    assert _violations() == []


def test_every_package_is_in_a_layer() -> None:
    for path in PACKAGE.iterdir():
        if path.is_dir() and (path / "__init__.py").exists() and path.name != "v1":
            _rank(path.name)


def test_both_distributions_ship_the_same_api_packages() -> None:
    """clients/ links to the server tree's API packages: one source for both wheels."""
    for name in ("v1", "api"):
        link = CLIENTS.parent / name
        assert link.is_symlink() and link.resolve() == (PACKAGE / name).resolve(), link


def test_a_client_importing_the_server_is_found(tmp_path: Path) -> None:
    clients = tmp_path / "reservation" / "clients"
    clients.mkdir(parents=True)
    (clients / "ok.py").write_text("from reservation.v1 import types_pb2\n"
                                   "from reservation.api import connection\n")
    (clients / "bad.py").write_text("from ..storage import store\n")
    assert _client_violations(clients) == [
        ("reservation/clients/bad.py:1: reservation.clients imports reservation.storage "
        "(clients use the gRPC API only)")]


def test_capability_edges_have_no_cycle() -> None:
    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n}))
                   for n in CAPABILITY_DEPS.get(start, set()))
    assert not [c for c in CAPABILITY_DEPS if reaches(c, c)]


@pytest.mark.parametrize("source,expected", [
    ("from reservation.server import app\n", "reservation.server"),
    ("from reservation import server\n", "reservation.server"),
    ("import reservation.server.app\n", "reservation.server.app"),
])
def test_the_checker_sees_every_import_form(tmp_path: Path, source: str, expected: str) -> None:
    """The checker itself: each form of import is seen (so an upward edge cannot hide).
    The probe is a package of its own under tmp_path: written into the real tree it was
    seen by the other checks running at the same time (pytest -n)."""
    fake = tmp_path / "reservation" / "domain" / "_layer_probe.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source)
    assert any(m == expected for _, m in _imports(fake, tmp_path))
    assert any("reservation.domain imports" in v for v in _violations(tmp_path / "reservation"))

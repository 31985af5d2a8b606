"""Tests share code through tests/helpers/ only: no module imports from a conftest.py
(pytest loads those as plugins; importing them runs them twice under two names) or from
a test module (test_*.py: collecting one runs the other's module code and ties two
tests' files together)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in the tree, `from a import b` as a.b too
    (b may be a module)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def offending(module: str, root: Path = TESTS.parent) -> bool:
    """A conftest or test module of tests/ (`from tests.x import test_settings` imports a
    function, not a module: only a name with a file behind it counts)."""
    last = module.rsplit(".", 1)[-1]
    return (module.startswith("tests.") and (last == "conftest" or last.startswith("test_"))
            and (root / (module.replace(".", "/") + ".py")).is_file())


def test_no_test_code_imports_a_conftest_or_a_test_module() -> None:
    bad = [f"{path.relative_to(TESTS.parent)}:{line}: imports {module}"
           for path in sorted(TESTS.rglob("*.py"))
           for line, module in imported_modules(ast.parse(path.read_text()))
           if offending(module)]
    assert not bad, "move what is shared to tests/helpers/:\n" + "\n".join(bad)


def test_the_check_names_what_it_refuses(tmp_path: Path) -> None:
    for name in ("conftest", "a/conftest", "a/test_b", "a/test_d", "helpers/waiting"):
        (tmp_path / "tests" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tests" / f"{name}.py").touch()
    tree = ast.parse("from tests.conftest import Stubs\nfrom tests.a.test_b import c\n"
                     "import tests.a.test_d\nfrom tests.helpers.waiting import wait_until\n"
                     "from tests.a import conftest\nfrom tests.helpers.server import test_settings\n")
    assert [m for _, m in imported_modules(tree) if offending(m, tmp_path)] == [
        "tests.conftest", "tests.a.test_b", "tests.a.test_d", "tests.a.conftest"]

"""The settings reference: every field of reservation.settings.Settings as a table row.

The variable is RESERVATION_<FIELD>; the default is the dataclass's; the meaning is the
field's attribute docstring, read from the source (Python keeps no attribute docstrings
at run time); the allowed range or choices are the ones Settings checks at start-up.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from docs_gen import md
from reservation import settings as settings_module
from reservation.settings import Settings

SOURCE = Path(settings_module.__file__)

# Sections of the page, in order: the first rule whose test matches a field places it.
# A field no rule names lands in "Orders and holds", so a new setting is never left out.
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Redis", "Where the data lives and how the service talks to it.",
     ("redis_", "data_dir", "shards")),
    ("Serving", "The gRPC listener, its health port and shutdown.",
     ("host", "port", "reuse_port", "health_port", "grace_period_s")),
    ("Security and limits", "Who may call (auth file, TLS), and how many calls are taken.",
     ("auth_", "tls_", "principal_", "max_in_flight", "max_pending", "shed_")),
    ("Overflow queue", "Orders waiting for units to come back.",
     ("queue_", "max_queue_")),
    ("Logs and metrics", "", ("log_", "metrics_")),
    ("WMS write-back", "The stream every change is written to and the WMS pulls.",
     ("write_back_",)),
    ("Oversell guard", "Safety stock and per-channel circuit breakers.",
     ("breaker_", "safety_")),
    ("Order hub", "Channel orders, their holds, duplicates and on-time targets.",
     ("order_retention", "order_hold", "order_buyer", "order_duplicate", "order_event",
      "order_sla", "order_late")),
)
DEFAULT_GROUP = "Orders and holds"
DEFAULT_GROUP_TEXT = "Holds, retention, flash-sale bounds and the size of a request."


def field_docstrings(source: str = "") -> dict[str, str]:
    """Field name -> its attribute docstring (the string right after the field), '' if none."""
    tree = ast.parse(source or SOURCE.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    docs: dict[str, str] = {}
    body = cls.body
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            after = body[i + 1] if i + 1 < len(body) else None
            text = ""
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) \
                    and isinstance(after.value.value, str):
                text = " ".join(after.value.value.split())
            docs[node.target.id] = text
    return docs


def _default_expressions() -> dict[str, ast.expr]:
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    return {n.target.id: n.value for n in cls.body
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.value}


def _functions() -> dict[str, str]:
    """Module-level function name -> its docstring (for defaults computed at import)."""
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    return {n.name: " ".join((ast.get_docstring(n) or "").split())
            for n in tree.body if isinstance(n, ast.FunctionDef)}


def _duration(ms: int) -> str:
    for unit, size in (("day", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            n = ms // size
            return f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
    return ""


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def render_default(name: str, value: object, expression: ast.expr | None) -> str:
    """A default as people read it; one computed by a function call shows that function's
    docstring (never the value on the machine that built the docs)."""
    if isinstance(expression, ast.Call) and isinstance(expression.func, ast.Name):
        return _functions().get(expression.func.id) or f"computed by `{expression.func.id}()`"
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return "empty"
    text = f"`{value}`"
    if isinstance(value, int) and name.endswith("_ms") and value and _duration(value):
        text += f" ({_duration(value)})"
    return text


def allowed(name: str) -> str:
    for field, low, high in settings_module._BOUNDS:
        if field == name:
            return f"{_number(low)}..{_number(high)}"
    for field, choices in settings_module._CHOICES:
        if field == name:
            return ", ".join(f"`{c}`" for c in choices)
    return ""


def group_of(name: str) -> str:
    for title, _, tests in GROUPS:
        if name.startswith(tests):
            return title
    return DEFAULT_GROUP


def variable(name: str) -> str:
    return f"RESERVATION_{name.upper()}"


def render() -> str:
    docs = field_docstrings()
    expressions = _default_expressions()
    rows: dict[str, list[str]] = {}
    for f in dataclasses.fields(Settings):
        default = f.default if f.default is not dataclasses.MISSING else None
        meaning = docs.get(f.name) or "*no docstring*"
        rows.setdefault(group_of(f.name), []).append(
            f"| `{variable(f.name)}` | {md.cell(render_default(f.name, default, expressions.get(f.name)))}"
            f" | {allowed(f.name)} | {md.cell(meaning)} |")
    out = [
        "# Settings",
        "",
        "Every setting of the server is an environment variable, `RESERVATION_<FIELD>` for",
        "each field of `reservation.settings.Settings`, read once at start. This page is",
        "generated from that class when the site is built (`make docs`): the default is the",
        "field's, the meaning its docstring, the allowed values the ones checked at start.",
        "",
        "A value out of range, a malformed one or an unknown `RESERVATION_*` variable (a",
        "typo) stops `reservation serve` with one line naming the variable, and exit code 2.",
        "Booleans are `true`/`false` (also `1`/`0`, `yes`/`no`); an empty value means the",
        "default. The clients read four more (`RESERVATION_TLS_CA`,",
        "`RESERVATION_TLS_CLIENT_CERT`, `RESERVATION_TLS_CLIENT_KEY`,",
        "`RESERVATION_TLS_SERVER_NAME`), which a server ignores.",
        "",
    ]
    texts = {title: text for title, text, _ in GROUPS} | {DEFAULT_GROUP: DEFAULT_GROUP_TEXT}
    order = [title for title, _, _ in GROUPS[:2]] + [DEFAULT_GROUP] + \
        [title for title, _, _ in GROUPS[2:]]
    for title in order:
        if title not in rows:
            continue
        out += [f"## {title}", ""]
        if texts[title]:
            out += [texts[title], ""]
        out += ["| variable | default | allowed | meaning |", "| --- | --- | --- | --- |"]
        out += rows[title] + [""]
    return "\n".join(out)

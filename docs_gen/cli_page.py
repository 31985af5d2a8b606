"""The CLI reference: every command and option of `reservation` and `reservation-clients`,
walked from their argparse parsers (the same objects the commands run)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from docs_gen import md

# Usage lines wrapped at this width, whatever the terminal that builds the docs.
WIDTH = "88"


@contextmanager
def _clean_environment() -> Iterator[None]:
    """Build parsers as on a fresh machine: no RESERVATION_*/CHANNEL_* values (a default
    read from one, such as a token, must never reach the page) and a fixed width."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("RESERVATION_", "CHANNEL_")):
            del os.environ[name]
    os.environ["COLUMNS"] = WIDTH
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _default(action: argparse.Action) -> str:
    """Defaults worth printing: plain values only (a default computed at parse-build time,
    such as "now", would be the build machine's)."""
    value = action.default
    if value in (None, False, "", []) or value is argparse.SUPPRESS:
        return ""
    if isinstance(value, bool | int | float | str):
        return f"`{value}`"
    return ""


def _name(action: argparse.Action) -> str:
    if action.option_strings:
        flags = ", ".join(action.option_strings)
        if action.nargs == 0:
            return f"`{flags}`"
        metavar = action.metavar or action.dest.upper()
        return f"`{flags} {metavar if isinstance(metavar, str) else ' '.join(metavar)}`"
    metavar = action.metavar or action.dest
    return f"`{metavar if isinstance(metavar, str) else ' '.join(metavar)}`"


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser,
                                                                 str]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            found += [(name, sub, helps.get(name, "")) for name, sub in action.choices.items()]
    return found


def _section(parser: argparse.ArgumentParser, path: list[str], depth: int,
             out: list[str]) -> None:
    subs = _subcommands(parser)
    out += [f"{'#' * depth} {' '.join(path)}", ""]
    if parser.description and depth > 2:
        out += [md.text(" ".join(parser.description.split())), ""]
    out += ["```", parser.format_usage().strip(), "```", ""]
    rows = [a for a in parser._actions
            if not isinstance(a, argparse._SubParsersAction | argparse._HelpAction)]
    if rows:
        out += ["| argument | default | meaning |", "| --- | --- | --- |"]
        out += [f"| {_name(a)} | {_default(a)} | {md.cell(' '.join((a.help or '').split()))} |"
                for a in rows if a.help is not argparse.SUPPRESS]
        out.append("")
    if subs:
        out += ["| command | what it does |", "| --- | --- |"]
        out += [f"| [`{name}`](#{_anchor([*path, name])}) | {md.cell(text)} |"
                for name, _, text in subs]
        out.append("")
    for name, sub, _ in subs:
        _section(sub, [*path, name], min(depth + 1, 4), out)


def _anchor(path: list[str]) -> str:
    """MkDocs' heading id for a heading that is the command path."""
    return "-".join(path).lower()


def render_command(name: str, build: Callable[[], argparse.ArgumentParser]) -> list[str]:
    with _clean_environment():
        parser = build()
        out: list[str] = []
        _section(parser, [name], 2, out)
        return out


def render() -> str:
    from reservation.cli.main import build_parser as server
    from reservation.clients.cli import build_parser as clients

    out = ["# CLI reference", "",
           "Every command and option of the two commands, generated from their argparse",
           "parsers when the site is built (`make docs`); `--help` on any command prints the",
           "same. `reservation` is the server's command (serve, check, demo, and operator",
           "commands, one RPC each); `reservation-clients` is the clients distribution's",
           "(adapters, pullers, console, the order-flow demo). Commands that call the",
           "service take `--target`, `--token` (default `$RESERVATION_AUTH_TOKEN`) and the",
           "TLS options; they print replies as JSON and errors as one line on stderr.", ""]
    out += render_command("reservation", server)
    out += render_command("reservation-clients", clients)
    return "\n".join(out)

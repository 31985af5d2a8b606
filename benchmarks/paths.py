"""Paths as results files record them: never absolute (a results file must not carry the
layout of the machine it ran on). Inside the repository a path is written relative to
its root, elsewhere relative to that root too (`../../tmp/x`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def relative(path: str | os.PathLike[str]) -> str:
    """`path` relative to the repository root; a relative path is taken as given."""
    text = os.fspath(path)
    if not os.path.isabs(text):
        return text
    return os.path.relpath(text, ROOT)


def command(module: str, argv: Sequence[str]) -> str:
    """`python -m <module> <argv>` with every absolute path argument made relative."""
    words = []
    for word in argv:
        name, eq, value = word.partition("=")
        if eq and name.startswith("-") and os.path.isabs(value):
            words.append(f"{name}={relative(value)}")
        else:
            words.append(relative(word) if os.path.isabs(word) else word)
    return " ".join([f"python -m {module}", *words])


def scrub(text: str) -> str:
    """Report text (a profile's "Profile at /.../benchmarks/x.py") without the root."""
    return text.replace(f"{ROOT}{os.sep}", "")


def run_meta(module: str, argv: Sequence[str], load_start: float) -> dict[str, object]:
    """What a results file says of its run: when, on what, how busy the machine was at
    the start and the end, the command (paths relative) and the commit."""
    import platform
    import subprocess
    import time

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout.strip()
    return {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{os.cpu_count()} cores, {platform.machine()}",
            "load_start": round(load_start, 1), "load_end": round(os.getloadavg()[0], 1),
            "command": command(module, argv), "commit": commit}

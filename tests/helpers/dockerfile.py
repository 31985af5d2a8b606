"""What a Dockerfile of k8s/ does, by hand (no Docker engine runs here): copy the files
its build stage's COPY lines name into an empty context and run its `uv sync ...` there,
offline (uv's cache holds every file of the lock once `make venv` has run)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def copied_paths(dockerfile: Path) -> list[tuple[str, str]]:
    """(source, destination under /src) of the build stage's COPY lines (not --from)."""
    pairs: list[tuple[str, str]] = []
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            words = [w for w in line.split()[1:] if not w.startswith("--")]
            *sources, dest = words
            for source in sources:
                inside = dest.removeprefix("/src").lstrip("/")
                pairs.append((source, inside if not dest.endswith("/") else
                              str(Path(inside) / Path(source).name)))
    return pairs


def uv_sync_args(dockerfile: Path) -> list[str]:
    match = re.search(r"uv sync ([^\n\\]+)", dockerfile.read_text())
    assert match, f"{dockerfile.name} installs with uv sync"
    return match.group(1).split()


def uv_version(dockerfile: Path) -> str:
    match = re.search(r"^ARG UV_VERSION=(\S+)$", dockerfile.read_text(), re.MULTILINE)
    assert match, f"{dockerfile.name} names its uv release"
    return match.group(1)


def lock_uv_version() -> str:
    match = re.search(r'^name = "uv"\nversion = "([^"]+)"', (REPO / "uv.lock").read_text(),
                      re.MULTILINE)
    assert match, "uv is in the lock (dev group)"
    return match.group(1)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RESERVATION_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def build(dockerfile: Path, root: Path) -> Path:
    """The venv the image's build stage makes (its /opt/venv), under `root`."""
    context = root / "src"
    context.mkdir()
    for source, dest in copied_paths(dockerfile):
        path, target = REPO / source, context / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, target, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, target)
    venv = root / "venv"
    env = clean_env(UV_PROJECT_ENVIRONMENT=str(venv), UV_PYTHON_DOWNLOADS="never",
                    UV_OFFLINE="1", UV_LINK_MODE="copy")
    subprocess.run([str(Path(sys.executable).parent / "uv"), "sync", "--quiet", "--python",
                    sys.executable, *uv_sync_args(dockerfile)], check=True, cwd=context, env=env)
    return venv

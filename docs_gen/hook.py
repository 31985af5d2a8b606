"""MkDocs hook (mkdocs.yml `hooks:`): adds the generated reference pages to the build.

Each page is made from the code at build time (reservation/settings.py, the protos, the
argparse parsers) and exists only in memory, so the site can never quote a stale copy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

# MkDocs loads this file by path; the generators are the package beside it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from docs_gen import api_page, cli_page, settings_page

PAGES: dict[str, Callable[[], str]] = {
    "reference/settings.md": settings_page.render,
    "reference/api.md": api_page.render,
    "reference/cli.md": cli_page.render,
}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for uri, render in PAGES.items():
        files.append(File.generated(config, uri, content=render()))
    return files

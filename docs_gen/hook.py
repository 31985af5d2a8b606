"""MkDocs hook (mkdocs.yml `hooks:`): adds the generated reference pages to the build.

Each page is made from the code at build time (reservation/settings.py, the protos, the
argparse parsers) and exists only in memory, so the site can never quote a stale copy.
"""

from __future__ import annotations

from collections.abc import Callable

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

PAGES: dict[str, Callable[[], str]] = {}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for uri, render in PAGES.items():
        files.append(File.generated(config, uri, content=render()))
    return files

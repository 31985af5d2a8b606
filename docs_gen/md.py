"""Text from the code (docstrings, proto comments, help strings) made safe for Markdown."""

from __future__ import annotations


def text(raw: str) -> str:
    """`<` and `>` outside code spans would be read as HTML tags and vanish ("Bearer
    <token>"): escaped there, left alone inside backticks."""
    parts = raw.split("`")
    for i in range(0, len(parts), 2):  # even parts are outside code spans
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def cell(raw: str) -> str:
    """A table cell: as text(), and a `|` does not end the cell."""
    return text(raw).replace("|", "\\|")

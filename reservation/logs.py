"""Log output: one human line per record, or one JSON object per line for log collectors.

`configure(settings)` is called once by the process that serves; library code just uses
`logging.getLogger(__name__)`. Fields passed with `extra={...}` (the operator-action
log's who/what/before/after) become top-level keys of the JSON object.

Fields bound to the current call with `bound(principal=...)` (the auth interceptor
does this) go on every record logged while the call runs, whichever module logs it: a
contextvar, so they follow the call into the tasks it starts and nowhere else.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from reservation.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_bound: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar(
    "log_fields", default={})  # noqa: B039 - never mutated: bound() sets a new dict


@contextmanager
def bound(**fields: str) -> Iterator[None]:
    """Put `fields` on every record logged inside (in this call's context)."""
    token = _bound.set({**_bound.get(), **fields})
    try:
        yield
    finally:
        _bound.reset(token)


def call_fields() -> dict[str, str]:
    return _bound.get()


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, then the call's bound fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in _bound.get().items())
        return f"{line} [{extra}]" if extra else line


# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "msg", ...extra, "exc"}: one line, UTF-8, no newlines."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(_bound.get())
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def one_line(message: str, env: dict[str, str] | None = None) -> str:
    """A start-up failure as the one line a person or a log collector reads: a JSON
    object when RESERVATION_LOG_FORMAT=json (read from the environment: the settings
    themselves may be what failed), else the message, newlines folded."""
    env = dict(os.environ if env is None else env)
    message = " ".join(message.split("\n"))
    if env.get("RESERVATION_LOG_FORMAT", "").strip().lower() != "json":
        return message
    return json.dumps({"ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                       "level": "CRITICAL", "logger": "reservation.cli", "msg": message,
                       "exit_code": 2}, ensure_ascii=False)


def configure(settings: Settings) -> None:
    """Root handler on stderr in the chosen format and level (replaces earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)


class Throttled:
    """A warning that repeats while a condition lasts (Redis away: every sweep, every
    recovery pass, every health check) logged once when it starts, then at most once
    per `every_s` with how many were held back; `ok()` ends the episode."""

    def __init__(self, logger: logging.Logger, every_s: float = 60.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._since = -math.inf
        self._held = 0

    def warning(self, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._since < self.every_s:
            self._held += 1
            return
        if self._held:
            msg += f" ({self._held} more like it since the last one)"
        self.logger.warning(msg, *args)
        self._since, self._held = now, 0

    def ok(self) -> None:
        self._since, self._held = -math.inf, 0

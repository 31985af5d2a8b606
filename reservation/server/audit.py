"""The operator-action log: who did what to which object, what it was before and after.

Every AdminService and GuardService call that changes something writes one record on
the `reservation.audit` logger when it ends, failed calls included (with the error);
reads (Get*, List*) and dry runs (validate_only) write none. With RESERVATION_LOG_FORMAT=json the
fields `who`, `peer`, `what`, `target`, `before`, `after`, `outcome` are keys of the JSON
line, so a log pipeline can keep them as an audit trail; in text format they follow the
message as compact JSON.

Who: with auth on, the authenticated principal's name (and `x-operator`, the login
name the CLI sends, beside it as `on_behalf_of`: a shared operator principal says which
person used it); without auth, the `x-operator` metadata, else "anonymous". The peer
address is recorded beside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

from reservation.access import grant
from reservation.errors import ReservationError

log = logging.getLogger("reservation.audit")
OPERATOR_HEADER = "x-operator"

# Every field of a record is bounded, so no caller can write a huge line; text is
# escaped (see clean), so no caller can start a line of its own or hide bytes in one.
MAX_NAME = 128          # who, on_behalf_of, peer
MAX_WHAT = 96           # the method
MAX_TARGET = 256        # the object acted on (a SKU, "SKU/channel", a sale id ...)
MAX_OUTCOME = 512       # "ok", or the error's class and message
MAX_STATE = 4096        # before / after, as compact JSON
_ESCAPES = {ord("\\"): "\\\\"}


def clean(text: str, limit: int) -> str:
    """`text` safe for one log line: control and format characters (newlines, NUL, ESC,
    U+2028, bidi overrides ...) and backslashes written as escapes, then cut to `limit`
    characters with a marker saying how long it was (a 1 MB name costs one slice)."""
    out = text[:limit]
    if "\\" in out:
        out = out.translate(_ESCAPES)
    if not out.isprintable():
        out = "".join(ch if ch.isprintable() else _escape(ch) for ch in out)
    if len(out) > limit or len(text) > limit:
        out = f"{out[:limit]}...({len(text)} chars)"
    return out


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


@dataclasses.dataclass
class Entry:
    what: str
    target: str
    who: str
    peer: str
    before: Any = None
    after: Any = None
    on_behalf_of: str | None = None
    skip: bool = False
    """No record: a read, or a dry run (validate_only), is not an action."""


def plain(value: Any) -> Any:
    """Domain objects as JSON-ready values (dataclasses, enums, tuple-keyed dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {("/".join(map(str, k)) if isinstance(k, tuple) else str(k)): plain(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def bounded_state(value: Any) -> Any:
    """before/after as written: the value itself when its compact JSON fits MAX_STATE,
    else a marker with its size and the start of that JSON (a LoadStock of 1,000 items
    does not write a megabyte)."""
    value = plain(value)
    text = json.dumps(value, separators=(",", ":"), default=str)
    if len(text) <= MAX_STATE:
        return value
    return {"truncated": True, "json_chars": len(text), "head": text[:MAX_STATE // 2]}


def _operator_header(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == OPERATOR_HEADER and value:
            return str(value)
    return None


def _entry(context: grpc.aio.ServicerContext, what: str, target: str) -> Entry:
    header = _operator_header(context.invocation_metadata())
    principal = grant.caller_name()
    if principal is None:
        return Entry(what, target, header or "anonymous", context.peer())
    return Entry(what, target, principal, context.peer(), on_behalf_of=header)


@contextlib.asynccontextmanager
async def action(context: grpc.aio.ServicerContext, what: str,
                 target: str = "", read: bool = False) -> AsyncIterator[Entry]:
    """Fill entry.before / entry.after inside; one log record is written on the way out.
    read=True (a Get or List): no record, succeeded or not. The log is of actions: a
    console tab re-reading its page every second would otherwise write several records
    a second and bury them (a refused read is still recorded, by `refused`)."""
    entry = _entry(context, what, target)
    entry.skip = read
    try:
        yield entry
    except ReservationError as exc:
        _write(entry, f"{type(exc).__name__}: {exc.message}")
        raise
    except Exception as exc:
        _write(entry, f"error: {type(exc).__name__}")
        raise
    _write(entry, "ok")


def refused(method: str, who: str | None, peer: str, metadata: Any,
            error: ReservationError) -> None:
    """A call the auth check refused (no or wrong credentials, a role without the
    method): who (the principal, or "unauthenticated"), what (the method), why. Writing
    these is bounded per peer by the failed-authentication budget (access/verify.py)."""
    header = _operator_header(metadata)
    what = method.rsplit("/", 2)[-2:]
    entry = Entry(".".join(w.rsplit(".", 1)[-1] for w in what) if len(what) == 2 else method,
                  "", who or "unauthenticated", peer, on_behalf_of=header)
    _write(entry, f"refused {type(error).__name__}: {error.message}")


def _write(entry: Entry, outcome: str) -> None:
    if entry.skip:
        return
    fields: dict[str, Any] = {
        "who": clean(entry.who, MAX_NAME), "peer": clean(entry.peer, MAX_NAME),
        "what": clean(entry.what, MAX_WHAT), "target": clean(entry.target, MAX_TARGET),
        "before": bounded_state(entry.before), "after": bounded_state(entry.after),
        "outcome": clean(outcome, MAX_OUTCOME)}
    if entry.on_behalf_of:
        fields["on_behalf_of"] = clean(entry.on_behalf_of, MAX_NAME)
    # Text format: each field JSON-quoted, so a target cannot pass for what follows it.
    compact = json.dumps({"before": fields["before"], "after": fields["after"]},
                         separators=(",", ":"), default=str)
    log.info("operator %s %s %s: %s %s", json.dumps(fields["who"]), fields["what"],
             json.dumps(fields["target"]), json.dumps(fields["outcome"]), compact,
             extra=fields)

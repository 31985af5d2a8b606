"""The operator-action log: who did what to which object, what it was before and after.

Every AdminService call writes one record on the `reservation.audit` logger when it
ends, failed calls included (with the error). With RESERVATION_LOG_FORMAT=json the
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


@dataclasses.dataclass
class Entry:
    what: str
    target: str
    who: str
    peer: str
    before: Any = None
    after: Any = None
    on_behalf_of: str | None = None


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


def _operator_header(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == OPERATOR_HEADER and value:
            return str(value)[:128]
    return None


def _entry(context: grpc.aio.ServicerContext, what: str, target: str) -> Entry:
    header = _operator_header(context)
    principal = grant.caller_name()
    if principal is None:
        return Entry(what, target, header or "anonymous", context.peer())
    return Entry(what, target, principal, context.peer(), on_behalf_of=header)


@contextlib.asynccontextmanager
async def action(context: grpc.aio.ServicerContext, what: str,
                 target: str = "") -> AsyncIterator[Entry]:
    """Fill entry.before / entry.after inside; one log record is written on the way out."""
    entry = _entry(context, what, target)
    try:
        yield entry
    except ReservationError as exc:
        _write(entry, f"{type(exc).__name__}: {exc.message}")
        raise
    except Exception as exc:
        _write(entry, f"error: {type(exc).__name__}")
        raise
    _write(entry, "ok")


def _write(entry: Entry, outcome: str) -> None:
    fields = {"who": entry.who, "peer": entry.peer, "what": entry.what,
              "target": entry.target, "before": plain(entry.before),
              "after": plain(entry.after), "outcome": outcome}
    if entry.on_behalf_of:
        fields["on_behalf_of"] = entry.on_behalf_of
    compact = json.dumps({"before": fields["before"], "after": fields["after"]},
                         separators=(",", ":"), default=str)
    log.info("operator %s %s %s: %s %s", entry.who, entry.what, entry.target or "-",
             outcome, compact, extra=fields)

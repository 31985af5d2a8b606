"""What the current call may touch: set by the auth interceptor, asked by servicers.

A contextvar, so it follows the call into every coroutine and task it starts. Without
auth there is no grant and every check passes.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from reservation.access.principals import Principal
from reservation.access.roles import Role, Scope, rule
from reservation.errors import PermissionDenied


@dataclass(frozen=True)
class Grant:
    principal: Principal
    method: str
    channels: frozenset[str] | None
    """Channels the call may act on; None: any."""
    groups: frozenset[str] | None
    """Consumer groups the call may use; None: any."""

    @property
    def name(self) -> str:
        return self.principal.name


_current: contextvars.ContextVar[Grant | None] = contextvars.ContextVar("grant", default=None)


def decide(principal: Principal, method: str) -> Grant:
    """The grant of `principal` calling `method`, or PermissionDenied (deny by default)."""
    allowed: dict[Role, Scope] = {r: s for r, s in rule(method).items() if r in principal.roles}
    if not allowed:
        raise PermissionDenied(f"{principal.name} may not call {method}")
    if Scope.ANY in allowed.values():
        return Grant(principal, method, None, None)
    scopes = set(allowed.values())
    channels = principal.channels if Scope.CHANNEL in scopes else frozenset()
    groups = principal.groups if Scope.GROUP in scopes else frozenset()
    if Scope.FEED in scopes:
        groups = groups | {feed_group(c) for c in principal.channels}
    return Grant(principal, method, channels, groups)


def feed_group(channel: str) -> str:
    """The order-event consumer group of a channel's adapter feed."""
    return f"feed-{channel}"


@contextmanager
def acting(grant: Grant) -> Iterator[Grant]:
    token = _current.set(grant)
    try:
        yield grant
    finally:
        _current.reset(token)


def current() -> Grant | None:
    return _current.get()


def caller_name() -> str | None:
    g = _current.get()
    return g.name if g else None


def adapter_only() -> bool:
    """The caller acts as a channel's adapter and as nothing broader (not an operator)."""
    g = _current.get()
    return g is not None and g.principal.roles == frozenset({Role.ADAPTER})


def channel(value: str) -> None:
    """PermissionDenied unless the caller may act on `value` (checked before any lookup,
    so another channel's order is refused, never reported as missing)."""
    g = _current.get()
    if g is not None and g.channels is not None and value not in g.channels:
        raise PermissionDenied(f"{g.name} may not act on channel {value!r}")


def group(value: str) -> None:
    """PermissionDenied unless the caller may use consumer group `value`."""
    g = _current.get()
    if g is not None and g.groups is not None and value not in g.groups:
        raise PermissionDenied(f"{g.name} may not use consumer group {value!r}")

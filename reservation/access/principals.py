"""Principals: who a caller is, from the auth file (RESERVATION_AUTH_FILE) or the
development shortcut (RESERVATION_AUTH_TOKEN: one principal with every role).

The file (YAML):

    principals:
      - name: jd-adapter                 # in every log line and audit record of its calls
        role: adapter                    # adapter | wms | operator | loadtest | reader
        token_hash: sha256:9f86d08...    # `reservation auth hash-token`
        channels: [jd]                   # adapter: the channels it acts for
      - name: wms-east
        role: wms
        token_hash: scrypt:16384:8:1:...
        groups: [wms]                    # wms: the consumer groups it pulls as
      - name: ops-alice
        role: operator
        client_cert_cn: ops-alice        # mTLS: a client certificate with this subject CN
        limits: {rate: 50, burst: 100, max_in_flight: 20}

The file is read again when its modification time or size changes (see PrincipalFile),
so tokens can be added or revoked without a restart; a file that does not parse keeps
the last good one in force (and says why in the log).
"""

from __future__ import annotations

import collections
import enum
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reservation.access import tokens
from reservation.access.roles import Role

log = logging.getLogger(__name__)

_KEYS = {"name", "role", "roles", "token_hash", "client_cert_cn", "channels", "groups",
         "limits"}
_LIMIT_KEYS = {"rate", "burst", "max_in_flight"}


class PrincipalFileError(ValueError):
    """The auth file cannot be used; the message names the principal and the key."""


@dataclass(frozen=True)
class CallerLimits:
    """Per-principal limits; None: the server's default (RESERVATION_PRINCIPAL_*)."""

    rate: float | None = None
    burst: int | None = None
    max_in_flight: int | None = None


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[Role]
    token_hash: str | None = None
    client_cert_cn: str | None = None
    channels: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    limits: CallerLimits = field(default_factory=CallerLimits)


def development(token: str) -> tuple[Principal, str]:
    """RESERVATION_AUTH_TOKEN: one principal with every role, no scope; and its token."""
    return Principal("dev-token", frozenset(Role), tokens.hash_token(token)), token


class Directory:
    """Principals by token and by certificate name.

    Looking a token up must cost the same small amount whether it is right or wrong, or
    wrong tokens become a way to slow everyone down. So:

    - sha256 principals are indexed by their digest: one hash and one dict lookup per
      token, however many principals there are (the dict is keyed by a digest of the
      token, so its timing tells nothing about a stored token's bytes);
    - scrypt is slow on purpose and cannot be indexed without weakening the stored form
      (a fast keyed digest beside it in the file would let a thief of the file test
      guesses at that digest's speed). `fast` answers what it can in O(1) from two
      memories keyed by a per-process HMAC of the token: tokens verified right, and
      tokens verified wrong (bounded, least recently seen dropped first); only a token
      in neither needs `slow`, which callers run off the event loop, bounded and
      budgeted per peer (reservation.access.verify).
    """

    NEGATIVE_CACHE = 10_000
    """Wrong tokens remembered (a client retrying a revoked token costs O(1))."""

    def __init__(self, principals: Iterable[Principal]) -> None:
        self.principals = tuple(principals)
        self._by_cn = {p.client_cert_cn: p for p in self.principals if p.client_cert_cn}
        self._by_sha256 = {bytes.fromhex(p.token_hash[len("sha256:"):]): p
                           for p in self.principals
                           if p.token_hash and p.token_hash.startswith("sha256:")}
        self._scrypt = tuple(p for p in self.principals
                             if p.token_hash and p.token_hash.startswith("scrypt:"))
        self._key = secrets.token_bytes(32)  # keys the two memories below, per process
        self._verified: dict[bytes, Principal] = {}
        self._refused: collections.OrderedDict[bytes, None] = collections.OrderedDict()

    @property
    def has_slow_tokens(self) -> bool:
        return bool(self._scrypt)

    def _mark(self, token: str) -> bytes:
        return hmac.new(self._key, token.encode(), hashlib.sha256).digest()

    def fast(self, token: str) -> Principal | None | Slow:
        """The principal, None (known wrong), or SLOW: only scrypt can tell (run `slow`)."""
        found = self._by_sha256.get(hashlib.sha256(token.encode()).digest())
        if found is not None or not self._scrypt:
            return found
        mark = self._mark(token)
        known = self._verified.get(mark)
        if known is not None:
            return known
        if mark in self._refused:
            self._refused.move_to_end(mark)
            return None
        return SLOW

    def slow(self, token: str) -> Principal | None:
        """Verify against every scrypt principal: slow, and touches nothing shared, so it
        may run in another thread; the caller then calls `remember` on its own."""
        for p in self._scrypt:
            if tokens.matches(token, p.token_hash or ""):
                return p
        return None

    def remember(self, token: str, found: Principal | None) -> None:
        """Keep slow()'s answer, right or wrong, for fast() (on the event loop only)."""
        mark = self._mark(token)
        if found is not None:
            self._verified[mark] = found
            return
        self._refused[mark] = None
        while len(self._refused) > self.NEGATIVE_CACHE:
            self._refused.popitem(last=False)

    def by_token(self, token: str) -> Principal | None:
        """Both steps in the caller's thread (tools and tests; the server runs the slow
        step off its event loop, see reservation.access.verify)."""
        found = self.fast(token)
        if found is SLOW:
            found = self.slow(token)
            self.remember(token, found)
        return found  # type: ignore[return-value]

    def by_certificate(self, common_name: str) -> Principal | None:
        return self._by_cn.get(common_name)


class Slow(enum.Enum):
    """fast()'s answer when only a scrypt verification can decide."""

    SLOW = "slow"


SLOW = Slow.SLOW


def parse(document: Any, source: str = "auth file") -> Directory:
    """A Directory from the parsed YAML, or PrincipalFileError naming what is wrong."""
    if not isinstance(document, Mapping) or not isinstance(document.get("principals"), list):
        raise PrincipalFileError(f"{source}: needs a top-level 'principals:' list")
    seen_names: set[str] = set()
    seen_cns: set[str] = set()
    out = []
    for i, entry in enumerate(document["principals"]):
        p = _principal(entry, f"{source}: principals[{i}]")
        if p.name in seen_names:
            raise PrincipalFileError(f"{source}: principal {p.name!r} appears twice")
        if p.client_cert_cn and p.client_cert_cn in seen_cns:
            raise PrincipalFileError(f"{source}: client_cert_cn {p.client_cert_cn!r} appears twice")
        seen_names.add(p.name)
        if p.client_cert_cn:
            seen_cns.add(p.client_cert_cn)
        out.append(p)
    return Directory(out)


def _strings(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PrincipalFileError(f"{where}: must be a list of non-empty strings")
    return frozenset(value)


def _principal(entry: Any, where: str) -> Principal:
    if not isinstance(entry, Mapping):
        raise PrincipalFileError(f"{where}: must be a mapping")
    unknown = set(entry) - _KEYS
    if unknown:
        raise PrincipalFileError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    name = entry.get("name")
    if not isinstance(name, str) or not name or len(name) > 128:
        raise PrincipalFileError(f"{where}.name: must be a string of 1..128 characters")
    where = f"{where} ({name})"
    raw_roles = entry.get("roles", [entry["role"]] if "role" in entry else [])
    try:
        roles = frozenset(Role(r) for r in raw_roles)
    except (ValueError, TypeError):
        raise PrincipalFileError(f"{where}.role: must be one of "
                                 f"{', '.join(r.value for r in Role)}") from None
    if not roles:
        raise PrincipalFileError(f"{where}: needs a role")
    token_hash = entry.get("token_hash")
    if token_hash is not None:
        try:
            tokens.check_hash(str(token_hash))
        except ValueError as exc:
            raise PrincipalFileError(f"{where}.token_hash: {exc}") from None
    cn = entry.get("client_cert_cn")
    if token_hash is None and cn is None:
        raise PrincipalFileError(f"{where}: needs token_hash or client_cert_cn")
    channels = _strings(entry["channels"], f"{where}.channels") if "channels" in entry \
        else frozenset()
    groups = _strings(entry["groups"], f"{where}.groups") if "groups" in entry else frozenset()
    if Role.ADAPTER in roles and not channels:
        raise PrincipalFileError(f"{where}.channels: an adapter needs its channels")
    if Role.WMS in roles and not groups:
        raise PrincipalFileError(f"{where}.groups: a wms needs its consumer groups")
    return Principal(name, roles, token_hash and str(token_hash), cn and str(cn), channels,
                     groups, _limits(entry.get("limits", {}), f"{where}.limits"))


def _limits(raw: Any, where: str) -> CallerLimits:
    if not isinstance(raw, Mapping) or set(raw) - _LIMIT_KEYS:
        raise PrincipalFileError(f"{where}: a mapping of {', '.join(sorted(_LIMIT_KEYS))}")
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PrincipalFileError(f"{where}.{key}: must be a number >= 0")
    return CallerLimits(raw.get("rate"), raw.get("burst") and int(raw["burst"]),
                        raw.get("max_in_flight") and int(raw["max_in_flight"]))


def load(path: str | Path) -> Directory:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PrincipalFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PrincipalFileError(f"{path}: not YAML ({exc})") from None
    return parse(document, str(path))


class PrincipalFile:
    """The auth file, read again when it changes (mtime or size), checked at most once
    per `poll_s`. A broken edit keeps the last good directory (logged), so a typo does not
    lock everyone out; start-up with a broken file is refused instead."""

    def __init__(self, path: str | Path, poll_s: float = 1.0) -> None:
        self.path = Path(path)
        self.poll_s = poll_s
        self._stamp = self._stat()
        self._directory = load(self.path)
        self._checked = time.monotonic()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def directory(self) -> Directory:
        now = time.monotonic()
        if now - self._checked >= self.poll_s:
            self._checked = now
            stamp = self._stat()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._directory = load(self.path)
                    log.info("auth file %s reloaded: %d principals", self.path,
                             len(self._directory.principals))
                except PrincipalFileError as exc:
                    log.error("auth file not reloaded, the previous one stays in force: %s",
                              exc)
        return self._directory

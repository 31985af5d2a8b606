"""Per-shop credentials: each shop on a channel authorizes the app on its own, so every
call for a shop carries that shop's token (Taobao's `session`, JD's, Pinduoduo's and
Douyin's `access_token`), which expires and is refreshed the way its channel documents:

    taobao  taobao.top.auth.token.refresh (refresh_token) -> token_result (JSON text:
            access_token, refresh_token, expire_time in ms); only apps sold on the service
            market may refresh, others get a fixed-term session: authorize again
    jd      /oauth2/refresh_token (app_key, app_secret, grant_type=refresh_token,
            refresh_token) -> access_token, expires_in (s), refresh_token, time (ms)
    pdd     pdd.pop.auth.token.refresh (refresh_token) -> access_token, expires_at (s),
            refresh_token, refresh_token_expires_at (s)
    douyin  token.refresh (grant_type=refresh_token, refresh_token) -> access_token,
            expires_in (s), refresh_token; a refresh token is good for one refresh
    wechat  no shop token: the shop's own appid and secret fetch an access_token
            (expires_in 7200 s) whenever needed (wechat.py)

Where they come from (never the command line, never a committed file):

    CHANNEL_<CH>_SHOPS_FILE            a JSON file {"<shop>": {"access_token": ...,
                                       "refresh_token": ..., "expires_at": <epoch s>,
                                       "refresh_expires_at": <epoch s>}, ...}; a refreshed
                                       token is written back to it (mode 0600), which a
                                       channel whose refresh tokens are single-use needs
    CHANNEL_<CH>_SHOP_<SHOP>_ACCESS_TOKEN, _REFRESH_TOKEN, _EXPIRES_AT, _REFRESH_EXPIRES_AT
                                       the same for one shop (kept in memory when refreshed)
    CHANNEL_<CH>_SHOP_<SHOP>_APP_KEY, _APP_SECRET
                                       a shop's own app (WeChat: each shop is an account)

<SHOP> is the shop name upper-cased, every other character than A-Z and 0-9 as `_`. Every
variable may instead be given as <NAME>_FILE, the path of a file holding the value (a
mounted secret). Tokens never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reservation.clients.channels.base import ChannelError

SHOP_TOKEN_CHANNELS = frozenset({"taobao", "jd", "pdd", "douyin"})
"""Channels whose every call carries the shop's own token (WeChat's token comes from the
shop's appid and secret; the POS has no API)."""

REFRESH_MARGIN_MS = 10 * 60 * 1000
"""A token this close to its expiry is refreshed before the next call (JD asks for a
refresh well before the end; ten minutes covers a poll interval and a clock skew)."""


@dataclass(frozen=True)
class ShopToken:
    access_token: str = field(repr=False)
    expires_at_ms: int = 0
    """0: the channel gave no expiry."""
    refresh_token: str = field(default="", repr=False)
    refresh_expires_at_ms: int = 0

    @classmethod
    def from_json(cls, where: str, raw: Mapping[str, Any]) -> ShopToken:
        token = raw.get("access_token")
        if not isinstance(token, str) or not token:
            raise ValueError(f"{where}: access_token must be a non-empty string")
        return cls(token, _seconds_ms(where, "expires_at", raw.get("expires_at")),
                   str(raw.get("refresh_token") or ""),
                   _seconds_ms(where, "refresh_expires_at", raw.get("refresh_expires_at")))

    def to_json(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "expires_at": self.expires_at_ms // 1000,
                "refresh_token": self.refresh_token,
                "refresh_expires_at": self.refresh_expires_at_ms // 1000}


def _seconds_ms(where: str, name: str, value: Any) -> int:
    if value in (None, ""):
        return 0
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be epoch seconds, got {value!r}") from None
    if seconds < 0:
        raise ValueError(f"{where}: {name} must not be negative")
    return seconds * 1000


Refresh = Callable[[str], ShopToken]
"""The channel's refresh call: a refresh token in, the new token out (ChannelError when
the channel refuses)."""


class ShopCredentials:
    """One shop's token on one channel, refreshed before it expires. Thread-safe: the
    poller and the push-back loop share it."""

    def __init__(self, channel: str, shop: str, token: ShopToken, *,
                 store: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.channel, self.shop = channel, shop
        self._token = token
        self.store = store
        self.clock = clock
        self.refreshes = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ShopCredentials({self.channel!r}, {self.shop!r})"

    def access_token(self, refresh: Refresh) -> str:
        with self._lock:
            now = int(self.clock() * 1000)
            t = self._token
            if t.expires_at_ms and now >= t.expires_at_ms - REFRESH_MARGIN_MS:
                self._refresh(refresh, now)
            return self._token.access_token

    def expired(self) -> None:
        """The channel says the token is no longer good (revoked, or expired early):
        the next call refreshes it first."""
        with self._lock:
            self._token = replace(self._token, expires_at_ms=1)

    def _refresh(self, refresh: Refresh, now: int) -> None:
        t = self._token
        if not t.refresh_token or (t.refresh_expires_at_ms and now >= t.refresh_expires_at_ms):
            raise ChannelError(self.channel, "token-expired",
                               f"shop {self.shop}: the access token has expired and there is "
                               "no valid refresh token: authorize the shop again and update "
                               "its credentials", retryable=False, auth=True)
        try:
            self._token = refresh(t.refresh_token)
        except ChannelError as exc:
            if exc.code == "network" or exc.code.startswith("http ") or exc.code == "bad json":
                raise  # the channel was not reached: try again later
            raise ChannelError(self.channel, exc.code,
                               f"shop {self.shop}: the channel refused the refresh token "
                               f"({exc}): authorize the shop again and update its "
                               "credentials", retryable=False, auth=True) from None
        self.refreshes += 1
        if self.store is not None:
            save(self.store, self.shop, self._token)


def shop_variable(channel: str, shop: str, name: str) -> str:
    return f"CHANNEL_{channel.upper()}_SHOP_{re.sub(r'[^A-Z0-9]', '_', shop.upper())}_{name}"


def secret(env: Mapping[str, str], name: str) -> str:
    """NAME's value, or the first line of the file NAME_FILE names; '' when neither."""
    if env.get(name):
        return env[name]
    path = env.get(name + "_FILE")
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, IndexError) as exc:
        raise ValueError(f"{name}_FILE: cannot read a value from {path}: "
                         f"{type(exc).__name__}") from None


def load(channel: str, shop: str, env: Mapping[str, str] = os.environ,
         clock: Callable[[], float] = time.time) -> ShopCredentials | None:
    """The shop's credentials from the environment (see the module's doc); None when
    none are configured for it."""
    path = secret(env, f"CHANNEL_{channel.upper()}_SHOPS_FILE")
    if path:
        shops = _read(Path(path))
        if shop not in shops:
            raise ValueError(f"{channel}: shop {shop!r} is not in {path} "
                             f"(it has {', '.join(sorted(shops)) or 'no shop'})")
        return ShopCredentials(channel, shop, ShopToken.from_json(f"{path}: {shop}",
                                                                  shops[shop]),
                               store=Path(path), clock=clock)
    token = secret(env, shop_variable(channel, shop, "ACCESS_TOKEN"))
    if not token:
        return None
    where = shop_variable(channel, shop, "*")
    return ShopCredentials(channel, shop, ShopToken.from_json(where, {
        "access_token": token,
        "refresh_token": secret(env, shop_variable(channel, shop, "REFRESH_TOKEN")),
        "expires_at": secret(env, shop_variable(channel, shop, "EXPIRES_AT")),
        "refresh_expires_at": secret(env, shop_variable(channel, shop, "REFRESH_EXPIRES_AT")),
    }), clock=clock)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the shops file {path}: {type(exc).__name__}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"{path}: must map each shop to its token object")
    return data


def save(path: Path, shop: str, token: ShopToken) -> None:
    """Write one shop's refreshed token back to the shops file: under a lock (adapters
    of other shops share the file), whole (a temporary file renamed), owner-only."""
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shops = _read(path)
        shops[shop] = token.to_json()
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(shops, f, indent=2, sort_keys=True)
        os.replace(tmp, path)

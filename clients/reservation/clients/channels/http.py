"""The one way an adapter talks to its channel: JSON over HTTP, at a bounded rate, with
the app key and secret from the environment (none is ever committed), and the shop's
own token (credentials.py: per shop, refreshed as each channel documents).

    CHANNEL_<NAME>_URL          base URL of the channel's API (the fake server in tests)
    CHANNEL_<NAME>_APP_KEY      the app key the channel issued
    CHANNEL_<NAME>_APP_SECRET   the secret that signs requests (or _APP_SECRET_FILE)

(Not RESERVATION_*: the service refuses RESERVATION_ variables it does not know.)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3

from reservation.clients.channels import credentials as creds
from reservation.clients.channels.base import ChannelError

# urllib3 logs every request line at DEBUG, query included, and the TOP-style APIs carry
# the shop's session or access token in the query: never below INFO, whatever the root
# logger's level (tests/channels/test_shops.py checks no token reaches a log).
logging.getLogger("urllib3").setLevel(logging.INFO)


class RateLimiter:
    """Token bucket: at most `rate` requests a second, bursts of `burst`. Thread-safe."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate, self.burst = rate, burst
        self._tokens = float(burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            wait = (1 - self._tokens) / self.rate if self._tokens < 1 else 0.0
            self._tokens -= 1
        if wait > 0:
            time.sleep(wait)


def sign_md5(params: Mapping[str, Any], secret: str) -> str:
    """The TOP-style signature Taobao, JD and Pinduoduo use: MD5 of secret + sorted
    key/value pairs + secret, upper-case hex."""
    body = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign")
    return hashlib.md5(f"{secret}{body}{secret}".encode()).hexdigest().upper()


@dataclass
class ChannelApi:
    channel: str
    base_url: str
    app_key: str = ""
    app_secret: str = field(default="", repr=False)
    rate: float = 10.0
    timeout_s: float = 10.0
    page_size: int = 100
    shop: str = ""
    credentials: creds.ShopCredentials | None = field(default=None, repr=False)
    limiter: RateLimiter = field(init=False, repr=False)
    http: urllib3.PoolManager = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if urllib.parse.urlsplit(self.base_url).scheme not in ("http", "https", "file"):
            raise ValueError(f"{self.channel}: {self.base_url!r} is not an http(s) or "
                             "file URL")
        self.limiter = RateLimiter(self.rate, burst=max(1, int(self.rate)))
        # Connections kept open between calls (a stock-sync worker makes hundreds a
        # second; a new TCP, and for the real channels TLS, handshake each was most of
        # a call's cost). No retries here: the callers' Backoff decides.
        self.http = urllib3.PoolManager(num_pools=4, maxsize=4, retries=False,
                                        timeout=urllib3.Timeout(total=self.timeout_s))

    @classmethod
    def from_env(cls, channel: str, base_url: str | None = None, rate: float = 10.0,
                 env: Mapping[str, str] = os.environ, shop: str = "") -> ChannelApi:
        """The channel's address and app, and with `shop` that shop's credentials (its
        own app key and secret when it has them, else the channel's)."""
        prefix = f"CHANNEL_{channel.upper()}_"
        url = base_url or env.get(prefix + "URL")
        if not url:
            raise ValueError(f"{channel}: set {prefix}URL (the channel's API address)")
        key = creds.secret(env, creds.shop_variable(channel, shop, "APP_KEY")) if shop else ""
        secret = creds.secret(env, creds.shop_variable(channel, shop, "APP_SECRET")) \
            if shop else ""
        shop_creds = creds.load(channel, shop, env) if shop else None
        if shop and shop_creds is None and channel in creds.SHOP_TOKEN_CHANNELS:
            raise ValueError(f"{channel} shop {shop}: no access token: set "
                             f"{creds.shop_variable(channel, shop, 'ACCESS_TOKEN')} (or _FILE)"
                             f" or {prefix}SHOPS_FILE")
        return cls(channel, url, key or creds.secret(env, prefix + "APP_KEY"),
                   secret or creds.secret(env, prefix + "APP_SECRET"), rate=rate, shop=shop,
                   credentials=shop_creds)

    def token(self, refresh: Callable[[ChannelApi, str], creds.ShopToken]) -> str:
        """The shop's access token for the next call, refreshed first when it is about
        to expire (`refresh`: the channel's own refresh call)."""
        if self.credentials is None:
            where = f"shop {self.shop}" if self.shop else "no shop given"
            raise ChannelError(self.channel, "no-token",
                               f"{where}: no access token; set "
                               f"{creds.shop_variable(self.channel, self.shop or 'NAME', 'ACCESS_TOKEN')}"
                               f" or CHANNEL_{self.channel.upper()}_SHOPS_FILE",
                               retryable=False, auth=True)
        return self.credentials.access_token(lambda rt: refresh(self, rt))

    def token_expired(self) -> None:
        """The channel refused the token as expired or invalid: refresh before the next
        call."""
        if self.credentials is not None:
            self.credentials.expired()

    def post(self, path: str, params: Mapping[str, Any] | None = None,
             body: Any = None, method: str = "POST") -> Any:
        """POST (query `params`, JSON `body`) and return the decoded JSON answer. Network
        failures and HTTP 5xx/429 are retryable ChannelErrors; the caller backs off."""
        self.limiter.acquire()
        url = self.base_url.rstrip("/") + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if method == "GET" else json.dumps(
            body if body is not None else {}, ensure_ascii=False).encode()
        try:
            answer = self.http.request(method, url, body=data,
                                       headers={"Content-Type": "application/json"})
        except urllib3.exceptions.HTTPError as exc:  # refused, reset, timed out
            raise ChannelError(self.channel, "network", str(exc)) from None
        if answer.status >= 400:
            retryable = answer.status >= 500 or answer.status == 429
            raise ChannelError(self.channel, f"http {answer.status}", answer.reason or "",
                               retryable=retryable)
        try:
            return json.loads(answer.data.decode())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ChannelError(self.channel, "bad json", str(exc)) from None

    def download(self, path: str, params: Mapping[str, Any]) -> bytes | None:
        """GET a file's bytes; None when the channel has none (HTTP 404: a statement not
        generated yet). Other failures are ChannelErrors, as for post."""
        self.limiter.acquire()
        url = self.base_url.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
        try:
            answer = self.http.request("GET", url)
        except urllib3.exceptions.HTTPError as exc:
            raise ChannelError(self.channel, "network", str(exc)) from None
        if answer.status == 404:
            return None
        if answer.status >= 400:
            raise ChannelError(self.channel, f"http {answer.status}", answer.reason or "",
                               retryable=answer.status >= 500 or answer.status == 429,
                               auth=answer.status in (401, 403))
        return bytes(answer.data)

    def signed(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """params plus app_key and their MD5 signature (TOP style)."""
        out = {**params, "app_key": self.app_key}
        out["sign"] = sign_md5(out, self.app_secret)
        return out

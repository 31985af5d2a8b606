"""A fake of the five channel APIs on 127.0.0.1 (and a folder for the POS), for tests and
the demo: the real APIs cannot be reached from here.

It serves orders in each channel's own payload shape and envelope, filtered by the
channel's modified-time window and paged as asked; it checks the request signature; it
can be told to fail the next requests with the channel's own error shape, to repeat the
last order of each page at the top of the next one (a page boundary that shifted), and
to take late and out-of-order writes (`put` an order with any modified time, at any
moment). It records every tracking number pushed to it, answers a second push of the
same number the way the channel does ("already shipped"), and counts what it accepted.

Shops: it issues each shop its own access token (`issue`, or on demand by `api` and
`env`), checks it on every call (Taobao's `session`, the others' `access_token`; WeChat's
from appid and secret), answers an expired or unknown one with the channel's own error,
and refreshes it by the channel's own refresh call (a refresh token is good for one
refresh). An order put for a shop is served to that shop's token only.

    server = FakeChannels(pos_dir=tmp_path / "pos").start()
    server.put("taobao", {...raw trade...})
    api = server.api("taobao")                # a ChannelApi pointing at it
    server.stop()
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import secrets
import signal
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reservation.clients.channels import (
    douyin,
    fake_statements,
    jd,
    pinduoduo,
    pos,
    settlement,
    taobao,
    wechat,
)
from reservation.clients.channels.base import CST
from reservation.clients.channels.credentials import ShopCredentials, ShopToken, shop_variable
from reservation.clients.channels.fake_listings import FakeListings, ListingError, int_of
from reservation.clients.channels.fake_statements import Payout
from reservation.clients.channels.http import ChannelApi, sign_md5
from reservation.clients.channels.samples import (
    CHANNELS,
    Refund,
    Sample,
    build,
    make_orders,
    pay_or_abandon,
    refunded,
)

APP_KEY = "fake-app-key"
APP_SECRET = "fake-app-secret"  # the fake's own, not a real channel's

# The stock calls of Taobao's TOP API the fake answers.
_TAOBAO_STOCK = ("taobao.skus.quantity.update", "taobao.item.update.listing",
                 "taobao.item.update.delisting")
# What a refused stock call answers, per channel and kind (each module's STOCK_REFUSED).
_STOCK_CODES = {
    "taobao": {"unknown": "isv.item-not-exist", "zero": "isv.item-quantity-zero-onsale",
               "bad": "isv.invalid-parameter"},
    "jd": {"unknown": "60001", "zero": "60002", "bad": "60002"},
    "pdd": {"unknown": "70050", "zero": "70051", "bad": "70051"},
    "douyin": {"unknown": "40050", "zero": "40051", "bad": "40051"},
    "wechat": {"unknown": "10020052", "zero": "10020051", "bad": "10020051"},
}

# Where each channel keeps an order's id and modified time in its payload.
ID_FIELD = {"taobao": "tid", "jd": "orderId", "pdd": "order_sn", "douyin": "order_id",
            "wechat": "order_id"}


def modified_ms(channel: str, raw: dict[str, Any]) -> int:
    if channel in ("douyin", "wechat"):
        return int(raw["update_time"]) * 1000
    text = raw["updated_at" if channel == "pdd" else "modified"]
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
               .timestamp() * 1000)


def _cst_ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
               .timestamp() * 1000)


TOKEN_TTL_S = 86_400
REFRESH_TTL_S = 30 * 86_400


@dataclass
class Issued:
    channel: str
    shop: str
    token: ShopToken


@dataclass(frozen=True)
class Pushed:
    channel: str
    order_id: str
    carrier: str
    tracking_number: str


class FakeChannels:
    def __init__(self, pos_dir: Path | None = None, repeat_boundary: bool = False) -> None:
        self.pos_dir = pos_dir
        if pos_dir is not None:
            pos_dir.mkdir(parents=True, exist_ok=True)
        self.repeat_boundary = repeat_boundary
        self.lock = threading.Lock()
        self.orders: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.failures: dict[str, list[str]] = defaultdict(list)
        self.requests: dict[str, int] = defaultdict(int)
        self.accepted: list[Pushed] = []
        self.refused_pushes: list[Pushed] = []
        self.push_attempts = 0
        # block_push_at: the n-th push attempt waits (accepted, not yet answered) until
        # `release` is set: the moment to kill an adapter that the channel just accepted.
        self.block_push_at = 0
        self.blocked = threading.Event()
        self.release = threading.Event()
        self.listings = FakeListings()
        self.order_shop: dict[str, dict[str, str]] = defaultdict(dict)
        self.issued: dict[tuple[str, str], Issued] = {}       # (channel, access token)
        self.refreshable: dict[tuple[str, str], Issued] = {}  # (channel, refresh token)
        self.shop_tokens: dict[tuple[str, str], ShopToken] = {}  # (channel, shop): current
        self.shop_requests: dict[tuple[str, str], int] = defaultdict(int)
        self.refreshes: dict[tuple[str, str], int] = defaultdict(int)
        self.clock = time.time
        self.wechat_ttl_s = 7200.0
        self.wechat_tokens: dict[str, float] = {}  # access_token -> expires at (epoch s)
        self.refunds: dict[tuple[str, str], list[dict[str, Any]]] = {}
        """(channel, the key its after-sales API is asked with) -> its records."""
        self.statements: dict[tuple[str, str, str], bytes] = {}  # (channel, shop, day)
        self.statement_downloads: dict[tuple[str, str, str], int] = defaultdict(int)
        self._server: ThreadingHTTPServer | None = None
        self.connections = 0
        """TCP connections accepted (callers keep theirs open between calls)."""

    # --- setting the scene -----------------------------------------------------------

    def put(self, channel: str, raw: dict[str, Any], shop: str = "") -> None:
        """Make `raw` the channel's current copy of that order (whatever its modified
        time: an older copy after a newer one is an out-of-order write); with `shop`,
        only that shop's token is shown it."""
        with self.lock:
            oid = str(raw[ID_FIELD[channel]])
            self.orders[channel][oid] = raw
            self.order_shop[channel][oid] = shop

    def put_refunded(self, channel: str, sample: Sample, refunds: Sequence[Refund],
                     shop: str = "", mtime_ms: int | None = None) -> dict[str, Any]:
        """Paid order `sample` refunded with these reasons: the order as the channel
        shows it, and its after-sales records behind the channel's refund API (the POS:
        its rows in a daily file named after the order)."""
        raw, records = refunded(channel, sample, refunds)
        if channel == "pos":
            self.write_pos_file(f"refunds_{sample.order_id}.csv", raw["rows"], mtime_ms)
            return raw
        with self.lock:
            for key, found in records.items():
                self.refunds[(channel, key)] = found
        self.put(channel, raw, shop)
        return raw

    def _refunds(self, channel: str, key: object) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.refunds.get((channel, str(key)), []))

    def put_statement(self, channel: str, day: str, payouts: Sequence[Payout],
                      shop: str = "main") -> bytes:
        """The shop's settlement statement for `day`, in the channel's own shape; putting
        the day again replaces the file (a late or corrected statement). Until a day is
        put its download answers 404, as a bill not generated yet."""
        content = fake_statements.render(channel, day, payouts)
        with self.lock:
            self.statements[(channel, shop, day)] = content
        if channel == "pos" and self.pos_dir is not None:  # the POS's lands in its folder
            path = self.pos_dir / settlement.takings_file(shop, day)
            tmp = path.with_name("." + path.name)
            tmp.write_bytes(content)
            tmp.rename(path)
        return content

    def statement(self, query: dict[str, str]) -> tuple[int, Any]:
        """GET /settlement/statement?channel=&shop=&day=&app_key=: the file's bytes. One
        download path for every channel: the real ones each hand out a download address
        by their own call (Alipay's bill download URL, WeChat Pay's downloadbill, ...)."""
        key = (query.get("channel", ""), query.get("shop", ""), query.get("day", ""))
        with self.lock:
            self.statement_downloads[key] += 1
            failures = self.failures[key[0]]
            failure = failures.pop(0) if failures else None
            content = self.statements.get(key)
        if failure:
            return 503, {"error": "service unavailable"}
        if query.get("app_key") != APP_KEY:
            return 403, {"error": "invalid app_key"}
        if content is None:
            return 404, {"error": "bill not generated yet"}
        return 200, content

    # --- shops' tokens -------------------------------------------------------------------

    def issue(self, channel: str, shop: str, ttl_s: float = TOKEN_TTL_S,
              refresh_ttl_s: float = REFRESH_TTL_S) -> ShopToken:
        """A new token for the shop (its previous one stops working), as the channel's
        authorization would give it."""
        now = self.clock()
        token = ShopToken(f"{channel}-{shop}-{secrets.token_hex(8)}",
                          int((now + ttl_s) * 1000), f"r-{secrets.token_hex(8)}",
                          int((now + refresh_ttl_s) * 1000) if refresh_ttl_s else 0)
        with self.lock:
            self._replace(channel, shop, token)
        return token

    def _replace(self, channel: str, shop: str, token: ShopToken) -> None:
        old = self.shop_tokens.get((channel, shop))
        if old is not None:
            self.issued.pop((channel, old.access_token), None)
            self.refreshable.pop((channel, old.refresh_token), None)
        issued = Issued(channel, shop, token)
        self.shop_tokens[(channel, shop)] = token
        self.issued[(channel, token.access_token)] = issued
        if token.refresh_token:
            self.refreshable[(channel, token.refresh_token)] = issued

    def token_of(self, channel: str, shop: str) -> ShopToken:
        """The shop's current token (issued now if it has none)."""
        with self.lock:
            token = self.shop_tokens.get((channel, shop))
        return token or self.issue(channel, shop)

    def _shop(self, channel: str, access_token: str | None) -> str | None:
        """The shop a token was issued to, or None when it is unknown or expired."""
        with self.lock:
            issued = self.issued.get((channel, access_token or ""))
        if issued is None or issued.token.expires_at_ms <= self.clock() * 1000:
            return None
        with self.lock:
            self.shop_requests[(channel, issued.shop)] += 1
        return issued.shop

    def _refresh(self, channel: str, refresh_token: str) -> ShopToken | None:
        """The channel's refresh: a new access and refresh token, the old ones dead."""
        with self.lock:
            issued = self.refreshable.get((channel, refresh_token))
        if issued is None or (issued.token.refresh_expires_at_ms
                              and issued.token.refresh_expires_at_ms <= self.clock() * 1000):
            return None
        token = self.issue(channel, issued.shop)
        with self.lock:
            self.refreshes[(channel, issued.shop)] += 1
        return token

    def publish(self, orders: dict[str, list[Sample]], now: float) -> None:
        """Each channel's current copy of these orders, as the channel shows them: JD
        only once paid; the POS as one daily file with the orders that are final."""
        for channel, samples in orders.items():
            if channel == "pos":  # the store's daily file lands once, with final states
                rows = [row for s in samples if s.state != "PENDING_PAYMENT"
                        for row in build("pos", s)["rows"]]
                if rows:
                    self.write_pos_file("orders_today.csv", rows, int(now * 1000))
                continue
            for s in samples:
                if channel == "jd" and s.state != "PAID":
                    continue  # JD shows an order once paid, never before
                self.put(channel, build(channel, s))

    def fail_next(self, channel: str, count: int = 1, kind: str = "limit") -> None:
        """The next `count` calls to `channel` answer its error shape: 'limit' (rate
        limited, retryable), 'http' (HTTP 503), 'auth' (not retryable)."""
        with self.lock:
            self.failures[channel] += [kind] * count

    def write_pos_file(self, name: str, rows: list[dict[str, Any]],
                       mtime_ms: int | None = None) -> Path:
        """A POS daily file (.csv or .xlsx) in pos_dir, with the given modification time."""
        assert self.pos_dir is not None
        self.pos_dir.mkdir(parents=True, exist_ok=True)
        path = self.pos_dir / name
        tmp = path.with_name("." + name)
        if name.endswith(".xlsx"):
            from openpyxl import Workbook
            book = Workbook()
            sheet = book.active
            sheet.append(list(pos.COLUMNS))
            for row in rows:
                sheet.append([row.get(c, "") for c in pos.COLUMNS])
            book.save(tmp)
        else:
            with tmp.open("w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=list(pos.COLUMNS))
                w.writeheader()
                w.writerows(rows)
        if mtime_ms is not None:
            os.utime(tmp, ns=(mtime_ms * 1_000_000, mtime_ms * 1_000_000))
        tmp.rename(path)  # whole files only, as a real export lands
        return path

    def pos_pushed(self) -> list[Pushed]:
        assert self.pos_dir is not None
        path = self.pos_dir / pos.SHIPMENTS
        if not path.exists():
            return []
        with path.open(newline="", encoding="utf-8") as f:
            return [Pushed("pos", r["order_no"], r["carrier"], r["tracking_number"])
                    for r in csv.DictReader(f)]

    # --- running -----------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeChannels:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real channels' gateways
            # Headers and body go out in two writes: on a kept-alive connection Nagle's
            # algorithm would hold the body for the client's delayed ACK (~40 ms a call).
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                fake.connections += 1

            def do_POST(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size) or b"{}")
                if url.path == "/settlement/statement":
                    status, answer = fake.statement(query)
                else:
                    status, answer = fake.handle(url.path, query, body)
                raw = isinstance(answer, bytes)
                data = answer if raw else json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/csv" if raw else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # JD's token refresh is a GET

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def api(self, channel: str, page_size: int = 100, rate: float = 1000.0,
            shop: str = "main") -> ChannelApi:
        """A ChannelApi for one shop, with the token this fake issued it."""
        if channel == "pos":
            assert self.pos_dir is not None
            return ChannelApi("pos", self.pos_dir.resolve().as_uri(), page_size=page_size,
                              rate=rate)
        creds = ShopCredentials(channel, shop, self.token_of(channel, shop),
                                clock=self.clock) if channel != "wechat" else None
        return ChannelApi(channel, self.url, APP_KEY, APP_SECRET, rate=rate,
                          page_size=page_size, shop=shop, credentials=creds)

    def env(self, channel: str, shop: str = "main") -> dict[str, str]:
        """The environment an adapter process for `shop` needs to reach this fake."""
        p = f"CHANNEL_{channel.upper()}_"
        if channel == "pos":
            assert self.pos_dir is not None
            return {p + "URL": self.pos_dir.resolve().as_uri()}
        env = {p + "URL": self.url, p + "APP_KEY": APP_KEY, p + "APP_SECRET": APP_SECRET}
        if channel != "wechat":
            t = self.token_of(channel, shop)
            env |= {shop_variable(channel, shop, "ACCESS_TOKEN"): t.access_token,
                    shop_variable(channel, shop, "EXPIRES_AT"): str(t.expires_at_ms // 1000),
                    shop_variable(channel, shop, "REFRESH_TOKEN"): t.refresh_token,
                    shop_variable(channel, shop, "REFRESH_EXPIRES_AT"):
                        str(t.refresh_expires_at_ms // 1000)}
        return env

    # --- the channels ------------------------------------------------------------------

    def handle(self, path: str, query: dict[str, str],
               body: dict[str, Any]) -> tuple[int, Any]:
        channel = {"/router/rest": "taobao", "/routerjson": "jd", "/api/router": "pdd",
                   "/oauth2/refresh_token": "jd", "/token/refresh": "douyin",
                   "/order/searchList": "douyin", "/order/logisticsAdd": "douyin",
                   "/sku/syncStockBatch": "douyin", "/product/setOffline": "douyin",
                   "/product/setOnline": "douyin", "/afterSale/List": "douyin",
                   }.get(path, "wechat" if path.startswith(("/channels/", "/cgi-bin/"))
                         else "")
        if not channel:
            return 404, {"error": f"no such path {path}"}
        with self.lock:
            self.requests[channel] += 1
            failure = self.failures[channel].pop(0) if self.failures[channel] else None
        if failure == "http":
            return 503, {"error": "service unavailable"}
        handler = getattr(self, f"_{channel}")
        if failure:
            return 200, self._error(channel, "auth" if failure == "auth" else "limit")
        return 200, handler(path, query, body)

    def _error(self, channel: str, kind: str, code: str = "") -> dict[str, Any]:
        msg = {"limit": "call limited", "auth": "invalid signature",
               "shipped": "already shipped", "other": "refused"}[kind]
        if channel == "taobao":
            c = {"limit": 7, "auth": 25}.get(kind, 15)
            return {"error_response": {"code": c, "msg": msg, "sub_code": code or None,
                                       "sub_msg": msg}}
        if channel == "jd":
            return {"error_response": {"code": code or {"auth": "19"}.get(kind, "66"),
                                       "en_desc": msg, "zh_desc": msg}}
        if channel == "pdd":
            return {"error_response": {"error_code": int(code or {"auth": 10019}.get(kind, 70031)),
                                       "error_msg": msg}}
        if channel == "douyin":
            c = {"limit": 50002, "auth": 30002}.get(kind, 40004)
            return {"code": c, "msg": msg, "sub_code": code or None, "sub_msg": msg}
        return {"errcode": int(code or {"auth": 40001}.get(kind, 45009)), "errmsg": msg}

    def _expired(self, channel: str) -> dict[str, Any]:
        """The channel's answer to an expired, revoked or unknown shop token."""
        msg = "access token expired or invalid"
        if channel == "taobao":
            return {"error_response": {"code": int(taobao.SESSION_INVALID), "msg":
                                       "Invalid session", "sub_code": "session-expired",
                                       "sub_msg": msg}}
        if channel == "jd":
            return {"error_response": {"code": jd.TOKEN_INVALID, "en_desc": msg,
                                       "zh_desc": msg}}
        if channel == "pdd":
            return {"error_response": {"error_code": int(pinduoduo.TOKEN_EXPIRED),
                                       "error_msg": msg}}
        return {"code": int(douyin.TOKEN_EXPIRED), "msg": msg, "sub_code": None,
                "sub_msg": msg}

    def _window(self, channel: str, start_ms: int, end_ms: int,
                shop: str = "") -> list[dict[str, Any]]:
        with self.lock:
            shops = self.order_shop[channel]
            found = [o for oid, o in self.orders[channel].items()
                     if start_ms <= modified_ms(channel, o) <= end_ms
                     and shops.get(oid, "") in ("", shop)]
        return sorted(found, key=lambda o: (modified_ms(channel, o),
                                            str(o[ID_FIELD[channel]])))

    def _page(self, rows: list[Any], index: int, size: int) -> list[Any]:
        """Page `index` (from 0); with repeat_boundary the previous page's last row
        comes again first."""
        start = index * size
        page = rows[start:start + size]
        if self.repeat_boundary and index > 0 and start - 1 < len(rows):
            page = [rows[start - 1], *page]
        return page

    def _signed_ok(self, params: dict[str, Any]) -> bool:
        return params.get("sign") == sign_md5(params, APP_SECRET)

    def _push(self, channel: str, order_id: str, carrier: str,
              tracking: str) -> str | None:
        """Record a push; None when accepted, else why not ('shipped' or 'unknown')."""
        p = Pushed(channel, order_id, carrier, tracking)
        with self.lock:
            self.push_attempts += 1
            block = self.push_attempts == self.block_push_at
        if block:
            self.blocked.set()
            self.release.wait(30)
        with self.lock:
            if order_id not in self.orders[channel]:
                self.refused_pushes.append(p)
                return "other"
            before = [a for a in self.accepted
                      if a.channel == channel and a.order_id == order_id]
            if before:
                self.refused_pushes.append(p)
                # the same number again: "already shipped"; another number: refused
                return "shipped" if before[0].tracking_number == tracking else "other"
            self.accepted.append(p)
        return None

    def _taobao(self, path: str, query: dict[str, str], body: Any) -> Any:
        if not self._signed_ok(query):
            return self._error("taobao", "auth")
        if query["method"] == "taobao.top.auth.token.refresh":
            t = self._refresh("taobao", query.get("refresh_token", ""))
            if t is None:
                return {"error_response": {"code": 15, "msg": "Remote service error",
                                           "sub_code": "isv.refresh-token-invalid",
                                           "sub_msg": "refresh token invalid or expired"}}
            return {"top_auth_token_refresh_response": {"token_result": json.dumps({
                "access_token": t.access_token, "expire_time": t.expires_at_ms,
                "refresh_token": t.refresh_token,
                "refresh_token_valid_time": t.refresh_expires_at_ms})}}
        shop = self._shop("taobao", query.get("session"))
        if shop is None:
            return self._expired("taobao")
        if query["method"] == "taobao.trades.sold.increment.get":
            rows = self._window("taobao", _cst_ms(query["start_modified"]),
                                _cst_ms(query["end_modified"]), shop)
            no, size = int(query["page_no"]), int(query["page_size"])
            return {"trades_sold_increment_get_response": {
                "total_results": len(rows), "has_next": no * size < len(rows),
                "trades": {"trade": self._page(rows, no - 1, size)}}}
        if query["method"] == "taobao.refund.get":
            found = self._refunds("taobao", query.get("refund_id"))
            if not found:
                return self._error("taobao", "other", "isv.refund-not-exist")
            return {"refund_get_response": {"refund": found[0]}}
        if query["method"] == "taobao.logistics.offline.send":
            why = self._push("taobao", query["tid"], query["company_code"], query["out_sid"])
            if why:
                return self._error("taobao", why, taobao.ALREADY_SHIPPED
                                   if why == "shipped" else "isv.trade-not-exist")
            return {"logistics_offline_send_response": {"shipping": {"is_success": True}}}
        if query["method"] in _TAOBAO_STOCK:
            return self._stock("taobao", query["method"], lambda: self._taobao_stock(query))
        return self._error("taobao", "other")

    def _taobao_stock(self, q: dict[str, str]) -> Any:
        method, item = q["method"], q["num_iid"]
        if method == "taobao.skus.quantity.update":
            if q.get("type", "1") != "1":
                raise ListingError("bad", "only full quantities (type 1) are modelled")
            pairs = [(p.split(":")[0], int_of(p.split(":")[1]))
                     for p in q["skuid_quantities"].split(";") if p]
            if not 0 < len(pairs) <= taobao.STOCK_BATCH:
                raise ListingError("bad", f"1 to {taobao.STOCK_BATCH} skuid_quantities")
            self.listings.set_quantities("taobao", item, pairs, keep_total_on_sale=True)
            return {"skus_quantity_update_response": {"item": {"num_iid": item}}}
        online = method == "taobao.item.update.listing"
        self.listings.set_online("taobao", item, online, need_stock=online)
        key = "item_update_listing_response" if online else "item_update_delisting_response"
        return {key: {"item": {"num_iid": item}}}

    def _jd(self, path: str, query: dict[str, str], body: Any) -> Any:
        if path == "/oauth2/refresh_token":
            if (query.get("app_key"), query.get("app_secret")) != (APP_KEY, APP_SECRET):
                return {"code": 401, "msg": "invalid app"}
            t = self._refresh("jd", query.get("refresh_token", ""))
            if t is None:
                return {"code": 403, "msg": "refresh_token invalid or expired"}
            now_ms = int(self.clock() * 1000)
            return {"access_token": t.access_token, "refresh_token": t.refresh_token,
                    "expires_in": (t.expires_at_ms - now_ms) // 1000, "time": now_ms}
        if not self._signed_ok(query):
            return self._error("jd", "auth")
        shop = self._shop("jd", query.get("access_token"))
        if shop is None:
            return self._expired("jd")
        params = json.loads(query["360buy_param_json"])
        if query["method"] == "jingdong.pop.order.search":
            rows = self._window("jd", _cst_ms(params["start_date"]), _cst_ms(params["end_date"]),
                                shop)
            return {"jingdong_pop_order_search_responce": {"searchorderinfo_result": {
                "apiResult": {"success": True}, "orderTotal": len(rows),
                "orderInfoList": self._page(rows, params["page"] - 1, params["page_size"])}}}
        if query["method"] == "jingdong.pop.afs.soa.refundapply.queryPageList":
            found = self._refunds("jd", params["orderId"])
            return {"jingdong_pop_afs_soa_refundapply_queryPageList_responce": {
                "queryResult": {"success": True, "totalCount": len(found), "result": found}}}
        if query["method"] == "jingdong.pop.order.shipment":
            why = self._push("jd", params["orderId"], params["logiCoprId"], params["logiNo"])
            if why:
                return self._error("jd", why, jd.ALREADY_SHIPPED if why == "shipped" else "")
            return {"jingdong_pop_order_shipment_responce": {
                "sopjosshipment_result": {"success": True}}}
        if query["method"] == "jingdong.stock.write.updateSkuStock":
            def update() -> Any:
                sku_id = str(params["skuId"])
                item = self.listings.sku_item("jd", sku_id)
                self.listings.set_quantities("jd", item, [(sku_id, int_of(params["stockNum"]))])
                return {"jingdong_stock_write_updateSkuStock_responce": {"success": True}}
            return self._stock("jd", query["method"], update)
        return self._error("jd", "other")

    def _pdd(self, path: str, query: dict[str, str], body: dict[str, Any]) -> Any:
        params = {**body, "app_key": body.get("client_id")}
        params.pop("client_id", None)
        if params.get("sign") != sign_md5(params, APP_SECRET):
            return self._error("pdd", "auth")
        if body["type"] == "pdd.pop.auth.token.refresh":
            t = self._refresh("pdd", body.get("refresh_token", ""))
            if t is None:
                return {"error_response": {"error_code": 10020, "error_msg":
                                           "refresh_token invalid or expired"}}
            return {"pop_auth_token_refresh_response": {
                "access_token": t.access_token, "expires_at": t.expires_at_ms // 1000,
                "expires_in": int(t.expires_at_ms / 1000 - self.clock()),
                "refresh_token": t.refresh_token,
                "refresh_token_expires_at": t.refresh_expires_at_ms // 1000}}
        shop = self._shop("pdd", body.get("access_token"))
        if shop is None:
            return self._expired("pdd")
        if body["type"] == "pdd.order.number.list.increment.get":
            rows = self._window("pdd", body["start_updated_at"] * 1000,
                                body["end_updated_at"] * 1000, shop)
            page, size = body["page"], body["page_size"]
            return {"order_sn_increment_get_response": {
                "total_count": len(rows), "has_next": page * size < len(rows),
                "order_sn_list": self._page(rows, page - 1, size)}}
        if body["type"] == "pdd.refund.list.increment.get":
            found = self._refunds("pdd", body.get("order_sn"))
            return {"refund_increment_get_response": {"total_count": len(found),
                                                      "refund_list": found}}
        if body["type"] == "pdd.logistics.online.send":
            why = self._push("pdd", body["order_sn"], str(body["logistics_id"]),
                             body["tracking_number"])
            if why:
                return self._error("pdd", why, pinduoduo.ALREADY_SHIPPED
                                   if why == "shipped" else "")
            return {"logistics_online_send_response": {"is_success": True}}
        if body["type"] == "pdd.goods.quantity.update":
            def update() -> Any:
                if body.get("update_type", 1) != 1:
                    raise ListingError("bad", "only full quantities (update_type 1)")
                self.listings.set_quantities("pdd", str(body["goods_id"]), [
                    (str(body["sku_id"]), int_of(body["quantity"]))])
                return {"goods_quantity_update_response": {"is_success": True}}
            return self._stock("pdd", body["type"], update)
        if body["type"] == "pdd.goods.sale.status.set":
            def sale() -> Any:
                self.listings.set_online("pdd", str(body["goods_id"]),
                                         int_of(body["is_onsale"]) == 1)
                return {"goods_sale_status_set_response": {"is_success": True}}
            return self._stock("pdd", body["type"], sale)
        return self._error("pdd", "other")

    def _douyin(self, path: str, query: dict[str, str], body: Any) -> Any:
        expected = douyin.sign(APP_KEY, APP_SECRET, query["method"], query["param_json"],
                               int(query["timestamp"]))
        if query.get("sign") != expected:
            return self._error("douyin", "auth")
        params = json.loads(query["param_json"])
        if query["method"] == "token.refresh":
            t = self._refresh("douyin", params.get("refresh_token", ""))
            if t is None:
                return {"code": 30004, "msg": "refresh_token invalid or used",
                        "sub_code": "isv.refresh-token-invalid", "sub_msg": "refused"}
            return {"code": douyin.SUCCESS, "msg": "success", "data": {
                "access_token": t.access_token, "refresh_token": t.refresh_token,
                "expires_in": int(t.expires_at_ms / 1000 - self.clock())}}
        shop = self._shop("douyin", query.get("access_token"))
        if shop is None:
            return self._expired("douyin")
        if query["method"] == "order.searchList":
            rows = self._window("douyin", params["update_time_start"] * 1000,
                                params["update_time_end"] * 1000, shop)
            return {"code": douyin.SUCCESS, "msg": "success", "data": {
                "total": len(rows), "page": params["page"], "size": params["size"],
                "shop_order_list": self._page(rows, params["page"], params["size"])}}
        if query["method"] == "afterSale.List":
            found = self._refunds("douyin", params.get("order_id"))
            return {"code": douyin.SUCCESS, "msg": "success", "data": {
                "items": found, "total": len(found), "has_more": False}}
        if query["method"] == "order.logisticsAdd":
            why = self._push("douyin", params["order_id"], params["company_code"],
                             params["logistics_code"])
            if why:
                return self._error("douyin", why, douyin.ALREADY_SHIPPED
                                   if why == "shipped" else "")
            return {"code": douyin.SUCCESS, "msg": "success", "data": {}}
        if query["method"] == "sku.syncStockBatch":
            def update() -> Any:
                if params.get("incremental"):
                    raise ListingError("bad", "only full quantities (incremental false)")
                rows = params["sku_sync_list"]
                if not 0 < len(rows) <= douyin.STOCK_BATCH:
                    raise ListingError("bad", f"1 to {douyin.STOCK_BATCH} SKUs per call")
                self.listings.set_quantities("douyin", str(params["product_id"]), [
                    (str(r["sku_id"]), int_of(r["stock_num"])) for r in rows])
                return {"code": douyin.SUCCESS, "msg": "success", "data": {}}
            return self._stock("douyin", query["method"], update)
        if query["method"] in ("product.setOffline", "product.setOnline"):
            def online() -> Any:
                self.listings.set_online("douyin", str(params["product_id"]),
                                         query["method"] == "product.setOnline")
                return {"code": douyin.SUCCESS, "msg": "success", "data": {}}
            return self._stock("douyin", query["method"], online)
        return self._error("douyin", "other")

    def _wechat(self, path: str, query: dict[str, str], body: dict[str, Any]) -> Any:
        if path == "/cgi-bin/token":
            if query.get("appid") != APP_KEY or query.get("secret") != APP_SECRET:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            token = f"wx-{secrets.token_hex(8)}"
            with self.lock:
                self.wechat_tokens[token] = self.clock() + self.wechat_ttl_s
            return {"access_token": token, "expires_in": int(self.wechat_ttl_s)}
        with self.lock:
            until = self.wechat_tokens.get(query.get("access_token") or "")
        if until is None:
            return self._error("wechat", "auth")
        if until <= self.clock():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        if path == "/channels/ec/order/list/get":
            r = body["update_time_range"]
            rows = self._window("wechat", r["start_time"] * 1000, r["end_time"] * 1000)
            offset, size = int(body.get("next_key") or 0), body["page_size"]
            page = rows[offset:offset + size]
            if self.repeat_boundary and offset > 0:
                page = [rows[offset - 1], *page]
            return {"errcode": 0, "errmsg": "ok", "has_more": offset + size < len(rows),
                    "next_key": str(offset + size),
                    "order_id_list": [o["order_id"] for o in page]}
        if path == "/channels/ec/order/get":
            with self.lock:
                order = self.orders["wechat"].get(body["order_id"])
            if order is None:
                return {"errcode": 100002, "errmsg": "order not found"}
            return {"errcode": 0, "errmsg": "ok", "order": order}
        if path == "/channels/ec/aftersale/getaftersaleorder":
            found = self._refunds("wechat", body.get("after_sale_order_id"))
            if not found:
                return {"errcode": 10020100, "errmsg": "after-sales order not found"}
            return {"errcode": 0, "errmsg": "ok", "after_sale_order": found[0]}
        if path == "/channels/ec/order/delivery/send":
            d = body["delivery_list"][0]
            why = self._push("wechat", body["order_id"], d["delivery_id"], d["waybill_id"])
            if why:
                return self._error("wechat", why, wechat.ALREADY_SHIPPED
                                   if why == "shipped" else "")
            return {"errcode": 0, "errmsg": "ok"}
        if path == "/channels/ec/product/stock/update":
            def update() -> Any:
                if body.get("diff_type") != 3:
                    raise ListingError("bad", "only full numbers (diff_type 3) are modelled")
                self.listings.set_quantities("wechat", str(body["product_id"]), [
                    (str(body["sku_id"]), int_of(body["num"]))])
                return {"errcode": 0, "errmsg": "ok"}
            return self._stock("wechat", path, update)
        if path in ("/channels/ec/product/listing", "/channels/ec/product/delisting"):
            def online() -> Any:
                self.listings.set_online("wechat", str(body["product_id"]),
                                         path.endswith("/listing"))
                return {"errcode": 0, "errmsg": "ok"}
            return self._stock("wechat", path, online)
        return self._error("wechat", "other")

    def _stock(self, channel: str, method: str, call: Any) -> Any:
        """Run a stock call (counted by method); a ListingError becomes the channel's own
        refusal."""
        with self.lock:
            self.listings.calls[method] += 1
        try:
            return call()
        except (ListingError, KeyError) as exc:
            kind = exc.kind if isinstance(exc, ListingError) else "bad"
            return self._error(channel, "other", _STOCK_CODES[channel][kind])


# --- `reservation-clients fake-channels`: the fakes as a process, for trying an adapter -

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=0, help="HTTP port on 127.0.0.1 (0: any)")
    p.add_argument("--pos-dir", help="the POS folder (default: a temporary one)")
    p.add_argument("--orders", type=int, default=20, help="sample orders per channel")
    p.add_argument("--seed", type=int, default=7, help="random seed of the sample orders")


def run(args: argparse.Namespace) -> int:
    """Serve sample orders (a day's worth, paid or cancelled) in every channel's shape
    until SIGTERM/SIGINT; print the environment each adapter needs to reach them."""
    with tempfile.TemporaryDirectory(prefix="fake-channels-") as tmp:
        fake = FakeChannels(pos_dir=Path(args.pos_dir or Path(tmp) / "pos"))
        now = time.time()
        rng = random.Random(args.seed)
        fake.publish(pay_or_abandon(make_orders(args.orders, rng, now), rng, now), now)
        fake.start(args.port)
        for channel in CHANNELS:
            print(" ".join(f"{k}={v}" for k, v in fake.env(channel).items()), flush=True)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        fake.stop()
    return 0

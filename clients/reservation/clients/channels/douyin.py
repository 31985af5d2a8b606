"""Douyin shop: orders by update time, tracking numbers by logistics add.

    fetch  order.searchList    update_time_start/update_time_end (unix s), page from 0
    push   order.logisticsAdd  order_id, company_code, logistics_code
    refund afterSale.List      order_id (an order refunded)

`main_status` is the finer field (it adds partly paid and the refund endings); it is
used when present, and `order_status` is checked against its table either way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any

from reservation.clients.channels import base as b
from reservation.clients.channels.credentials import ShopToken
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.stock import ItemPush, Outcome, accepted, chunks, refused

NAME = "douyin"

STATUS: dict[int, str] = {
    1: b.PENDING_PAYMENT,   # unpaid
    105: b.PAID,            # paid
    2: b.PAID,              # stocking
    101: b.PAID,            # partly shipped: the rest is still to ship
    3: b.SHIPPED,
    4: b.CANCELLED,
    5: b.DELIVERED,         # completed
}
MAIN_STATUS: dict[int, str] = {
    **STATUS,
    103: b.PENDING_PAYMENT,  # partly paid
    21: b.REFUNDED,          # refund completed before shipping
    22: b.REFUNDED,          # ... after shipping
    39: b.REFUNDED,          # ... after receipt
}

# After-sales `reason` (the text of the buyer's pick) -> (level1, level2). Douyin also
# sends a numeric `reason_code`, but its list of codes could not be found published, so
# the table is keyed by the text it comes with. Not listed ("其他", other): left for
# service staff.
REASONS: dict[str, tuple[str, str]] = {
    "质量问题": ("quality", "defect"),
    "商品破损": ("logistics", "damaged_in_transit"),
    "发错货": ("logistics", "wrong_item_sent"),
    "少件/漏发": ("logistics", "missing_parts"),
    "商品与页面描述不符": ("not_as_described", "function_differs"),
    "尺码不合适": ("quality", "size_wrong"),
    "七天无理由退货": ("other", "no_reason"),
    "不想要了": ("other", "changed_mind"),
    "多拍/拍错": ("other", "ordered_by_mistake"),
}

FIELDS = {
    "order_id": "order_id", "state": "main_status (else order_status)",
    "modified_at": "update_time (unix s)", "created_at": "create_time", "paid_at": "pay_time",
    "receiver_phone": "post_tel", "address.province": "post_addr.province",
    "address.city": "post_addr.city", "address.district": "post_addr.town",
    "address.detail": "post_addr.detail", "lines[].sku": "sku_order_list[].out_sku_id or sku_id",
    "lines[].quantity": "item_num", "lines[].price": "order_amount / item_num (fen)",
    "total": "order_amount (fen)", "paid": "pay_amount (fen)",
}

SUCCESS = 10000
ALREADY_SHIPPED = "30007"
AUTH_REFUSED = frozenset({"30001", "30002"})
"""The app's signature or the shop's access token refused (as the fake models them)."""
STOCK_REFUSED = frozenset({"40050", "40051"})
"""A stock or online call for a product the shop does not have, or a malformed one (as
the fake channel models them; not retried)."""


def _code(raw: dict[str, Any], oid: str, name: str, table: dict[int, str]) -> str:
    value = raw.get(name)
    try:
        return table[int(value)]  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        raise b.UnknownStatus(NAME, oid, name, value) from None


def _place(value: Any) -> str:
    """post_addr parts come as {"name": ..., "id": ...} or as plain text."""
    return str((value.get("name") if isinstance(value, dict) else value) or "")


def to_order(raw: dict[str, Any], shop: str) -> b.CanonicalOrder:
    oid = str(b.require(raw, "order_id", NAME))
    state = _code(raw, oid, "order_status", STATUS)
    raw_status = f"order_status={raw.get('order_status')}"
    if raw.get("main_status") not in (None, ""):
        state = _code(raw, oid, "main_status", MAIN_STATUS)
        raw_status += f" main_status={raw.get('main_status')}"
    addr = raw.get("post_addr") or {}
    lines = []
    for s in raw.get("sku_order_list") or []:
        qty = b.int_field(s.get("item_num"), NAME, oid, "item_num")
        amount = b.int_field(s.get("order_amount") or 0, NAME, oid, "order_amount")
        lines.append(b.Line(sku=str(s.get("out_sku_id") or s.get("sku_id") or ""),
                            quantity=qty, price_cents=amount // qty if qty else 0))
    return b.CanonicalOrder(
        channel=NAME, shop=shop, order_id=oid, state=state, raw_status=raw_status,
        modified_at_ms=b.epoch_s_ms(b.require(raw, "update_time", NAME, oid), NAME, oid,
                                    "update_time"),
        created_at_ms=b.epoch_s_ms(raw.get("create_time"), NAME, oid, "create_time"),
        paid_at_ms=b.epoch_s_ms(raw.get("pay_time"), NAME, oid, "pay_time"),
        receiver_phone=str(raw.get("post_tel") or ""),
        address=b.Address(_place(addr.get("province")), _place(addr.get("city")),
                          _place(addr.get("town")), str(addr.get("detail") or "")),
        lines=tuple(lines),
        total_cents=b.int_field(raw.get("order_amount") or 0, NAME, oid, "order_amount"),
        paid_cents=b.int_field(raw.get("pay_amount") or 0, NAME, oid, "pay_amount"))


def sign(app_key: str, secret: str, method: str, param_json: str, timestamp: int) -> str:
    """Douyin's request signature: HMAC-SHA256 over the parameters wrapped in the secret."""
    body = f"{secret}app_key{app_key}method{method}param_json{param_json}" \
           f"timestamp{timestamp}v2{secret}"
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


TOKEN_EXPIRED = "30002"
"""access_token expired: refreshed, then the call is tried again."""


def refresh(api: ChannelApi, refresh_token: str) -> ShopToken:
    """token.refresh: a refresh token is good for one refresh (the answer carries the
    next one); expires_in is seconds from now."""
    data = _call(api, "token.refresh", token=False, grant_type="refresh_token",
                 refresh_token=refresh_token)
    return ShopToken(str(data["access_token"]),
                     int(time.time() * 1000) + int(data.get("expires_in") or 0) * 1000,
                     str(data.get("refresh_token") or ""))


def _call(api: ChannelApi, method: str, token: bool = True, **params: Any) -> dict[str, Any]:
    param_json = json.dumps(params, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    now = int(time.time())
    query = {"app_key": api.app_key, "method": method, "param_json": param_json,
             "timestamp": now, "v": "2",
             "sign": sign(api.app_key, api.app_secret, method, param_json, now)}
    if token:  # the access_token travels beside the signed parameters
        query["access_token"] = api.token(refresh)
    answer = api.post("/" + method.replace(".", "/"), query)
    if answer.get("code") != SUCCESS:
        code = str(answer.get("sub_code") or answer.get("code"))
        if str(answer.get("code")) == TOKEN_EXPIRED and token:
            api.token_expired()
            raise b.ChannelError(NAME, code, "the shop's access_token expired: refreshing")
        raise b.ChannelError(NAME, code, str(answer.get("sub_msg") or answer.get("msg")),
                             retryable=code != ALREADY_SHIPPED and code not in STOCK_REFUSED
                             and code not in AUTH_REFUSED, auth=code in AUTH_REFUSED)
    return answer.get("data") or {}


def fetch(api: ChannelApi, window: b.Window, token: str | None) -> b.Page:
    page = int(token or 0)
    data = _call(api, "order.searchList", update_time_start=window.start_ms // 1000,
                 update_time_end=(window.end_ms + 999) // 1000, page=page,
                 size=api.page_size)
    orders = data.get("shop_order_list") or []
    more = (page + 1) * api.page_size < int(data.get("total") or 0)
    return b.Page(orders, str(page + 1) if more else None)


def push(api: ChannelApi, p: b.Push) -> None:
    try:
        _call(api, "order.logisticsAdd", order_id=p.order_id, company_code=p.carrier,
              logistics_code=p.tracking_number)
    except b.ChannelError as exc:
        if exc.code != ALREADY_SHIPPED:
            raise


def refunds(api: ChannelApi, raw: dict[str, Any]) -> list[b.RefundReason]:
    """The order's after-sales (afterSale.List by order_id): each names the SKU order it
    is for, its reason and the buyer's remark."""
    skus = {str(s.get("sku_order_id")): str(s.get("out_sku_id") or s.get("sku_id") or "")
            for s in raw.get("sku_order_list") or []}
    data = _call(api, "afterSale.List", order_id=str(raw.get("order_id")), page=0,
                 size=100)
    out = []
    for item in data.get("items") or []:
        info = item.get("aftersale_info") or {}
        sku_order = str(info.get("related_id") or "")
        out.append(b.RefundReason(skus.get(sku_order, sku_order), str(info.get("reason") or ""),
                                  str(info.get("apply_remark") or "")))
    return out


STOCK_BATCH = 50
"""SKUs of one product per sku.syncStockBatch call (all of them succeed or none)."""


def push_stock(api: ChannelApi, items: Sequence[ItemPush]) -> Outcome:
    """Full quantities (incremental false) of a product's SKUs in one sku.syncStockBatch;
    a product none of whose SKUs may sell is taken offline (product.setOffline) and back
    online (product.setOnline) once one may: the live room's link closes with it."""
    out: Outcome = {}
    for item in items:
        try:
            if item.goes_offline:
                _call(api, "product.setOffline", product_id=item.item_id)
            for part in chunks(item.changed, STOCK_BATCH):
                _call(api, "sku.syncStockBatch", product_id=item.item_id, incremental=False,
                      sku_sync_list=[{"sku_id": t.row.sku_id, "sku_type": 0,
                                      "stock_num": t.quantity if t.listed else 0}
                                     for t in part])
            if item.goes_online:
                _call(api, "product.setOnline", product_id=item.item_id)
        except b.ChannelError as exc:
            if exc.retryable or exc.auth:
                raise
            out.update(refused(item, exc))
            continue
        out.update(accepted(item))
    return out


ADAPTER = b.Adapter(NAME, STATUS, FIELDS, to_order, fetch, push,
                    extra_tables={"main_status": MAIN_STATUS}, push_stock=push_stock,
                    refunds=refunds, reasons=REASONS)

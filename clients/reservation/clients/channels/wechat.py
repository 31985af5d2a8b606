"""WeChat Channels shop: order ids by update time, then each order; tracking numbers by
delivery send.

    token  /cgi-bin/token                       appid, secret -> access_token
    fetch  /channels/ec/order/list/get          update_time_range, next_key
           /channels/ec/order/get               order_id (one call per listed id)
    push   /channels/ec/order/delivery/send     order_id, delivery_list[]
    refund /channels/ec/aftersale/getaftersaleorder  after_sale_order_id (each listed on
           the order's aftersale_detail)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from reservation.clients.channels import base as b
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.stock import ItemPush, Outcome, accepted, refused

NAME = "wechat"

STATUS: dict[int, str] = {
    10: b.PENDING_PAYMENT,
    20: b.PAID,             # to ship
    21: b.PAID,             # partly shipped: the rest is still to ship
    30: b.SHIPPED,          # awaiting receipt
    100: b.DELIVERED,       # completed
    200: b.REFUNDED,        # cancelled after full after-sales (one list omits it)
    250: b.CANCELLED,       # cancelled unpaid or timed out (see PAID_BUT_250)
    181: b.CANCELLED,       # the older mini-program shop's timeout cancel
}
# Community threads report 250 on orders the seller UI shows as "to ship". A 250 that
# carries a payment time is not released blindly: it goes to review, raw value kept.
PAID_BUT_250 = b.ON_HOLD

# After-sales `reason` (the channel's enum; reason_text is its words) -> (level1,
# level2). Not listed, left for service staff: REJECT_RECEIVE_PACKAGE (refused at the
# door, cause not said), NOT_MATCH_PRODUCT_DESC (not as described, but not how: colour,
# size, material or function), THREE_NO_PRODUCT and FAKE_PRODUCT (unlabelled or
# counterfeit goods: a compliance case, not a taxonomy reason), OTHERS.
REASONS: dict[str, tuple[str, str]] = {
    "INCORRECT_SELECTION": ("other", "ordered_by_mistake"),   # 拍错/多拍
    "NO_LONGER_WANT": ("other", "changed_mind"),              # 不想要了
    "NO_EXPRESS_INFO": ("logistics", "lost_parcel"),          # 无快递信息
    "EMPTY_PACKAGE": ("logistics", "missing_parts"),          # 包裹为空
    "NOT_DELIVERED_TOO_LONG": ("logistics", "late_delivery"),  # 快递长时间未送达
    "QUALITY_ISSUE": ("quality", "defect"),                   # 质量问题
    "SEND_WRONG_GOODS": ("logistics", "wrong_item_sent"),     # 卖家发错货
}

FIELDS = {
    "order_id": "order_id", "state": "status", "modified_at": "update_time (unix s)",
    "created_at": "create_time", "paid_at": "order_detail.pay_info.pay_time",
    "receiver_phone": "order_detail.delivery_info.address_info.tel_number",
    "address.province": "...address_info.province_name",
    "address.city": "...address_info.city_name",
    "address.district": "...address_info.county_name",
    "address.detail": "...address_info.detail_info",
    "lines[].sku": "order_detail.product_infos[].sku_code or sku_id",
    "lines[].quantity": "sku_cnt", "lines[].price": "sale_price (fen)",
    "total": "price_info.order_price (fen)", "paid": "price_info.order_price when paid",
}

ALREADY_SHIPPED = "10020074"
CREDENTIALS_REFUSED = frozenset({"40125", "40013", "40164"})
"""Getting a token: invalid secret, invalid appid, caller IP not allowed."""
STOCK_REFUSED = frozenset({"10020052", "10020051"})
"""10020052: no such product (the channel's documented code); 10020051: a malformed
stock call (as the fake channel models it). Not retried."""
_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def to_order(raw: dict[str, Any], shop: str) -> b.CanonicalOrder:
    oid = str(b.require(raw, "order_id", NAME))
    value = raw.get("status")
    try:
        state = STATUS[int(value)]  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        raise b.UnknownStatus(NAME, oid, "status", value) from None
    detail = raw.get("order_detail") or {}
    pay_time = (detail.get("pay_info") or {}).get("pay_time")
    if int(value) == 250 and pay_time:  # type: ignore[arg-type]
        state = PAID_BUT_250
    addr = (detail.get("delivery_info") or {}).get("address_info") or {}
    price = detail.get("price_info") or {}
    total = b.int_field(price.get("order_price") or 0, NAME, oid, "order_price")
    return b.CanonicalOrder(
        channel=NAME, shop=shop, order_id=oid, state=state, raw_status=str(value),
        modified_at_ms=b.epoch_s_ms(b.require(raw, "update_time", NAME, oid), NAME, oid,
                                    "update_time"),
        created_at_ms=b.epoch_s_ms(raw.get("create_time"), NAME, oid, "create_time"),
        paid_at_ms=b.epoch_s_ms(pay_time, NAME, oid, "pay_time"),
        receiver_phone=str(addr.get("tel_number") or ""),
        address=b.Address(str(addr.get("province_name") or ""),
                          str(addr.get("city_name") or ""),
                          str(addr.get("county_name") or ""),
                          str(addr.get("detail_info") or "")),
        lines=tuple(b.Line(sku=str(p.get("sku_code") or p.get("sku_id") or ""),
                           quantity=b.int_field(p.get("sku_cnt"), NAME, oid, "sku_cnt"),
                           price_cents=b.int_field(p.get("sale_price") or 0, NAME, oid,
                                                   "sale_price"))
                    for p in detail.get("product_infos") or []),
        total_cents=total, paid_cents=total if pay_time else 0)


def _token(api: ChannelApi) -> str:
    key = (api.base_url, api.app_key)
    with _tokens_lock:
        token, until = _tokens.get(key, ("", 0.0))
    if token and time.monotonic() < until:
        return token
    answer = api.post("/cgi-bin/token", {"grant_type": "client_credential",
                                         "appid": api.app_key, "secret": api.app_secret})
    if "access_token" not in answer:
        code = str(answer.get("errcode"))
        refused = code in CREDENTIALS_REFUSED  # else a limit or a fault: try again later
        raise b.ChannelError(NAME, code, str(answer.get("errmsg")), retryable=not refused,
                             auth=refused)
    token = answer["access_token"]
    with _tokens_lock:  # renewed a little before the channel's expiry
        _tokens[key] = (token, time.monotonic() + int(answer.get("expires_in", 7200)) - 300)
    return token


def _call(api: ChannelApi, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post(path, {"access_token": _token(api)}, body)
    code = str(answer.get("errcode", 0))
    if code != "0":
        if code in ("40001", "42001"):  # token expired or revoked: fetch a new one
            with _tokens_lock:
                _tokens.pop((api.base_url, api.app_key), None)
        raise b.ChannelError(NAME, code, str(answer.get("errmsg")),
                             retryable=code != ALREADY_SHIPPED and code not in STOCK_REFUSED)
    return answer


def fetch(api: ChannelApi, window: b.Window, token: str | None) -> b.Page:
    listed = _call(api, "/channels/ec/order/list/get", {
        "update_time_range": {"start_time": window.start_ms // 1000,
                              "end_time": (window.end_ms + 999) // 1000},
        "page_size": api.page_size, "next_key": token or ""})
    orders = [_call(api, "/channels/ec/order/get", {"order_id": oid})["order"]
              for oid in listed.get("order_id_list") or []]
    return b.Page(orders, listed.get("next_key") if listed.get("has_more") else None)


def push(api: ChannelApi, p: b.Push) -> None:
    try:
        _call(api, "/channels/ec/order/delivery/send", {
            "order_id": p.order_id,
            "delivery_list": [{"delivery_id": p.carrier, "waybill_id": p.tracking_number,
                               "deliver_type": 1}]})
    except b.ChannelError as exc:
        if exc.code != ALREADY_SHIPPED:
            raise


def refunds(api: ChannelApi, raw: dict[str, Any]) -> list[b.RefundReason]:
    """Each after-sales order listed on the order: its SKU (the order's sku_code of its
    sku_id), reason and reason_text."""
    detail = raw.get("order_detail") or {}
    codes = {str(p.get("sku_id")): str(p.get("sku_code") or p.get("sku_id") or "")
             for p in detail.get("product_infos") or []}
    listed = (raw.get("aftersale_detail") or {}).get("aftersale_order_list") or []
    out = []
    for a in listed:
        got = _call(api, "/channels/ec/aftersale/getaftersaleorder",
                    {"after_sale_order_id": a["aftersale_order_id"]})["after_sale_order"]
        sku_id = str((got.get("product_info") or {}).get("sku_id") or "")
        out.append(b.RefundReason(codes.get(sku_id, sku_id), str(got.get("reason") or ""),
                                  str(got.get("reason_text") or "")))
    return out


def push_stock(api: ChannelApi, items: Sequence[ItemPush]) -> Outcome:
    """One SKU per call (/channels/ec/product/stock/update, diff_type 3: the full number);
    a product none of whose SKUs may sell is delisted (/channels/ec/product/delisting)
    and listed again (/channels/ec/product/listing) once one may."""
    out: Outcome = {}
    for item in items:
        try:
            if item.goes_offline:
                _call(api, "/channels/ec/product/delisting", {"product_id": item.item_id})
            for t in item.changed:
                _call(api, "/channels/ec/product/stock/update", {
                    "product_id": item.item_id, "sku_id": t.row.sku_id, "diff_type": 3,
                    "num": t.quantity if t.listed else 0})
            if item.goes_online:
                _call(api, "/channels/ec/product/listing", {"product_id": item.item_id})
        except b.ChannelError as exc:
            if exc.retryable or exc.auth:
                raise
            out.update(refused(item, exc))
            continue
        out.update(accepted(item))
    return out


ADAPTER = b.Adapter(NAME, STATUS, FIELDS, to_order, fetch, push, push_stock=push_stock,
                    refunds=refunds, reasons=REASONS)

"""JD (JOS, POP orders): orders by modified time, tracking numbers by order shipment.

    fetch  jingdong.pop.order.search    start_date/end_date (dateType 1: modified), page
    push   jingdong.pop.order.shipment  orderId, logiCoprId, logiNo
    refund jingdong.pop.afs.soa.refundapply.queryPageList  orderId (a LOCKED order)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reservation.clients.channels import base as b
from reservation.clients.channels.credentials import ShopToken
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.stock import ItemPush, Outcome, accepted, refused

NAME = "jd"

# `orderState` -> canonical state. LOCKED is a lock (a refund request in progress, a
# risk check): the order must not ship and its stock stays held; it is NOT a
# cancellation (JD unlocks it back to WAIT_SELLER_STOCK_OUT, or cancels it).
STATUS: dict[str, str] = {
    "WAIT_SELLER_STOCK_OUT": b.PAID,
    "WAIT_SELLER_DELIVERY": b.PAID,           # cross-border: paid, to deliver
    "WAIT_SEND_CODE": b.PAID,                 # virtual goods: paid, code to send
    "WAIT_GOODS_RECEIVE_CONFIRM": b.SHIPPED,
    "FINISHED_L": b.DELIVERED,
    "POP_ORDER_PAUSE": b.ON_HOLD,
    "PAUSE": b.ON_HOLD,                       # one wrapper's name for the pause
    "LOCKED": b.REFUND_REQUESTED,
    "TRADE_CANCELED": b.CANCELLED,
}

# Refund application `reason` -> (level1, level2). JD's POP refund application carries
# the reason as text, for the whole order (not per SKU); JD's list of those texts could
# not be found published, so these are the texts the fake channel carries, written
# after JD's buyer screen. Not listed: left for service staff.
REASONS: dict[str, tuple[str, str]] = {
    "商品质量问题": ("quality", "defect"),                   # quality problem
    "商品与描述不符": ("not_as_described", "function_differs"),
    "发错货": ("logistics", "wrong_item_sent"),
    "少件/漏发": ("logistics", "missing_parts"),
    "商品破损": ("logistics", "damaged_in_transit"),
    "物流太慢": ("logistics", "late_delivery"),
    "不想要了": ("other", "changed_mind"),
    "拍错了": ("other", "ordered_by_mistake"),
}

FIELDS = {
    "order_id": "orderId", "state": "orderState", "modified_at": "modified",
    "created_at": "orderStartTime", "paid_at": "paymentConfirmTime",
    "receiver_phone": "consigneeInfo.mobile", "address.province": "consigneeInfo.province",
    "address.city": "consigneeInfo.city", "address.district": "consigneeInfo.county",
    "address.detail": "consigneeInfo.fullAddress",
    "lines[].sku": "itemInfoList[].outerSkuId or skuId", "lines[].quantity": "itemTotal",
    "lines[].price": "itemInfoList[].jdPrice (yuan)", "total": "orderTotalPrice (yuan)",
    "paid": "orderPayment (yuan)",
}

ALREADY_SHIPPED = "10400001"
"""Error code of a shipment for an order that already left (our own earlier push)."""
STOCK_REFUSED = frozenset({"60001", "60002"})
"""A stock update for a SKU the shop does not have, or a malformed one (as the fake
channel models them; not retried)."""


def to_order(raw: dict[str, Any], shop: str) -> b.CanonicalOrder:
    oid = str(b.require(raw, "orderId", NAME))
    status = b.require(raw, "orderState", NAME, oid)
    c = raw.get("consigneeInfo") or {}
    return b.CanonicalOrder(
        channel=NAME, shop=shop, order_id=oid,
        state=b.lookup(STATUS, NAME, oid, "orderState", status), raw_status=status,
        modified_at_ms=b.cst_ms(b.require(raw, "modified", NAME, oid), NAME, oid, "modified"),
        created_at_ms=b.cst_ms(raw.get("orderStartTime"), NAME, oid, "orderStartTime"),
        paid_at_ms=b.cst_ms(raw.get("paymentConfirmTime"), NAME, oid, "paymentConfirmTime"),
        receiver_phone=str(c.get("mobile") or ""),
        address=b.Address(str(c.get("province") or ""), str(c.get("city") or ""),
                          str(c.get("county") or ""), str(c.get("fullAddress") or "")),
        lines=tuple(b.Line(sku=str(i.get("outerSkuId") or i.get("skuId") or ""),
                           quantity=b.int_field(i.get("itemTotal"), NAME, oid, "itemTotal"),
                           price_cents=b.yuan_to_cents(i.get("jdPrice"), NAME, oid, "jdPrice"))
                    for i in raw.get("itemInfoList") or []),
        total_cents=b.yuan_to_cents(raw.get("orderTotalPrice"), NAME, oid, "orderTotalPrice"),
        paid_cents=b.yuan_to_cents(raw.get("orderPayment"), NAME, oid, "orderPayment"))


TOKEN_INVALID = "19"
"""The shop's access_token expired or is invalid: refreshed, then the call is tried again."""


def refresh(api: ChannelApi, refresh_token: str) -> ShopToken:
    """JD's OAuth refresh: GET /oauth2/refresh_token with the app key and secret; the
    answer's expires_in is seconds from `time` (epoch ms)."""
    answer = api.post("/oauth2/refresh_token", {
        "app_key": api.app_key, "app_secret": api.app_secret,
        "grant_type": "refresh_token", "refresh_token": refresh_token}, method="GET")
    if not answer.get("access_token"):
        raise b.ChannelError(NAME, str(answer.get("code", "refresh")),
                             f"the refresh of shop {api.shop}'s token was refused: "
                             f"{answer.get('msg', '')}", retryable=False, auth=True)
    issued = int(answer.get("time") or 0)
    return ShopToken(str(answer["access_token"]),
                     issued + int(answer.get("expires_in") or 0) * 1000 if issued else 0,
                     str(answer.get("refresh_token") or ""))


def _call(api: ChannelApi, method: str, **params: Any) -> dict[str, Any]:
    answer = api.post("/routerjson", api.signed({
        "method": method, "v": "2.0", "access_token": api.token(refresh),
        "360buy_param_json": json.dumps(params, ensure_ascii=False, sort_keys=True)}))
    if "error_response" in answer:
        err = answer["error_response"]
        code = str(err.get("code"))
        if code == TOKEN_INVALID:
            api.token_expired()
            raise b.ChannelError(NAME, code, "the shop's access_token expired: refreshing")
        raise b.ChannelError(NAME, code, str(err.get("en_desc") or err.get("zh_desc")),
                             retryable=code != ALREADY_SHIPPED and not code.startswith("19")
                             and code not in STOCK_REFUSED, auth=code.startswith("19"))
    return answer[method.replace(".", "_") + "_responce"]  # sic: JD spells it so


def fetch(api: ChannelApi, window: b.Window, token: str | None) -> b.Page:
    page = int(token or 1)
    body = _call(api, "jingdong.pop.order.search", start_date=b.cst_text(window.start_ms),
                 end_date=b.cst_text(window.end_ms), dateType=1, page=page,
                 page_size=api.page_size)["searchorderinfo_result"]
    orders = body.get("orderInfoList") or []
    more = page * api.page_size < int(body.get("orderTotal") or 0)
    return b.Page(orders, str(page + 1) if more else None)


def push(api: ChannelApi, p: b.Push) -> None:
    try:
        body = _call(api, "jingdong.pop.order.shipment", orderId=p.order_id,
                     logiCoprId=p.carrier, logiNo=p.tracking_number)
    except b.ChannelError as exc:
        if exc.code == ALREADY_SHIPPED:
            return
        raise
    if not (body.get("sopjosshipment_result") or {}).get("success"):
        raise b.ChannelError(NAME, "not accepted", str(body))


def refunds(api: ChannelApi, raw: dict[str, Any]) -> list[b.RefundReason]:
    """The order's refund applications (order-wide: each reason applies to every line)."""
    oid = str(raw.get("orderId"))
    body = _call(api, "jingdong.pop.afs.soa.refundapply.queryPageList", orderId=oid,
                 pageIndex=1, pageSize=50)["queryResult"]
    skus = [str(i.get("outerSkuId") or i.get("skuId") or "")
            for i in raw.get("itemInfoList") or []]
    return [b.RefundReason(sku, str(a.get("reason") or ""))
            for a in body.get("result") or [] for sku in skus]


def push_stock(api: ChannelApi, items: Sequence[ItemPush]) -> Outcome:
    """One SKU per call (jingdong.stock.write.updateSkuStock, the full stock number); a
    closed listing is stock 0, which JD shows as out of stock (no item-level call)."""
    out: Outcome = {}
    for item in items:
        try:
            for t in item.changed:
                _call(api, "jingdong.stock.write.updateSkuStock", skuId=t.row.sku_id,
                      stockNum=t.quantity if t.listed else 0)
        except b.ChannelError as exc:
            if exc.retryable or exc.auth:
                raise
            out.update(refused(item, exc))
            continue
        out.update(accepted(item))
    return out


ADAPTER = b.Adapter(NAME, STATUS, FIELDS, to_order, fetch, push, push_stock=push_stock,
                    refunds=refunds, reasons=REASONS)

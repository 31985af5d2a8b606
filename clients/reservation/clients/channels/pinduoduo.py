"""Pinduoduo: orders by update time, tracking numbers by online send.

    fetch  pdd.order.number.list.increment.get  start_updated_at/end_updated_at, page
    push   pdd.logistics.online.send            order_sn, logistics_id, tracking_number
    refund pdd.refund.list.increment.get        order_sn (an order with a refund)

Pinduoduo's state is four fields; each is checked against its own table (an unknown
value in any of them is refused), then one precedence picks the canonical state.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from reservation.clients.channels import base as b
from reservation.clients.channels.credentials import ShopToken
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.stock import ItemPush, Outcome, accepted, refused

NAME = "pdd"

# `order_status` (5 means "all" in a query, never on an order: refused).
STATUS: dict[int, str] = {1: b.PAID, 2: b.SHIPPED, 3: b.DELIVERED}
# `refund_status`: None means "no refund, or the refund was closed".
REFUND_STATUS: dict[int, str | None] = {1: None, 2: b.REFUND_REQUESTED,
                                        3: b.REFUND_REQUESTED, 4: b.REFUNDED}
# `group_status`: a group still forming is not a firm order yet (stock held, not sold);
# a failed group is refunded by the platform.
GROUP_STATUS: dict[int, str | None] = {0: b.PENDING_PAYMENT, 1: None, 2: b.CANCELLED}
# `confirm_status`: 0 not yet a deal, 1 deal, 2 cancelled.
CONFIRM_STATUS: dict[int, str | None] = {0: b.PENDING_PAYMENT, 1: None, 2: b.CANCELLED}

# After-sales `after_sale_reason` -> (level1, level2). Pinduoduo gives the reason as
# the text the buyer picked (no code list is published for sellers); these are texts of
# its after-sales screen. Not listed ("其他", a refused parcel whose cause is not said):
# left for service staff.
REASONS: dict[str, tuple[str, str]] = {
    "质量问题": ("quality", "defect"),
    "商品破损/包装破损": ("logistics", "damaged_in_transit"),
    "发错货": ("logistics", "wrong_item_sent"),
    "少件/漏发": ("logistics", "missing_parts"),
    "快递/物流一直未送到": ("logistics", "lost_parcel"),
    "颜色/款式与商品描述不符": ("not_as_described", "colour_differs_from_photo"),
    "尺寸与商品描述不符": ("not_as_described", "size_differs_from_listing"),
    "材质与商品描述不符": ("not_as_described", "material_differs"),
    "多拍/拍错/不想要": ("other", "ordered_by_mistake"),
    "不喜欢、效果不好": ("other", "changed_mind"),
}

FIELDS = {
    "order_id": "order_sn",
    "state": "confirm_status, group_status, refund_status, order_status (that precedence)",
    "modified_at": "updated_at", "created_at": "created_time", "paid_at": "confirm_time",
    "receiver_phone": "receiver_phone (masked)", "address.province": "province",
    "address.city": "city", "address.district": "town", "address.detail": "address",
    "lines[].sku": "item_list[].outer_id or sku_id", "lines[].quantity": "goods_count",
    "lines[].price": "item_list[].goods_price (yuan)", "total": "goods_amount (yuan)",
    "paid": "pay_amount (yuan)",
}

ALREADY_SHIPPED = "52101"
"""error_code of an online send for an order that already shipped."""
AUTH_REFUSED = frozenset({"10019"})
"""The app's signature or the shop's access token refused."""
STOCK_REFUSED = frozenset({"70050", "70051"})
"""A stock or sale-status call for goods the shop does not have, or a malformed one (as
the fake channel models them; not retried)."""


def _status(raw: dict[str, Any], oid: str, name: str, table: dict[int, Any]) -> Any:
    value = raw.get(name)
    try:
        key = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise b.UnknownStatus(NAME, oid, name, value) from None
    if key not in table:
        raise b.UnknownStatus(NAME, oid, name, value)
    return table[key]


def to_order(raw: dict[str, Any], shop: str) -> b.CanonicalOrder:
    oid = str(b.require(raw, "order_sn", NAME))
    by_order = _status(raw, oid, "order_status", STATUS)
    by_refund = _status(raw, oid, "refund_status", REFUND_STATUS)
    by_group = _status(raw, oid, "group_status", GROUP_STATUS)
    by_confirm = _status(raw, oid, "confirm_status", CONFIRM_STATUS)
    # A cancellation ends it; then money back; then "not a firm order yet"; else the
    # shipping progress.
    if b.CANCELLED in (by_confirm, by_group):
        state = b.CANCELLED
    elif by_refund:
        state = by_refund
    elif by_confirm or by_group:
        state = b.PENDING_PAYMENT
    else:
        state = by_order
    raw_status = " ".join(f"{k}={raw.get(k)}" for k in
                          ("order_status", "refund_status", "group_status", "confirm_status"))
    return b.CanonicalOrder(
        channel=NAME, shop=shop, order_id=oid, state=state, raw_status=raw_status,
        modified_at_ms=b.cst_ms(b.require(raw, "updated_at", NAME, oid), NAME, oid,
                                "updated_at"),
        created_at_ms=b.cst_ms(raw.get("created_time"), NAME, oid, "created_time"),
        paid_at_ms=b.cst_ms(raw.get("confirm_time"), NAME, oid, "confirm_time"),
        receiver_phone=str(raw.get("receiver_phone") or ""),
        address=b.Address(str(raw.get("province") or ""), str(raw.get("city") or ""),
                          str(raw.get("town") or ""), str(raw.get("address") or "")),
        lines=tuple(b.Line(sku=str(i.get("outer_id") or i.get("sku_id") or ""),
                           quantity=b.int_field(i.get("goods_count"), NAME, oid, "goods_count"),
                           price_cents=b.yuan_to_cents(i.get("goods_price"), NAME, oid,
                                                       "goods_price"))
                    for i in raw.get("item_list") or []),
        total_cents=b.yuan_to_cents(raw.get("goods_amount"), NAME, oid, "goods_amount"),
        paid_cents=b.yuan_to_cents(raw.get("pay_amount"), NAME, oid, "pay_amount"))


TOKEN_EXPIRED = "10019"
"""access_token expired: refreshed, then the call is tried again."""


def refresh(api: ChannelApi, refresh_token: str) -> ShopToken:
    """pdd.pop.auth.token.refresh: expires_at and refresh_token_expires_at are epoch
    seconds."""
    body = _call(api, "pdd.pop.auth.token.refresh", token=False,
                 refresh_token=refresh_token)["pop_auth_token_refresh_response"]
    return ShopToken(str(body["access_token"]), int(body.get("expires_at") or 0) * 1000,
                     str(body.get("refresh_token") or ""),
                     int(body.get("refresh_token_expires_at") or 0) * 1000)


def _call(api: ChannelApi, method: str, token: bool = True, **params: Any) -> dict[str, Any]:
    extra = {"access_token": api.token(refresh)} if token else {}
    query = api.signed({"type": method, "data_type": "JSON",
                        "timestamp": int(time.time()), **extra, **params})
    query["client_id"] = query.pop("app_key")
    answer = api.post("/api/router", body=query)
    if "error_response" in answer:
        err = answer["error_response"]
        code = str(err.get("error_code"))
        if code == TOKEN_EXPIRED and token:
            api.token_expired()
            raise b.ChannelError(NAME, code, "the shop's access_token expired: refreshing")
        raise b.ChannelError(NAME, code, str(err.get("error_msg")),
                             retryable=code != ALREADY_SHIPPED and code not in STOCK_REFUSED
                             and code not in AUTH_REFUSED, auth=code in AUTH_REFUSED)
    return answer


def fetch(api: ChannelApi, window: b.Window, token: str | None) -> b.Page:
    page = int(token or 1)
    body = _call(api, "pdd.order.number.list.increment.get",
                 start_updated_at=window.start_ms // 1000,
                 end_updated_at=(window.end_ms + 999) // 1000, order_status=5,
                 refund_status=5, is_lucky_flag=0, page=page, page_size=api.page_size,
                 use_has_next="true")["order_sn_increment_get_response"]
    return b.Page(body.get("order_sn_list") or [],
                  str(page + 1) if body.get("has_next") else None)


def push(api: ChannelApi, p: b.Push) -> None:
    try:
        body = _call(api, "pdd.logistics.online.send", order_sn=p.order_id,
                     logistics_id=p.carrier, tracking_number=p.tracking_number)
    except b.ChannelError as exc:
        if exc.code == ALREADY_SHIPPED:
            return
        raise
    if not (body.get("logistics_online_send_response") or {}).get("is_success"):
        raise b.ChannelError(NAME, "not accepted", str(body))


def refunds(api: ChannelApi, raw: dict[str, Any]) -> list[b.RefundReason]:
    """The order's after-sales (the increment query given order_sn lists every one of
    the order, whatever the other conditions): each names its SKU and reason."""
    now = int(time.time())
    body = _call(api, "pdd.refund.list.increment.get", order_sn=raw.get("order_sn"),
                 after_sales_status=1, after_sales_type=1, start_updated_at=now - 1800,
                 end_updated_at=now, page=1, page_size=100)["refund_increment_get_response"]
    return [b.RefundReason(str(r.get("outer_id") or r.get("sku_id") or ""),
                           str(r.get("after_sale_reason") or ""))
            for r in body.get("refund_list") or []]


def push_stock(api: ChannelApi, items: Sequence[ItemPush]) -> Outcome:
    """One SKU per call (pdd.goods.quantity.update, update_type 1: the full quantity); a
    goods whose SKUs may sell nothing is taken off sale (pdd.goods.sale.status.set) and
    put on sale again once one may."""
    out: Outcome = {}
    for item in items:
        try:
            if item.goes_offline:
                _call(api, "pdd.goods.sale.status.set", goods_id=item.item_id, is_onsale=0)
            for t in item.changed:
                _call(api, "pdd.goods.quantity.update", goods_id=item.item_id,
                      sku_id=t.row.sku_id, quantity=t.quantity if t.listed else 0,
                      update_type=1)
            if item.goes_online:
                _call(api, "pdd.goods.sale.status.set", goods_id=item.item_id, is_onsale=1)
        except b.ChannelError as exc:
            if exc.retryable or exc.auth:
                raise
            out.update(refused(item, exc))
            continue
        out.update(accepted(item))
    return out


# The increment query spans at most 30 minutes (list queries by confirm time: 24 h).
ADAPTER = b.Adapter(NAME, STATUS, FIELDS, to_order, fetch, push, max_window_ms=30 * 60_000,
                    push_stock=push_stock, refunds=refunds, reasons=REASONS,
                    extra_tables={"refund_status": REFUND_STATUS,
                                  "group_status": GROUP_STATUS,
                                  "confirm_status": CONFIRM_STATUS})

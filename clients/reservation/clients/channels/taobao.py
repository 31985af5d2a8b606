"""Taobao / Tmall (TOP API): trades by modified time, tracking numbers by offline send.

    fetch  taobao.trades.sold.increment.get  start_modified/end_modified, page_no, has_next
    push   taobao.logistics.offline.send     tid, out_sid, company_code
    refund taobao.refund.get                 refund_id (of a sub-order in refund)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reservation.clients.channels import base as b
from reservation.clients.channels.credentials import ShopToken
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.stock import ItemPush, Outcome, accepted, chunks, refused

NAME = "taobao"

# Trade `status` -> canonical state.
STATUS: dict[str, str] = {
    "TRADE_NO_CREATE_PAY": b.PENDING_PAYMENT,     # no payment created yet
    "WAIT_BUYER_PAY": b.PENDING_PAYMENT,
    "PAY_PENDING": b.PENDING_PAYMENT,             # payment in progress, not confirmed
    "WAIT_PRE_AUTH_CONFIRM": b.PENDING_PAYMENT,   # pre-authorised, not charged
    "WAIT_SELLER_SEND_GOODS": b.PAID,
    # Partly shipped by the seller outside the hub: the rest still has to ship, so the
    # hub must keep it "to ship" (a PAID report behind the hub's own state is lag).
    "SELLER_CONSIGNED_PART": b.PAID,
    "WAIT_BUYER_CONFIRM_GOODS": b.SHIPPED,
    "TRADE_BUYER_SIGNED": b.DELIVERED,            # cash on delivery, signed
    # Finished is delivered and settled; DELIVERED, not CLOSED: the hub closes it.
    "TRADE_FINISHED": b.DELIVERED,
    "TRADE_CLOSED": b.REFUNDED,                   # closed after payment, by refund
    "TRADE_CLOSED_BY_TAOBAO": b.CANCELLED,        # closed before payment
    "PAID_FORBID_CONSIGN": b.ON_HOLD,             # paid, shipping forbidden
}

# Sub-order `refund_status` -> the state it implies; None: no refund going on (none,
# refused, withdrawn). NO_REFUND is what sub-orders without a refund carry in real
# payloads; an empty value is the same.
REFUND_STATUS: dict[str, str | None] = {
    "NO_REFUND": None,
    "WAIT_SELLER_AGREE": b.REFUND_REQUESTED,
    "WAIT_BUYER_RETURN_GOODS": b.REFUND_REQUESTED,
    "WAIT_SELLER_CONFIRM_GOODS": b.REFUND_REQUESTED,
    "SELLER_REFUSE_BUYER": None,                  # refused: the trade goes on
    "CLOSED": None,                               # withdrawn
    "SUCCESS": b.REFUNDED,
}
# Refund `reason` -> (level1, level2) of the hub's taxonomy. Taobao gives the reason as
# the text the buyer picked from the refund screen (no code list is published for
# sellers); these are the texts of that screen. Not listed (left for service staff, not
# guessed): "其他" (other) and texts whose cause is not the goods' or the delivery's.
REASONS: dict[str, tuple[str, str]] = {
    "质量问题": ("quality", "defect"),                                  # quality problem
    "做工问题": ("quality", "defect"),                                  # poor workmanship
    "颜色/图案/款式与商品描述不符": ("not_as_described", "colour_differs_from_photo"),
    "尺寸与商品描述不符": ("not_as_described", "size_differs_from_listing"),
    "材质与商品描述不符": ("not_as_described", "material_differs"),
    "卖家发错货": ("logistics", "wrong_item_sent"),                      # seller sent wrong goods
    "少件/漏发": ("logistics", "missing_parts"),                        # parts missing
    "收到商品破损": ("logistics", "damaged_in_transit"),                 # arrived broken
    "快递一直未送达": ("logistics", "lost_parcel"),                      # never delivered
    "未按约定时间发货": ("logistics", "late_delivery"),                  # shipped late
    "七天无理由退换货": ("other", "no_reason"),                          # 7 days, no reason
    "拍错/多拍/不想要": ("other", "ordered_by_mistake"),                 # ordered by mistake
    "不喜欢/效果不好": ("other", "changed_mind"),                        # don't like it
}
_NO_REFUND = {None, "NO_REFUND", "SELLER_REFUSE_BUYER", "CLOSED"}

# A trade status that ends the trade wins over a sub-order's refund.
_FINAL = {"TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO", "TRADE_FINISHED"}

FIELDS = {
    "order_id": "tid", "state": "status (+ orders[].refund_status)",
    "modified_at": "modified", "created_at": "created", "paid_at": "pay_time",
    "receiver_phone": "receiver_mobile", "address.province": "receiver_state",
    "address.city": "receiver_city", "address.district": "receiver_district",
    "address.detail": "receiver_address", "lines[].sku": "orders[].outer_sku_id or sku_id",
    "lines[].quantity": "orders[].num", "lines[].price": "orders[].price (yuan)",
    "total": "total_fee (yuan)", "paid": "payment (yuan)",
}

ALREADY_SHIPPED = "isv.logistics-offline-service-error:B04"
"""sub_code of an offline send for a trade that is already consigned."""

_NOT_RETRYABLE = {"11", "25", "26"}   # no permission, bad signature, missing session
SESSION_INVALID = "27"
"""The shop's session expired or was revoked: refreshed, then the call is tried again."""


def _sub_orders(raw: dict[str, Any]) -> list[dict[str, Any]]:
    orders = raw.get("orders") or []
    return orders.get("order", []) if isinstance(orders, dict) else orders


def to_order(raw: dict[str, Any], shop: str) -> b.CanonicalOrder:
    oid = str(b.require(raw, "tid", NAME))
    status = b.require(raw, "status", NAME, oid)
    state = b.lookup(STATUS, NAME, oid, "status", status)
    subs = _sub_orders(raw)
    values = [s.get("refund_status") or "NO_REFUND" for s in subs]
    refunds = [b.lookup(REFUND_STATUS, NAME, oid, "refund_status", v) for v in values]
    raw_status = status
    if any(s.get("refund_status") for s in subs):
        raw_status += " refund_status=" + ",".join(values)
    if status not in _FINAL:
        if b.REFUND_REQUESTED in refunds:
            state = b.REFUND_REQUESTED
        elif refunds and all(r == b.REFUNDED for r in refunds):
            state = b.REFUNDED
    lines = tuple(
        b.Line(sku=str(s.get("outer_sku_id") or s.get("sku_id") or ""),
               quantity=b.int_field(s.get("num"), NAME, oid, "num"),
               price_cents=b.yuan_to_cents(s.get("price"), NAME, oid, "price"))
        for s in subs)
    return b.CanonicalOrder(
        channel=NAME, shop=shop, order_id=oid, state=state, raw_status=raw_status,
        modified_at_ms=b.cst_ms(b.require(raw, "modified", NAME, oid), NAME, oid, "modified"),
        created_at_ms=b.cst_ms(raw.get("created"), NAME, oid, "created"),
        paid_at_ms=b.cst_ms(raw.get("pay_time"), NAME, oid, "pay_time"),
        receiver_phone=str(raw.get("receiver_mobile") or ""),
        address=b.Address(str(raw.get("receiver_state") or ""),
                          str(raw.get("receiver_city") or ""),
                          str(raw.get("receiver_district") or ""),
                          str(raw.get("receiver_address") or "")),
        lines=lines,
        total_cents=b.yuan_to_cents(raw.get("total_fee"), NAME, oid, "total_fee"),
        paid_cents=b.yuan_to_cents(raw.get("payment"), NAME, oid, "payment"))


def refresh(api: ChannelApi, refresh_token: str) -> ShopToken:
    """taobao.top.auth.token.refresh: the new session in token_result, a JSON text whose
    expire_time and refresh_token_valid_time are epoch milliseconds."""
    body = _call(api, "taobao.top.auth.token.refresh", session=False,
                 refresh_token=refresh_token)
    result = json.loads(body["token_result"])
    return ShopToken(str(result["access_token"]), int(result.get("expire_time") or 0),
                     str(result.get("refresh_token") or ""),
                     int(result.get("refresh_token_valid_time") or 0))


def _call(api: ChannelApi, method: str, session: bool = True, **params: Any
          ) -> dict[str, Any]:
    """One TOP call, signed, with the shop's session (every call but the refresh)."""
    query = {"method": method, "v": "2.0", "format": "json", **params}
    if session:
        query["session"] = api.token(refresh)
    answer = api.post("/router/rest", api.signed(query))
    if "error_response" in answer:
        err = answer["error_response"]
        code = str(err.get("sub_code") or err.get("code"))
        if str(err.get("code")) == SESSION_INVALID and session:
            api.token_expired()
            raise b.ChannelError(NAME, code, "the shop's session expired: refreshing")
        raise b.ChannelError(NAME, code, str(err.get("sub_msg") or err.get("msg")),
                             retryable=str(err.get("code")) not in _NOT_RETRYABLE
                             and code != ALREADY_SHIPPED,
                             auth=str(err.get("code")) in _NOT_RETRYABLE)
    return answer[method.removeprefix("taobao.").replace(".", "_") + "_response"]


def fetch(api: ChannelApi, window: b.Window, token: str | None) -> b.Page:
    page_no = int(token or 1)
    body = _call(api, "taobao.trades.sold.increment.get",
                 start_modified=b.cst_text(window.start_ms),
                 end_modified=b.cst_text(window.end_ms),
                 page_no=page_no, page_size=api.page_size, use_has_next="true")
    trades = (body.get("trades") or {}).get("trade", [])
    return b.Page(trades, str(page_no + 1) if body.get("has_next") else None)


def push(api: ChannelApi, p: b.Push) -> None:
    try:
        body = _call(api, "taobao.logistics.offline.send", tid=p.order_id,
                     out_sid=p.tracking_number, company_code=p.carrier)
    except b.ChannelError as exc:
        if exc.code == ALREADY_SHIPPED:
            return  # consigned before (our own earlier push): accepted
        raise
    if not (body.get("shipping") or {}).get("is_success"):
        raise b.ChannelError(NAME, "not accepted", str(body))


def refunds(api: ChannelApi, raw: dict[str, Any]) -> list[b.RefundReason]:
    """Each sub-order in refund: its refund's `reason` (the key) and `desc` (the buyer's
    words), by taobao.refund.get of the sub-order's refund_id."""
    out = []
    for s in _sub_orders(raw):
        if s.get("refund_status") in _NO_REFUND or not s.get("refund_id"):
            continue
        refund = _call(api, "taobao.refund.get", refund_id=s["refund_id"],
                       fields="refund_id,tid,oid,reason,desc,status")["refund"]
        out.append(b.RefundReason(str(s.get("outer_sku_id") or s.get("sku_id") or ""),
                                  str(refund.get("reason") or ""),
                                  str(refund.get("desc") or "")))
    return out


STOCK_BATCH = 20
"""taobao.skus.quantity.update takes at most 20 skuId:quantity pairs of one item."""


def push_stock(api: ChannelApi, items: Sequence[ItemPush]) -> Outcome:
    """Full quantities (type 1), 20 SKUs of an item per call. An item on sale may not
    show 0 in total: it is delisted first (taobao.item.update.delisting) and listed again
    once one of its SKUs may sell (taobao.item.update.listing)."""
    out: Outcome = {}
    for item in items:
        try:
            if item.goes_offline:
                _call(api, "taobao.item.update.delisting", num_iid=item.item_id)
            for part in chunks(item.changed, STOCK_BATCH):
                _call(api, "taobao.skus.quantity.update", num_iid=item.item_id, type=1,
                      skuid_quantities=";".join(
                          f"{t.row.sku_id}:{t.quantity if t.listed else 0}" for t in part))
            if item.goes_online:
                _call(api, "taobao.item.update.listing", num_iid=item.item_id,
                      num=sum(t.quantity for t in item.targets if t.listed))
        except b.ChannelError as exc:
            if exc.auth or exc.retryable and not exc.code.startswith("isv."):
                raise
            out.update(refused(item, exc))
            continue
        out.update(accepted(item))
    return out


ADAPTER = b.Adapter(NAME, STATUS, FIELDS, to_order, fetch, push, push_stock=push_stock,
                    extra_tables={"refund_status": REFUND_STATUS}, refunds=refunds,
                    reasons=REASONS)

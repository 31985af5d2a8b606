"""Orders in each channel's own payload shape, made up for the demo and load tests (the
inverse of the adapters' mapping: a canonical state -> one raw status that maps to it).

JD lists no unpaid state (its POP order API shows orders once paid), so a JD order that
is never paid is never seen, as on the real channel.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reservation.clients.channels.base import CST

# canonical state -> the raw status each channel shows for it
RAW_STATUS: dict[str, dict[str, Any]] = {
    "taobao": {"PENDING_PAYMENT": "WAIT_BUYER_PAY", "PAID": "WAIT_SELLER_SEND_GOODS",
               "CANCELLED": "TRADE_CLOSED_BY_TAOBAO"},
    "jd": {"PAID": "WAIT_SELLER_STOCK_OUT", "CANCELLED": "TRADE_CANCELED"},
    "pdd": {"PENDING_PAYMENT": 0, "PAID": 1, "CANCELLED": 2},  # confirm_status
    "douyin": {"PENDING_PAYMENT": 1, "PAID": 105, "CANCELLED": 4},
    "wechat": {"PENDING_PAYMENT": 10, "PAID": 20, "CANCELLED": 250},
    "pos": {"PENDING_PAYMENT": "UNPAID", "PAID": "PAID", "CANCELLED": "VOID"},
}


# A made-up day of orders (the demo, `reservation-clients fake-channels`): channels,
# prices in cents, addresses, and how often an order is paid or suspect.
CHANNELS = ("taobao", "jd", "pdd", "douyin", "wechat", "pos")
PRICES = {"HOODIE": 19900, "MUG": 4900, "SOCKS": 1900}
ADDRESSES = [("浙江省", "杭州市", "西湖区", "文三路 90 号"), ("北京市", "北京市", "朝阳区", "建国路 88 号"),
             ("广东省", "深圳市", "南山区", "科技园南区 1 栋"), ("上海市", "上海市", "浦东新区", "世纪大道 1 号"),
             ("四川省", "成都市", "武侯区", "天府大道 100 号")]
PAY_RATE = 0.75
DUPLICATE_RATE = 0.03  # the same buyer and address on two channels: held as a duplicate
VAGUE_RATE = 0.04      # "near the school gate": intercepted for address confirmation


@dataclass(frozen=True)
class Sample:
    order_id: str
    state: str
    lines: tuple[tuple[str, int, int], ...]
    """(sku, quantity, unit price in cents)"""
    phone: str
    address: tuple[str, str, str, str]
    """province, city, district, detail"""
    created_s: float
    modified_s: float


def _text(s: float) -> str:
    return datetime.fromtimestamp(s, CST).strftime("%Y-%m-%d %H:%M:%S")


def _yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def build(channel: str, o: Sample) -> dict[str, Any]:
    """One order as `channel` would send it (POS: its file rows under 'rows')."""
    status = RAW_STATUS[channel][o.state]
    paid = o.state == "PAID"
    total = sum(q * p for _, q, p in o.lines)
    prov, city, district, detail = o.address
    if channel == "taobao":
        return {"tid": o.order_id, "status": status, "payment": _yuan(total if paid else 0),
                "total_fee": _yuan(total), "created": _text(o.created_s),
                "pay_time": _text(o.modified_s) if paid else "",
                "modified": _text(o.modified_s), "receiver_mobile": o.phone,
                "receiver_state": prov, "receiver_city": city, "receiver_district": district,
                "receiver_address": detail,
                "orders": {"order": [{"oid": f"{o.order_id}{i}", "outer_sku_id": s, "num": q,
                                      "price": _yuan(p), "refund_status": "NO_REFUND"}
                                     for i, (s, q, p) in enumerate(o.lines)]}}
    if channel == "jd":
        return {"orderId": o.order_id, "orderState": status, "orderTotalPrice": _yuan(total),
                "orderPayment": _yuan(total if paid else 0), "orderStartTime": _text(o.created_s),
                "paymentConfirmTime": _text(o.modified_s), "modified": _text(o.modified_s),
                "consigneeInfo": {"mobile": o.phone, "province": prov, "city": city,
                                  "county": district, "fullAddress": detail},
                "itemInfoList": [{"outerSkuId": s, "itemTotal": str(q), "jdPrice": _yuan(p)}
                                 for s, q, p in o.lines]}
    if channel == "pdd":
        return {"order_sn": o.order_id, "order_status": 1, "refund_status": 1,
                "group_status": 1, "confirm_status": status,
                "pay_amount": total / 100 if paid else 0, "goods_amount": total / 100,
                "created_time": _text(o.created_s),
                "confirm_time": _text(o.modified_s) if paid else "",
                "updated_at": _text(o.modified_s), "receiver_phone": o.phone,
                "province": prov, "city": city, "town": district, "address": detail,
                "item_list": [{"outer_id": s, "goods_count": q, "goods_price": p / 100}
                              for s, q, p in o.lines]}
    if channel == "douyin":
        return {"order_id": o.order_id, "order_status": status, "order_amount": total,
                "pay_amount": total if paid else 0, "create_time": int(o.created_s),
                "pay_time": int(o.modified_s) if paid else 0, "update_time": int(o.modified_s),
                "post_tel": o.phone,
                "post_addr": {"province": {"name": prov}, "city": {"name": city},
                              "town": {"name": district}, "detail": detail},
                "sku_order_list": [{"out_sku_id": s, "item_num": q, "order_amount": q * p}
                                   for s, q, p in o.lines]}
    if channel == "wechat":
        detail_ = {"product_infos": [{"sku_code": s, "sku_cnt": q, "sale_price": p}
                                     for s, q, p in o.lines],
                   "price_info": {"order_price": total},
                   "delivery_info": {"address_info": {
                       "tel_number": o.phone, "province_name": prov, "city_name": city,
                       "county_name": district, "detail_info": detail}}}
        if paid:
            detail_["pay_info"] = {"pay_time": int(o.modified_s)}
        return {"order_id": o.order_id, "status": status, "create_time": int(o.created_s),
                "update_time": int(o.modified_s), "order_detail": detail_}
    if channel == "pos":
        return {"order_no": o.order_id, "rows": [
            {"order_no": o.order_id, "store_id": "S-01", "time": _text(o.created_s),
             "sku": s, "quantity": str(q), "price": _yuan(p), "payment_state": status,
             "phone": o.phone, "province": prov, "city": city, "district": district,
             "address": detail} for s, q, p in o.lines]}
    raise KeyError(f"no sample shape for channel {channel!r}")


def make_orders(per_channel: int, rng: random.Random, now: float,
                sku_suffix: str = "") -> dict[str, list[Sample]]:
    """Unpaid orders from every channel, a few of them suspect (same buyer twice, vague
    address), created two minutes before `now`; SKU codes end in `sku_suffix`."""
    out: dict[str, list[Sample]] = {c: [] for c in CHANNELS}
    n = 0
    for channel in CHANNELS:
        for i in range(per_channel):
            n += 1
            sku = rng.choice(sorted(PRICES))
            phone, address = f"139{n:08d}", rng.choice(ADDRESSES)
            if rng.random() < VAGUE_RATE:
                address = (*address[:3], "学校门口附近")
            if n > 1 and rng.random() < DUPLICATE_RATE:  # same buyer as order n-1 elsewhere
                phone = f"139{n - per_channel if n > per_channel else n - 1:08d}"
            out[channel].append(Sample(
                order_id=f"{channel[:2].upper()}{i:05d}", state="PENDING_PAYMENT",
                lines=((sku + sku_suffix, rng.choice((1, 1, 2)), PRICES[sku]),), phone=phone,
                address=address, created_s=now - 120, modified_s=now - 120))
    return out


def pay_or_abandon(orders: dict[str, list[Sample]], rng: random.Random,
                   now: float) -> dict[str, list[Sample]]:
    """The same orders a minute before `now`: PAY_RATE of them paid, the rest cancelled."""
    return {c: [Sample(s.order_id, "PAID" if rng.random() < PAY_RATE else "CANCELLED",
                       s.lines, s.phone, s.address, s.created_s, now - 60)
                for s in samples] for c, samples in orders.items()}


@dataclass(frozen=True)
class Refund:
    """Why one line came back, in the channel's words: `reason` is its code (or text)."""

    sku: str
    reason: str
    words: str = ""


def refunded(channel: str, o: Sample, refunds: Sequence[Refund]
             ) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """A paid order `o` refunded (JD: locked for the refund) as `channel` shows it, and
    the after-sales records its refund API answers, in the channel's own shape, by the
    key that API is asked with (refund id, order id or after-sales order id)."""
    raw = build(channel, Sample(o.order_id, "PAID", o.lines, o.phone, o.address,
                                o.created_s, o.modified_s))
    oid, records = o.order_id, {}
    index = {s: i for i, (s, _, _) in enumerate(o.lines)}
    if channel == "taobao":
        subs = raw["orders"]["order"]
        for r in refunds:
            sub = subs[index[r.sku]]
            sub.update(refund_status="SUCCESS", refund_id=f"RF{sub['oid']}")
            records[sub["refund_id"]] = [{"refund_id": sub["refund_id"], "tid": oid,
                                          "oid": sub["oid"], "status": "SUCCESS",
                                          "reason": r.reason, "desc": r.words}]
        if all(s["refund_status"] == "SUCCESS" for s in subs):
            raw["status"] = "TRADE_CLOSED"
    elif channel == "jd":
        raw["orderState"] = "LOCKED"
        records[oid] = [{"id": f"RA{oid}{i}", "orderId": oid, "status": 0,
                         "reason": r.reason} for i, r in enumerate(refunds)]
    elif channel == "pdd":
        raw["refund_status"] = 4
        records[oid] = [{"id": f"AS{oid}{i}", "order_sn": oid, "after_sales_type": 2,
                         "after_sales_status": 10, "after_sale_reason": r.reason,
                         "outer_id": r.sku} for i, r in enumerate(refunds)]
    elif channel == "douyin":
        raw.update(order_status=4, main_status=21)
        for i, s in enumerate(raw["sku_order_list"]):
            s["sku_order_id"] = f"{oid}{i}"
        records[oid] = [{"aftersale_info": {
            "aftersale_id": f"AS{oid}{i}", "related_id": f"{oid}{index[r.sku]}",
            "aftersale_status": 12, "reason": r.reason, "apply_remark": r.words}}
            for i, r in enumerate(refunds)]
    elif channel == "wechat":
        raw["status"] = 200
        products = raw["order_detail"]["product_infos"]
        for i, p in enumerate(products):
            p["sku_id"] = f"{oid}-{i}"
        listed = []
        for i, r in enumerate(refunds):
            aid = f"AS{oid}{i}"
            listed.append({"aftersale_order_id": aid, "status": "MERCHANT_REFUND_SUCCESS"})
            records[aid] = [{"after_sale_order_id": aid, "order_id": oid,
                             "status": "MERCHANT_REFUND_SUCCESS", "reason": r.reason,
                             "reason_text": r.words, "product_info": {
                                 "sku_id": products[index[r.sku]]["sku_id"],
                                 "count": products[index[r.sku]]["sku_cnt"]}}]
        raw["aftersale_detail"] = {"aftersale_order_list": listed}
    elif channel == "pos":
        reasons = {r.sku: r.reason for r in refunds}
        for row in raw["rows"]:
            row.update(payment_state="REFUNDED", refund_reason=reasons.get(row["sku"], ""))
    return raw, records

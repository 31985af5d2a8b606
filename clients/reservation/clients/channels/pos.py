"""Store POS: no API, a daily file (CSV or XLSX, e.g. orders_2026-11-11.xlsx) with one row
per order line. Rows of one POS order number are one order.

    fetch  the files in the directory of CHANNEL_POS_URL (file:///...) whose modification
           time falls in the window, one file per page; an order's modified time is its
           file's, so a later file restating an order (a refund) is newer.
    push   appends (order, carrier, tracking number) to shipments.csv in that directory,
           which the store's back office reads; a row already there is not written again.

Columns: order_no, store_id, time (China time), sku, quantity, price (yuan),
payment_state, phone, province, city, district, address; and refund_reason on a
refunded row (the till's reason button: see REASONS).
"""

from __future__ import annotations

import csv
import os
import threading
import urllib.parse
from pathlib import Path
from typing import Any

from reservation.clients.channels import base as b
from reservation.clients.channels.http import ChannelApi

NAME = "pos"

# `payment_state` of the order's rows (all rows of one order carry the same value).
STATUS: dict[str, str] = {
    "UNPAID": b.PENDING_PAYMENT,     # parked at the till
    "PAID": b.PAID,                  # paid, delivered to the buyer's home from a warehouse
    "TAKEN": b.DELIVERED,            # paid and carried out of the store
    "REFUND_PENDING": b.REFUND_REQUESTED,
    "REFUNDED": b.REFUNDED,
    "VOID": b.CANCELLED,             # voided before payment
}

# `refund_reason` of a refunded row: the store till's reason buttons (the POS is the
# seller's own: this list is the store's, not a platform's) -> (level1, level2).
REASONS: dict[str, tuple[str, str]] = {
    "QUALITY": ("quality", "defect"),
    "COLOUR_OFF": ("quality", "colour_deviation"),
    "BROKEN": ("quality", "damaged_material"),
    "WRONG_SIZE": ("quality", "size_wrong"),
    "CHANGED_MIND": ("other", "changed_mind"),
}
_REFUNDING = {"REFUND_PENDING", "REFUNDED"}

FIELDS = {
    "order_id": "order_no", "state": "payment_state", "modified_at": "the file's mtime",
    "created_at": "earliest time of its rows", "paid_at": "earliest time when paid",
    "receiver_phone": "phone", "address.province": "province", "address.city": "city",
    "address.district": "district", "address.detail": "address", "lines[].sku": "sku",
    "lines[].quantity": "quantity", "lines[].price": "price (yuan)",
    "total": "sum of quantity * price", "paid": "the total when paid",
}
COLUMNS = ("order_no", "store_id", "time", "sku", "quantity", "price", "payment_state",
           "phone", "province", "city", "district", "address", "refund_reason")
SUFFIXES = (".csv", ".xlsx")
SHIPMENTS = "shipments.csv"
_PAID = {"PAID", "TAKEN", "REFUND_PENDING", "REFUNDED"}
_push_lock = threading.Lock()


def directory(api: ChannelApi) -> Path:
    parts = urllib.parse.urlsplit(api.base_url)
    if parts.scheme != "file":
        raise ValueError(f"{NAME}: CHANNEL_POS_URL must be a file:/// directory")
    return Path(urllib.parse.unquote(parts.path))


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of one daily file as text, keyed by the header row."""
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook  # only the XLSX path needs it
        book = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            rows = [["" if c is None else str(c) for c in r]
                    for r in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
        header, body = rows[0], rows[1:]
        return [dict(zip(header, r, strict=False)) for r in body if any(r)]
    with path.open(newline="", encoding="utf-8-sig") as f:
        return [r for r in csv.DictReader(f) if any(r.values())]


def group(rows: list[dict[str, str]], file_name: str, mtime_ms: int) -> list[dict[str, Any]]:
    """Rows -> one raw order per order number, in first-seen order."""
    orders: dict[str, dict[str, Any]] = {}
    for row in rows:
        no = (row.get("order_no") or "").strip()
        orders.setdefault(no, {"order_no": no, "file": file_name, "file_mtime_ms": mtime_ms,
                               "rows": []})["rows"].append(row)
    return list(orders.values())


def to_order(raw: dict[str, Any], shop: str) -> b.CanonicalOrder:
    oid = str(b.require(raw, "order_no", NAME))
    rows: list[dict[str, str]] = raw["rows"]
    payment = {(r.get("payment_state") or "").strip() for r in rows}
    if len(payment) != 1:
        raise b.MappingError(NAME, oid, f"rows disagree on payment_state {sorted(payment)}")
    value = payment.pop()
    state = b.lookup(STATUS, NAME, oid, "payment_state", value)
    first = rows[0]
    lines = tuple(b.Line(sku=(r.get("sku") or "").strip(),
                         quantity=b.int_field(r.get("quantity"), NAME, oid, "quantity"),
                         price_cents=b.yuan_to_cents(r.get("price"), NAME, oid, "price"))
                  for r in rows)
    created = min(b.cst_ms(r.get("time"), NAME, oid, "time") for r in rows)
    total = sum(line.quantity * line.price_cents for line in lines)
    paid = value in _PAID
    return b.CanonicalOrder(
        channel=NAME, shop=shop or str(first.get("store_id") or ""), order_id=oid, state=state,
        raw_status=value, modified_at_ms=int(raw["file_mtime_ms"]), created_at_ms=created,
        paid_at_ms=created if paid else 0, receiver_phone=str(first.get("phone") or ""),
        address=b.Address(str(first.get("province") or ""), str(first.get("city") or ""),
                          str(first.get("district") or ""), str(first.get("address") or "")),
        lines=lines, total_cents=total, paid_cents=total if paid else 0)


def refunds(api: ChannelApi, raw: dict[str, Any]) -> list[b.RefundReason]:
    """The refunded rows' refund_reason (in the file: no call)."""
    return [b.RefundReason((r.get("sku") or "").strip(), (r.get("refund_reason") or "").strip())
            for r in raw["rows"] if (r.get("payment_state") or "").strip() in _REFUNDING
            and (r.get("refund_reason") or "").strip()]


def fetch(api: ChannelApi, window: b.Window, token: str | None) -> b.Page:
    folder = directory(api)
    files = sorted(
        (p.stat().st_mtime_ns // 1_000_000, p.name) for p in folder.iterdir()
        if p.suffix in SUFFIXES and p.name != SHIPMENTS and p.is_file())
    files = [(ms, name) for ms, name in files if window.start_ms <= ms < window.end_ms]
    start = int(token or 0)
    if start >= len(files):
        return b.Page([])
    ms, name = files[start]
    orders = group(read_rows(folder / name), name, ms)
    return b.Page(orders, str(start + 1) if start + 1 < len(files) else None)


def push(api: ChannelApi, p: b.Push) -> None:
    api.limiter.acquire()  # the back office's file is written at a bounded rate too
    path = directory(api) / SHIPMENTS
    row = [p.shop, p.order_id, p.carrier, p.tracking_number]
    with _push_lock:
        if path.exists():
            with path.open(newline="", encoding="utf-8") as f:
                if row in list(csv.reader(f)):
                    return  # told before
        new = not path.exists()
        with path.open("a", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["store_id", "order_no", "carrier", "tracking_number"])
            w.writerow(row)
            f.flush()
            os.fsync(f.fileno())


# Read at most a day of files at once.
ADAPTER = b.Adapter(NAME, STATUS, FIELDS, to_order, fetch, push, refunds=refunds,
                    reasons=REASONS)

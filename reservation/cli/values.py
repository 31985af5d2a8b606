"""Values on the command line: stock items, durations, times, rate limits. Shared by the
command groups (which import this, never each other)."""

from __future__ import annotations

import argparse
import re
import time

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import types_pb2 as pb

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)?")


def parse_item(text: str) -> pb.StockItem:
    """SKU:WAREHOUSE:QUANTITY (the SKU may itself contain ':')."""
    try:
        sku, wh, qty = text.rsplit(":", 2)
        return pb.StockItem(sku=sku, warehouse_id=wh, quantity=int(qty))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not SKU:WAREHOUSE:QUANTITY") from None


def parse_duration(text: str) -> Duration:
    """"90s", "5m", "1.5h", "250ms" or plain seconds."""
    m = _DURATION.fullmatch(text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30s, 5m, 250ms")
    scale = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]
    d = Duration()
    d.FromMilliseconds(int(float(m.group(1)) * scale * 1000))
    return d


def parse_rate(text: str) -> admin_pb.RateLimit:
    """"5/1m": at most 5 new orders per minute ("5/30s", "100/1h")."""
    orders, _, per = text.partition("/")
    try:
        return admin_pb.RateLimit(orders=int(orders), per=parse_duration(per))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"{text!r} is not ORDERS/PERIOD like 5/1m") from None


def parse_time(text: str) -> Timestamp:
    """"now", "+10m" (from now), or an RFC 3339 time."""
    ts = Timestamp()
    if text == "now":
        ts.GetCurrentTime()
    elif text.startswith("+"):
        ts.FromMilliseconds(int(time.time() * 1000) + parse_duration(text[1:]).ToMilliseconds())
    else:
        try:
            ts.FromJsonString(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: use now, +10m or RFC 3339") from None
    return ts

"""Recorded payloads (tests/channels/payloads/<channel>.json) and what they should map to.

Each file holds, in the channel's own payload shape:
  statuses  one payload per status value the channel lists (and per value of each extra
            status field), with the canonical state it must map to;
  refused   payloads with a value the channel does not list: refused, naming it;
  arrivals  (files, for the POS) a story over three polls: an update, a duplicate, an
            out-of-order (older) copy, a late write (modified before the previous poll
            ended), a refund; `final` is each order's state by its newest copy.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from reservation.clients.channels.base import CST

PAYLOADS = Path(__file__).resolve().parents[1] / "channels" / "payloads"
CHANNELS = ("taobao", "jd", "pdd", "douyin", "wechat", "pos")
T0 = datetime(2026, 11, 11, tzinfo=CST)
"""Minute 0 of the recorded payloads' clock."""


def payloads(channel: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{channel}.json").read_text(encoding="utf-8"))


def at(minute: float) -> float:
    """Epoch seconds of a minute on the payloads' clock."""
    return (T0 + timedelta(minutes=minute)).timestamp()

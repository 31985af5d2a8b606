"""Settlement statements: one parser per channel, each a mapping table (the channel's
columns and line types to the canonical settlement line) plus a short `parse`.

    parse(channel, content: bytes) -> list[StatementLine]

A parser maps and checks, nothing more: matching the lines to orders is the service's
(reservation/settlement/). Amounts are read as Decimal and turned into integer cents
exactly; an amount with more decimals than the channel uses, an unknown line type or a
missing column is a StatementError naming the channel, the line and the field, never a
guess. Every line's parts add up to its payout to the cent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from reservation.clients.channels.statements.common import StatementError, StatementLine

CHANNELS = ("taobao", "jd", "pdd", "douyin", "wechat", "pos")
_MODULES = {"taobao": "alipay", "jd": "jd", "pdd": "pinduoduo", "douyin": "douyin",
            "wechat": "wechatpay", "pos": "pos"}

__all__ = ["CHANNELS", "StatementError", "StatementLine", "parse", "parser"]


def parser(channel: str) -> Callable[[bytes], list[StatementLine]]:
    if channel not in _MODULES:
        raise KeyError(f"no statement parser for channel {channel!r} "
                       f"(known: {', '.join(CHANNELS)})")
    module = importlib.import_module(f"{__name__}.{_MODULES[channel]}")
    parse_: Callable[[bytes], list[StatementLine]] = module.parse
    return parse_


def parse(channel: str, content: bytes) -> list[StatementLine]:
    return parser(channel)(content)

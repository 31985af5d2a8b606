"""Virtual shards: which shard a SKU (or an order's home, or a sale) lives in, and
grouping work by shard. One shard is what one Lua script can change atomically, so an
order splits into one part per shard and every caller walks shards in the same order.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def shard_of(value: str, shards: int) -> int:
    return zlib.crc32(value.encode()) % shards


def by_shard(items: Iterable[T], key: Callable[[T], str], shards: int) -> list[tuple[int, list[T]]]:
    """Items grouped by the shard of key(item), shards ascending, items in given order."""
    groups: dict[int, list[T]] = {}
    for item in items:
        groups.setdefault(shard_of(key(item), shards), []).append(item)
    return sorted(groups.items())

"""What the pull API hands out: a batch of events, and a group's totals."""

from __future__ import annotations

from dataclasses import dataclass

from reservation.domain.events import WriteBackEvent


@dataclass(frozen=True)
class Batch:
    batch_id: str
    events: tuple[WriteBackEvent, ...]


@dataclass(frozen=True)
class Stats:
    pending: int
    """Delivered and not acknowledged yet."""
    undelivered: int
    oldest_unacknowledged_age_ms: int
    delivered_total: int
    acknowledged_total: int
    dead_lettered: int
    """Dead letters waiting for an operator now."""
    dead_lettered_total: int
    broken_shards: tuple[int, ...] = ()
    """Shards whose stream's cap trimmed events the group had not acknowledged: it lost
    them, its pulls are refused there until it is bootstrapped."""
    read_at_ms: int = 0
    """When a consumer last pulled the group (0: never)."""

"""Keys of the write-back machinery beside the shard's stream (reservation.keys.write_back).

    rsv:{N}:wbdl:<group>     stream  the group's dead letters (MAXLEN write_back_dead_letter_max)
    rsv:{N}:wbstats:<group>  hash    delivered/acked/dead/replayed totals (TTL: retention,
                                     renewed on every change)

Same hash tag as the shard's stream, so one script reaches all three.
"""

from __future__ import annotations

from reservation.storage.keys import prefix, write_back

__all__ = ["dead_letter", "stats", "write_back"]


def dead_letter(shard: int, group: str) -> str:
    return f"{prefix(shard)}wbdl:{group}"


def stats(shard: int, group: str) -> str:
    return f"{prefix(shard)}wbstats:{group}"

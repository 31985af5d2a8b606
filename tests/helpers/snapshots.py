"""Redis as a whole: a snapshot of every key, to prove a call changed nothing."""

from __future__ import annotations

from reservation.storage import keys


def by_timer(key: str | bytes) -> bool:
    """A key the service writes on its own timer, never a call: the {health} keys of the
    overdue evaluator (its first pass lands right after start-up). Snapshots that prove a
    call changed nothing leave them out: they may change between two snapshots whatever
    the call did."""

    name = key.decode() if isinstance(key, bytes) else key
    return name.startswith(keys.HEALTH)


async def redis_snapshot(url: str) -> dict[str, tuple[str, bytes | None]]:
    """Every key with its type and DUMP (value only, not TTL): two snapshots are equal
    when a call changed nothing in Redis (timer-written keys left out: by_timer)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        out = {}
        async for key in client.scan_iter(count=1000):
            if by_timer(key):
                continue
            out[key.decode()] = ((await client.type(key)).decode(), await client.dump(key))
        return out
    finally:
        await client.aclose()

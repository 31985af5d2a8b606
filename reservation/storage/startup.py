"""Opening the store at start-up: a Redis the service cannot use is one line that names
the setting to change, not a traceback (a pod crash-looping on a wrong URL would flood
its log collector with one per restart)."""

from __future__ import annotations

import re

from redis.exceptions import AuthenticationError, RedisClusterException, ResponseError

from reservation.errors import StartupError, Unavailable
from reservation.settings import Settings, redacted_url
from reservation.storage.store import Store, connect


class RedisStartupError(StartupError):
    """Redis cannot be used as configured: the message names the variable and the fix."""


async def open_store(settings: Settings, url: str) -> Store:
    """A store whose Redis answered a script on every shard (Store.health)."""
    store = Store(connect(settings, url), settings)
    try:
        await store.health()
    except (Unavailable, ResponseError, RedisClusterException) as exc:
        await store.close()
        raise RedisStartupError(describe(exc, settings, url)) from None
    return store


def describe(exc: Exception, settings: Settings, url: str) -> str:
    """What went wrong with Redis at start-up, and which setting fixes it."""
    where = redacted_url(url)
    text = str(exc.__cause__ or exc) if isinstance(exc, Unavailable) else str(exc)
    if isinstance(exc.__cause__, AuthenticationError) or "NOAUTH" in text \
            or "WRONGPASS" in text:
        return (f"Redis at {where} refused the credentials of RESERVATION_REDIS_URL: {text}")
    if "DB index is out of range" in text:
        db = url.rsplit("/", 1)[-1]
        return (f"RESERVATION_REDIS_URL={where}: this Redis has no database {db} (DB index "
                "is out of range); use one below its `databases` setting (default 16)")
    if "Cluster mode is not enabled" in text:
        return (f"RESERVATION_REDIS_CLUSTER is on but {where} is not a Redis Cluster node; "
                "set RESERVATION_REDIS_CLUSTER=false")
    if isinstance(exc, RedisClusterException):
        return f"cannot reach the Redis Cluster at {where} (RESERVATION_REDIS_URL): {text}"
    if text.startswith(("MOVED", "ASK ")) or "CLUSTERDOWN" in text:
        return (f"{where} is a Redis Cluster node: set RESERVATION_REDIS_CLUSTER=true "
                "(RESERVATION_REDIS_URL may name any node)")
    if isinstance(exc, Unavailable) and settings.redis_sentinels:
        return (f"cannot reach the primary {settings.redis_sentinel_master!r} through the "
                f"sentinels {settings.redis_sentinels} (RESERVATION_REDIS_SENTINELS, "
                f"RESERVATION_REDIS_SENTINEL_MASTER): {_brief(text)}")
    if isinstance(exc, Unavailable):
        private = ("" if settings.redis_url is None else
                   "; start it, or unset RESERVATION_REDIS_URL for a private redis-server")
        return f"cannot reach Redis at {where} (RESERVATION_REDIS_URL): {_brief(text)}{private}"
    return f"Redis at {where} refused the service's health script (RESERVATION_REDIS_URL): {text}"


def _brief(text: str) -> str:
    """redis-py's 'Error 111 connecting to h:p. Connection refused.' -> 'connection refused'."""
    match = re.search(r"Error \d+ connecting to \S+ ?\.? ?(.*?)\.?$", text)
    return (match.group(1) or text).strip().rstrip(".").lower() if match else text

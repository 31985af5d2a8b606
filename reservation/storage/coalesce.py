"""Coalescing: the Redis commands callers issue in one event-loop turn go out as one pipeline.

Python's per-command cost (packing, a connection checkout, an awaited round trip), not
Redis, limits the service; so every script call and order claim is queued here, and the
first one of a loop turn starts a pipeline task, whose first step runs after the rest
of that turn and takes everything queued by then (no other hop before it, so an idle
service sends a call at once). It sends it as one non-transactional pipeline and hands each caller
its own result or its own error. Callers just await; nothing else changes for them.
That turn-end batching is `TurnBatcher`, which routing's snapshot reads
(storage/routing.py) use too; `Coalescer` is it for script calls and commands.

Better still, calls of a *mergeable* script that target the same shard are folded into
one call of a bulk script (reserve -> reserve_many): Redis and redis-py then pay their
per-command cost once per batch. A `Merge` says how to fold and unfold; each caller
still gets the reply for its own order.

While `max_inflight` pipelines are in flight, new calls wait for one to come back: under
load the batches grow instead of the pipelines multiplying (Nagle-style), and an idle
service still sends each call at once.

On one Redis (not Cluster) a flush does not build a redis-py Pipeline: it packs the
commands with redis-py's own encoder, writes them on a connection of its own (one per
pipeline in flight) and reads the replies back (hiredis parses them when installed).
Pipeline objects, the pool's locks and the per-command bookkeeping cost more Python
than the round trip itself here (profile-unary.txt before this change). A connection
found closed (a restarted Redis) is reopened and the batch sent once more.
On Redis Cluster the pipeline is redis-py's cluster pipeline, which splits it by node.
On one Redis >= 7 the scripts run as Redis Functions (scripts.library: loaded once,
called with FCALL) unless `functions` is off; the server's version is read once, on the
first flush. NOSCRIPT, or "Function not found" (a restarted, flushed or failed-over
Redis), is answered by loading the script or function and sending those calls once more.

Replica wait (`wait_replicas` > 0): a pipeline that may write ends with WAIT on the same
connection, so its replies are handed out only once that many replicas have every write
of it (and, the replication stream being one ordered stream, every write the primary
took before). Fewer within `wait_timeout_ms`: every call of the pipeline fails with
ReplicaWaitTimeout (UNAVAILABLE to the caller, whose retry is safe: the scripts are
idempotent). On Cluster the WAIT goes to every primary (the pipeline's commands for a
node and its WAIT share that node's connection); the fewest confirmations count.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from reservation.storage import scripts as lua

DEFAULT_MAX_INFLIGHT = 4
"""Pipelines in flight before new calls wait: enough to keep Redis busy, few enough to
let batches grow under load."""
PIPELINES_ONLY = False
"""Set by tracing (server/tracing.py): Redis spans come from redis-py's instrumented
Pipeline, so with tracing on every flush goes through one."""
DEFAULT_MAX_MERGE = 128
"""Most orders folded into one bulk script call: bounds how long one call blocks Redis."""
READ_SCRIPTS = frozenset({"get", "wb_stats", "wb_snapshot"})
"""Scripts that write nothing: a pipeline of only these (and READ_COMMANDS) needs no
replica wait, so reads keep working while the replicas are away."""
READ_COMMANDS = frozenset({"ZCARD", "GET", "HGET", "HGETALL", "HMGET", "ZRANGE", "XLEN"})


class _Waiting(Protocol):
    """A queued call: where its answer goes."""

    future: asyncio.Future[Any]


Item = TypeVar("Item", bound=_Waiting)


class TurnBatcher(Generic[Item]):
    """The coalescing itself, for any kind of call (Coalescer's commands, routing's
    snapshot asks in storage/routing.py): the first call of a loop turn starts a task
    whose first step runs after the rest of that turn and takes everything queued by
    then (no other hop before it, so an idle service sends a call at once), and hands the
    batch to `_send`, which answers each call's future. While `max_inflight` batches are
    in flight, new calls wait for one to come back (Nagle-style: under load the batches
    grow instead of the round trips multiplying). A batch that fails as a whole fails
    every call of it with that error."""

    def __init__(self, max_inflight: int) -> None:
        self.max_inflight = max_inflight
        self._pending: list[Item] = []
        self._scheduled = False
        self._inflight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _send(self, batch: list[Item]) -> None:
        """Send `batch` and set each call's future (one a caller cancelled is done)."""
        raise NotImplementedError

    def _queue(self, item: Item) -> asyncio.Future[Any]:
        self._pending.append(item)
        if not self._scheduled and self._inflight < self.max_inflight:
            self._start()
        return item.future

    def _start(self) -> None:
        """A task that takes whatever is pending when its first step runs: the calls
        queued later in this loop turn still go with it (the first step runs after them),
        and no extra callback hop is paid before it (idle: at once)."""
        self._scheduled = True
        self._inflight += 1
        task = asyncio.get_running_loop().create_task(self._send_pending())
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def _send_pending(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            await self._send(batch)
        except BaseException as exc:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._inflight -= 1
        # Calls that queued up while we were at the limit go out now.
        if self._pending and not self._scheduled and self._inflight < self.max_inflight:
            self._start()

    async def drain(self) -> None:
        """Wait for every batch in flight (shutdown, tests)."""
        while self._tasks or self._pending:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            else:
                await asyncio.sleep(0)


class ReplicaWaitTimeout(RedisTimeoutError):
    """The pipeline ran on the primary but too few replicas confirmed it in time."""


@dataclass(frozen=True)
class Merge:
    """How calls of one script fold into one call of a bulk script.

    `group(keys, args)` names the calls that may share one bulk call (e.g. the shard);
    `fold(calls)` builds the bulk call's (keys, args) from [(keys, args), ...]; the bulk
    script returns one reply per folded call, in order.
    """

    bulk: str
    group: Callable[[Sequence[Any], Sequence[Any]], Any]
    fold: Callable[[list[tuple[Sequence[Any], Sequence[Any]]]], tuple[list[Any], list[Any]]]
    single: bool = False
    """Fold a call that is alone in its group too: when the bulk script takes an order as
    one packed argument, that is cheaper for redis-py to encode than the plain script's
    ~20 arguments (the encoding was the largest Python cost of an unary Reserve's
    round trip in the profile)."""


class _Call:
    """One caller's command: what to stage on the pipeline and where its answer goes."""

    __slots__ = ("args", "future", "keys", "method", "script")

    def __init__(self, future: asyncio.Future[Any], script: str | None, keys: Sequence[Any],
                 args: Sequence[Any], method: str = ""):
        self.future = future
        self.script = script
        self.keys = keys
        self.args = args
        self.method = method


class _Bulk:
    """A folded call: one bulk script call whose reply list is split over its parts."""

    __slots__ = ("args", "keys", "parts", "script")

    def __init__(self, script: str, keys: list[Any], args: list[Any], parts: list[_Call]):
        self.script = script
        self.keys = keys
        self.args = args
        self.parts = parts


class Coalescer(TurnBatcher[_Call]):
    """Script calls and plain commands of a loop turn as one pipeline (the module's
    doc); the turn-end batching is TurnBatcher's."""

    def __init__(self, client: Any, scripts: dict[str, AsyncScript],
                 merges: dict[str, Merge] | None = None,
                 max_inflight: int = DEFAULT_MAX_INFLIGHT,
                 max_merge: int = DEFAULT_MAX_MERGE, functions: bool = False,
                 wait_replicas: int = 0, wait_timeout_ms: int = 1000) -> None:
        super().__init__(max_inflight)
        self.client = client
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self.scripts = scripts
        self.merges = merges or {}
        self.max_merge = max_merge
        # Direct mode (one Redis): idle connections of our own, at most max_inflight.
        self._direct = not isinstance(client, RedisCluster)
        self._pipelines = PIPELINES_ONLY or not self._direct
        self._idle: list[AbstractConnection] = []
        self._timeout = (client.connection_pool.connection_kwargs.get("socket_timeout")
                         if self._direct else None)
        # Redis Functions (one Redis only): None until the server's version is known.
        self.functions: bool | None = None if functions and self._direct else False
        self._function_names = {name: lua.function_name(name) for name in scripts}
        self.stats = {"pipelines": 0, "calls": 0, "commands": 0}
        """Counters for benchmarks and tests: how much was coalesced."""
        self.observer: Callable[[int, int, float], None] | None = None
        """Told (calls, commands, seconds) of every pipeline: the metrics hook. None: no
        clock is read."""

    # -- what callers use ---------------------------------------------------------------
    def script(self, name: str, keys: Sequence[Any], args: Sequence[Any]) -> asyncio.Future[Any]:
        """EVALSHA of a registered script, sent with this turn's other calls."""
        return self._queue(_Call(self._future(), name, keys, args))

    def command(self, method: str, *args: Any) -> asyncio.Future[Any]:
        """A plain Redis command (e.g. "zcard", key), coalesced too; its raw reply."""
        return self._queue(_Call(self._future(), None, (), args, method.upper()))

    @staticmethod
    def _future() -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    # -- one batch ----------------------------------------------------------------------
    async def _send(self, batch: list[_Call]) -> None:
        items = self._fold(batch)
        if self.functions is None:
            self.functions = await self._redis_major() >= 7
        replies = await self._execute(items)
        retry = [i for i, r in enumerate(replies) if _not_loaded(r)]
        if retry:
            await self._load({items[i].script for i in retry})  # type: ignore[misc]
            again = await self._execute([items[i] for i in retry])
            for i, r in zip(retry, again):
                replies[i] = r
        for item, reply in zip(items, replies):
            _deliver(item, reply)

    def _fold(self, batch: list[_Call]) -> list[_Call | _Bulk]:
        """Replace groups of mergeable calls by bulk calls; everything else as it is."""
        if not self.merges:
            return list(batch)
        items: list[_Call | _Bulk] = []
        groups: dict[tuple[str, Any], list[_Call]] = {}
        for call in batch:
            merge = self.merges.get(call.script) if call.script else None
            if merge is None or call.script is None:
                items.append(call)
            else:
                groups.setdefault((call.script, merge.group(call.keys, call.args)),
                                  []).append(call)
        for (name, _), calls in groups.items():
            merge = self.merges[name]
            for start in range(0, len(calls), self.max_merge):
                chunk = calls[start:start + self.max_merge]
                if len(chunk) == 1 and not merge.single:
                    items.append(chunk[0])  # one call: the plain script is the same thing
                else:
                    keys_, args = merge.fold([(c.keys, c.args) for c in chunk])
                    items.append(_Bulk(merge.bulk, keys_, args, chunk))
        return items

    async def _execute(self, items: Sequence[_Call | _Bulk]) -> list[Any]:
        # EVALSHA as a raw command: the cluster pipeline blocks pipe.evalsha, yet routes
        # a raw EVALSHA by its keys just fine; the direct path packs it as it is.
        if self.functions:
            fcall = self._function_names
            commands = [("FCALL", fcall[item.script], len(item.keys), *item.keys, *item.args)
                        if item.script is not None else (item.method, *item.args)
                        for item in items]
        else:
            commands = [("EVALSHA", self.scripts[item.script].sha, len(item.keys),
                         *item.keys, *item.args)
                        if item.script is not None else (item.method, *item.args)
                        for item in items]
        calls = sum(len(i.parts) if isinstance(i, _Bulk) else 1 for i in items)
        self.stats["pipelines"] += 1
        self.stats["commands"] += len(items)
        self.stats["calls"] += calls
        wait = bool(self.wait_replicas) and _writes(items)
        if wait:
            commands.append(("WAIT", self.wait_replicas, self.wait_timeout_ms))
        send = self._pipeline_roundtrip if self._pipelines else self._direct_roundtrip
        if self.observer is None:
            replies = await send(commands)
        else:
            started = time.perf_counter()
            try:
                replies = await send(commands)
            finally:
                self.observer(calls, len(items), time.perf_counter() - started)
        if wait:
            refused = self._check_wait(replies.pop())
            if refused is not None:
                # The writes fail (their answer was not made safe); reads that rode
                # along in the pipeline keep their replies.
                replies = [refused if _writes([item]) else reply
                           for item, reply in zip(items, replies)]
        return replies

    def _check_wait(self, reply: Any) -> Exception | None:
        """None when enough replicas confirmed, else the error the writes get."""
        if isinstance(reply, Exception):
            return reply
        # Cluster: one reply per primary (a dict or list when not aggregated): the least.
        values = reply.values() if isinstance(reply, dict) else \
            reply if isinstance(reply, list) else [reply]
        confirmed = min((int(v) for v in values), default=0)
        if confirmed < self.wait_replicas:
            return ReplicaWaitTimeout(
                f"written on the primary, but {confirmed} of {self.wait_replicas} replicas "
                f"confirmed it within {self.wait_timeout_ms} ms "
                "(RESERVATION_REDIS_WAIT_REPLICAS)")
        self.stats["waits"] = self.stats.get("waits", 0) + 1
        return None

    async def _pipeline_roundtrip(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for command in commands:
            if command[0] == "WAIT" and not self._direct:
                # Every primary: each gets it after its own share of this pipeline.
                pipe.execute_command(*command, target_nodes=RedisCluster.PRIMARIES)
                continue
            pipe.execute_command(*command)
        return list(await pipe.execute(raise_on_error=False))

    async def _direct_roundtrip(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Write the packed commands on an own connection and read every reply (an error
        reply is that command's result, as in a non-raising pipeline)."""
        conn = self._idle.pop() if self._idle else self.client.connection_pool.make_connection()
        try:
            packed = conn.pack_commands(commands)
            try:
                replies = await self._send_and_read(conn, packed, len(commands))
            except RedisConnectionError:
                # An idle connection a restarted Redis closed: once more on a new socket
                # (the scripts are idempotent, so a batch that did run may run again).
                await conn.disconnect(nowait=True)
                replies = await self._send_and_read(conn, packed, len(commands))
        except BaseException:
            # The socket may hold half a reply: never reuse it as it is.
            await conn.disconnect(nowait=True)
            raise
        self._idle.append(conn)
        return replies

    async def _send_and_read(self, conn: AbstractConnection, packed: list[bytes],
                             count: int) -> list[Any]:
        if not conn.is_connected:
            # connect() itself, not send_packed_command's implicit connect: under
            # Sentinel only connect() asks the sentinels where the primary is now.
            await conn.connect()
        await conn.send_packed_command(packed, check_health=False)
        out: list[Any] = []
        # One deadline for the whole batch instead of one per reply (math.inf: no
        # per-read timer); the socket timeout still bounds a Redis that stops answering.
        try:
            async with asyncio.timeout(self._timeout):
                for _ in range(count):
                    try:
                        out.append(await conn.read_response(timeout=math.inf))
                    except ResponseError as exc:
                        out.append(exc)
        except TimeoutError:  # asyncio's: as redis-py's own, so the retry policy sees it
            raise RedisTimeoutError("Timeout reading from socket") from None
        return out

    async def _load(self, names: set[str]) -> None:
        for name in names:
            if not self.functions:
                await self.client.script_load(self.scripts[name].script)
                continue
            try:
                await self.client.function_load(lua.library(name))
            except ResponseError as exc:
                if "already exists" not in str(exc):  # loaded meanwhile by someone else
                    raise

    async def _redis_major(self) -> int:
        info = await self.client.info("server")
        return int(str(info["redis_version"]).split(".", 1)[0])

    async def close(self) -> None:
        """Close the direct-mode connections (the client's pool is closed by its owner)."""
        await self.drain()
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.disconnect()


def _writes(items: Sequence[_Call | _Bulk]) -> bool:
    """Whether any of these may write (then the pipeline waits for the replicas)."""
    return any(item.script not in READ_SCRIPTS if item.script is not None
               else item.method not in READ_COMMANDS for item in items)


def _not_loaded(reply: Any) -> bool:
    """Whether a reply says the script or function is not on that Redis (any more)."""
    return isinstance(reply, NoScriptError) or (
        isinstance(reply, ResponseError) and str(reply).startswith("Function not found"))


def _deliver(item: _Call | _Bulk, reply: Any) -> None:
    if isinstance(item, _Bulk):
        if isinstance(reply, Exception):
            for part in item.parts:
                _resolve(part.future, reply)
        else:
            for part, one in zip(item.parts, reply):
                _resolve(part.future, one)
        return
    _resolve(item.future, reply)


def _resolve(future: asyncio.Future[Any], reply: Any) -> None:
    if future.done():  # the caller was cancelled; the command ran all the same
        return
    if isinstance(reply, Exception):
        future.set_exception(reply)
    else:
        future.set_result(reply)

"""A seeded schedule of faults, injected one after another while traffic runs.

Kinds (each undone before the next starts):
- redis-kill9      SIGKILL redis-server, restart it on the same port and AOF
- redis-sigstop    freeze redis-server (SIGSTOP), thaw it (SIGCONT)
- client-pause     CLIENT PAUSE ALL: Redis answers nothing for a while
- replica-kill9    SIGKILL one `reservation serve` replica mid-call, restart it
- replica-sigstop  freeze one replica past the order lease (a stalled or cut-off
                   replica: the others recover its orders, then it wakes and goes on)
- puller-kill9     SIGKILL the WMS puller between pull, apply and ack, restart it
- saga-intent, saga-lock, saga-commit
                   at a chosen step of a multi-shard order: when Redis is seen (MONITOR)
                   running that step's script for some order (intent recorded at home;
                   a part locked for Confirm; the CONFIRMED decision committed), the
                   replica whose connection sent it is SIGKILLed and restarted. MONITOR
                   is asynchronous, so the kill lands a few ms after the step, with
                   whatever else that replica had in flight.
- order-part, order-apply
                   the same, at a chosen point of an order sync (order_apply_many.lua):
                   a multi-shard order's hold in its other shard made (the saga's first
                   step, before the order itself is written), or the order written at
                   its anchor shard (its state, history, event stream and stock).

`ip netns` network cuts are not used: a replica in its own namespace needs veth wiring
to reach Redis on 127.0.0.1; replica-sigstop stands in for a cut replica.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import re
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

from benchmarks.chaos.processes import System

KINDS = ("redis-kill9", "redis-sigstop", "client-pause", "replica-kill9", "replica-sigstop",
         "puller-kill9", "saga-intent", "saga-lock", "saga-commit", "order-part",
         "order-apply")
# The step of each saga fault, as MONITOR prints the script call (Redis Functions on).
SAGA_STEPS = {"saga-intent": re.compile(r'^FCALL rsv_intent_\w+ '),
              "saga-lock": re.compile(r'^FCALL rsv_lock_\w+ '),
              "saga-commit": re.compile(r'^FCALL rsv_phase_\w+ 2 \S+ \S+ commit '),
              # An order op is tab-separated, its mode first (MONITOR escapes the tabs).
              "order-part": re.compile(r'^FCALL rsv_order_apply_many_\w+ .* part\\t'),
              "order-apply": re.compile(r'^FCALL rsv_order_apply_many_\w+ .* order\\t')}
SAGA_WAIT_S = 5.0  # the step not seen by then: the fault is logged as missed


@dataclass
class FaultLog:
    injected: collections.Counter[str] = field(default_factory=collections.Counter)
    lines: list[str] = field(default_factory=list)


def _watch_for(system: System, step: re.Pattern[str]) -> int | None:
    """Block until Redis runs `step`; the client port that sent it (None: not seen)."""
    deadline = time.monotonic() + SAGA_WAIT_S
    with redis.Redis.from_url(system.redis.url, socket_timeout=1) as r, r.monitor() as m:
        while time.monotonic() < deadline:
            try:
                seen = m.next_command()
            except redis.TimeoutError:
                continue
            if step.match(str(seen.get("command", ""))):
                return int(seen["client_port"])
    return None


def _owner(system: System, client_port: int) -> int | None:
    """The index of the replica holding the socket with local port `client_port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == client_port:
                inodes.add(cols[9])
    for i, child in enumerate(system.services):
        if not child.running or child.proc is None:
            continue
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{child.proc.pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in {f"socket:[{n}]" for n in inodes}:
                        return i
    return None


async def saga_fault(system: System, kind: str) -> str:
    port = await asyncio.to_thread(_watch_for, system, SAGA_STEPS[kind])
    i = None if port is None else _owner(system, port)
    if i is None:
        return f"{kind} missed ({'step not seen' if port is None else 'sender gone'})"
    await asyncio.to_thread(system.services[i].kill9)
    await asyncio.to_thread(system.start_replica, i)
    return f"{kind} #{i}"


async def inject(system: System, kind: str, rng: random.Random, log: FaultLog) -> None:
    pause = rng.uniform(0.3, 1.5)
    if kind in SAGA_STEPS:
        what = await saga_fault(system, kind)
        log.injected[kind if "missed" not in what else f"{kind} missed"] += 1
        log.lines.append(what)
        return
    if kind == "redis-kill9":
        await asyncio.to_thread(system.redis.kill9)
        await asyncio.sleep(pause)
        await asyncio.to_thread(system.redis.start)
    elif kind == "redis-sigstop":
        system.redis_signal(signal.SIGSTOP)
        await asyncio.sleep(pause)
        system.redis_cont()
    elif kind == "client-pause":
        with redis.Redis.from_url(system.redis.url, socket_timeout=5) as r:
            r.execute_command("CLIENT", "PAUSE", int(pause * 1000), "ALL")
        await asyncio.sleep(pause)
    elif kind == "replica-kill9":
        i = rng.randrange(len(system.services))
        await asyncio.to_thread(system.services[i].kill9)
        await asyncio.sleep(pause)
        await asyncio.to_thread(system.start_replica, i)
        kind = f"{kind} #{i}"
    elif kind == "replica-sigstop":
        i = rng.randrange(len(system.services))
        system.services[i].signal(signal.SIGSTOP)
        await asyncio.sleep(pause + 1.5)  # past the order lease (1.5 s)
        system.services[i].signal(signal.SIGCONT)
        kind = f"{kind} #{i}"
    elif kind == "puller-kill9" and system.puller is not None:
        await asyncio.to_thread(system.puller.kill9)
        await asyncio.sleep(pause)
        system.puller.start()
    log.injected[kind.split(" ")[0]] += 1
    log.lines.append(f"{kind} ({pause:.2f} s)")


async def run_schedule(system: System, rng: random.Random, count: int, log: FaultLog,
                       kinds: Sequence[str] = KINDS, first: Sequence[str] = ()) -> None:
    """`count` faults with 0.3-1.2 s of calm between them: the kinds in `first`, then a
    random kind each."""
    for i in range(count):
        await asyncio.sleep(rng.uniform(0.3, 1.2))
        await inject(system, first[i] if i < len(first) else rng.choice(list(kinds)), rng,
                     log)

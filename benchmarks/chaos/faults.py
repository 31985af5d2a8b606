"""A seeded schedule of faults, injected one after another while traffic runs.

Kinds (each undone before the next starts):
- redis-kill9      SIGKILL redis-server, restart it on the same port and AOF
- redis-sigstop    freeze redis-server (SIGSTOP), thaw it (SIGCONT)
- client-pause     CLIENT PAUSE ALL: Redis answers nothing for a while
- replica-kill9    SIGKILL one `reservation serve` replica mid-call, restart it
- replica-sigstop  freeze one replica past the order lease (a stalled or cut-off
                   replica: the others recover its orders, then it wakes and goes on)
- puller-kill9     SIGKILL the WMS puller between pull, apply and ack, restart it

`ip netns` network cuts are not used: a replica in its own namespace needs veth wiring
to reach Redis on 127.0.0.1; replica-sigstop stands in for a cut replica.
"""

from __future__ import annotations

import asyncio
import collections
import random
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis

from benchmarks.chaos.processes import System

KINDS = ("redis-kill9", "redis-sigstop", "client-pause", "replica-kill9", "replica-sigstop",
         "puller-kill9")


@dataclass
class FaultLog:
    injected: collections.Counter[str] = field(default_factory=collections.Counter)
    lines: list[str] = field(default_factory=list)


async def inject(system: System, kind: str, rng: random.Random, log: FaultLog) -> None:
    pause = rng.uniform(0.3, 1.5)
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
                       kinds: Sequence[str] = KINDS) -> None:
    """`count` faults, a random kind each, with 0.3-1.2 s of calm between them."""
    for _ in range(count):
        await asyncio.sleep(rng.uniform(0.3, 1.2))
        await inject(system, rng.choice(list(kinds)), rng, log)

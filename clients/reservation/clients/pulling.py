"""The pull-apply-ack loop every consumer of the service's event streams runs: the WMS
puller (write-back events into the ledger), the stock-sync worker, the audit puller and a
channel adapter's feed (order events).

The order of the three steps is the whole trick. The consumer's apply step records each
event id in the same transaction as the event's effect, and the batch is acknowledged
only after that transaction committed. Killed before the commit: nothing was applied and
the events come again after the visibility timeout. Killed after the commit but before
the acknowledgement: they come again and are skipped by id. So nothing is lost and
nothing counted twice. Batch ids stay valid across restarts of the service, so an
acknowledgement that failed is simply retried.

A consumer supplies its stream's two calls (`pull`, `send_ack`) and its apply step.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import grpc
from google.protobuf.duration_pb2 import Duration

from reservation.api import connection
from reservation.api.connection import bearer

# The service is down or restarting (a server shutting down cancels calls in flight):
# wait and try again, nothing is lost meanwhile.
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.CANCELLED)

# An apply step: store the events not seen before; returns how many it took.
Apply = Callable[[Sequence[Any]], int]


class Batch(Protocol):
    """A pulled batch (PullBatchResponse, PullOrderEventsResponse)."""

    @property
    def batch_id(self) -> str: ...

    @property
    def events(self) -> Sequence[Any]: ...


class Closable(Protocol):
    def close(self) -> None: ...


def default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def long_poll(wait_s: float) -> Duration:
    """A pull's `wait`: how long the service may hold the call open for events."""
    return Duration(seconds=int(wait_s), nanos=int(wait_s % 1 * 1e9))


class PullLoop(ABC):
    """Pull a batch, apply it, acknowledge it, repeat; back off while the service is away."""

    def __init__(self, apply: Apply, consumer: str | None = None, max_events: int = 500,
                 wait_s: float = 5.0, token: str | None = None, ack_delay_s: float = 0.0,
                 log: bool = False) -> None:
        self.apply = apply
        self.consumer = consumer or default_consumer()
        self.max_events = max_events
        self.wait_s = wait_s
        self.metadata = bearer(token)
        self.ack_delay_s = ack_delay_s
        self.log = log

    @abstractmethod
    def pull(self) -> Batch:
        """One long-polling pull of at most `max_events`, waiting up to `wait_s`."""

    @abstractmethod
    def send_ack(self, batch_id: str) -> None:
        """Acknowledge a batch once (`ack` retries it)."""

    def ack(self, batch_id: str, attempts: int = 5) -> None:
        for attempt in range(attempts):
            try:
                self.send_ack(batch_id)
                return
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE or attempt == attempts - 1:
                    raise
                time.sleep(0.2 * 2 ** attempt)

    def step(self) -> int:
        """One pull-apply-ack round; returns the number of events pulled (0: none came)."""
        batch = self.pull()
        if not batch.events:
            return 0
        new = self.apply(batch.events)
        if self.log:
            print(f"applied {len(batch.events)} events ({new} new)", flush=True)
        if self.ack_delay_s:
            time.sleep(self.ack_delay_s)  # fault-injection drills: a wide apply->ack gap
        self.ack(batch.batch_id)
        return len(batch.events)

    def run(self, until_idle: bool = False, stop: threading.Event | None = None) -> None:
        """Pull until stopped; with until_idle, until a pull brings nothing."""
        backoff = 0.1
        while stop is None or not stop.is_set():
            try:
                pulled = self.step()
                backoff = 0.1
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE:
                    raise
                print(f"service unavailable ({exc.code().name}), retrying", file=sys.stderr,
                      flush=True)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if until_idle and pulled == 0:
                return


def add_loop_arguments(p: argparse.ArgumentParser) -> None:
    """The loop's options, the same for every puller command."""
    p.add_argument("--consumer", default=None, help="consumer name (default host-pid)")
    p.add_argument("--max-events", type=int, default=500)
    p.add_argument("--wait", type=float, default=5.0, help="long-poll seconds")
    p.add_argument("--until-idle", action="store_true", help="exit when a pull is empty")
    p.add_argument("--ack-delay", type=float, default=0.0,
                   help="seconds between apply and ack (crash drills)")
    p.add_argument("--quiet", action="store_true", help="no line per batch")


def run_command(args: argparse.Namespace, store: Closable,
                loop: Callable[[grpc.Channel], PullLoop]) -> int:
    """A puller command: `loop` on a channel to --target until stopped (or idle), then
    `store` closed; the exit code (130 interrupted, 1 on a call the loop does not retry)."""
    try:
        with connection.channel(args.target, connection.tls(args)) as channel:
            loop(channel).run(args.until_idle)
    except KeyboardInterrupt:
        return 130
    except grpc.RpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0

"""Reference WMS puller: pull a batch, apply it to the ledger, acknowledge, repeat.

    python -m reservation.clients.wms.puller --target 127.0.0.1:50051 --ledger sqlite:///wms.db

The order of the three steps is the whole trick. The ledger records each event id in
the same transaction as the event's effect (clients/reservation/clients/wms/ledger.py), and the batch is
acknowledged only after that transaction committed. Killed before the commit: nothing
was applied and the events come again after the visibility timeout. Killed after the
commit but before the acknowledgement: they come again and are skipped by id. So the
ledger loses nothing and counts nothing twice. Batch ids stay valid across restarts of
the service, so an acknowledgement that failed is simply retried.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Protocol

import grpc
from google.protobuf.duration_pb2 import Duration

from reservation.api import connection
from reservation.api.connection import add_connection_arguments, bearer
from reservation.clients.wms.ledger import Ledger
from reservation.v1 import write_back_service_pb2 as pb
from reservation.v1 import write_back_service_pb2_grpc as pb_grpc

# The service is down or restarting (a server shutting down cancels calls in flight):
# wait and try again, nothing is lost meanwhile.
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.CANCELLED)


class Applier(Protocol):
    """What a pulled batch is applied to before it is acknowledged: the reference
    ledger, or the stock-sync worker's dirty set. Returns how many events it took."""

    def apply(self, events: Iterable[pb.WriteBackEvent]) -> int: ...


def default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Puller:
    def __init__(self, channel: grpc.Channel, ledger: Applier, consumer: str | None = None,
                 group: str = "", max_events: int = 500, wait_s: float = 5.0,
                 token: str | None = None, ack_delay_s: float = 0.0,
                 log: bool = False) -> None:
        self.stub = pb_grpc.WriteBackServiceStub(channel)
        self.ledger = ledger
        self.consumer = consumer or default_consumer()
        self.group = group
        self.max_events = max_events
        self.wait_s = wait_s
        self.metadata = bearer(token)
        self.ack_delay_s = ack_delay_s
        self.log = log

    def pull(self) -> pb.PullBatchResponse:
        wait = Duration(seconds=int(self.wait_s), nanos=int(self.wait_s % 1 * 1e9))
        request = pb.PullBatchRequest(consumer=self.consumer, group=self.group,
                                      max_events=self.max_events, wait=wait)
        return self.stub.PullBatch(request, timeout=self.wait_s + 30, metadata=self.metadata)

    def ack(self, batch_id: str, attempts: int = 5) -> None:
        for attempt in range(attempts):
            try:
                self.stub.AckBatch(pb.AckBatchRequest(batch_id=batch_id), timeout=30,
                                   metadata=self.metadata)
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
        new = self.ledger.apply(batch.events)
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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="wms_puller", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return p.parse_args(argv)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_connection_arguments(p)
    p.add_argument("--ledger", default="sqlite:///wms-ledger.db",
                   help="sqlite:///path.db or postgresql://user@host/db")
    p.add_argument("--consumer", default=None, help="consumer name (default host-pid)")
    p.add_argument("--group", default="", help="consumer group (default: the service's)")
    p.add_argument("--max-events", type=int, default=500)
    p.add_argument("--wait", type=float, default=5.0, help="long-poll seconds")
    p.add_argument("--until-idle", action="store_true", help="exit when a pull is empty")
    p.add_argument("--ack-delay", type=float, default=0.0,
                   help="seconds between apply and ack (crash drills)")
    p.add_argument("--quiet", action="store_true", help="no line per batch")


def run(args: argparse.Namespace) -> int:
    ledger = Ledger(args.ledger)
    try:
        with connection.channel(args.target, connection.tls(args)) as channel:
            Puller(channel, ledger, args.consumer, args.group, args.max_events, args.wait,
                   args.token, args.ack_delay, log=not args.quiet).run(args.until_idle)
    except KeyboardInterrupt:
        return 130
    except grpc.RpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    finally:
        ledger.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

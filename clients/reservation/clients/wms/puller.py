"""Reference WMS puller: pull a batch, apply it to the ledger, acknowledge, repeat.

    python -m reservation.clients.wms.puller --target 127.0.0.1:50051 --ledger sqlite:///wms.db

Exactly once by the order of the three steps (clients/reservation/clients/pulling.py):
the ledger records each event id in the same transaction as the event's effect
(clients/reservation/clients/wms/ledger.py), and the batch is acknowledged only after that
transaction committed, so the ledger loses nothing and counts nothing twice.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from typing import Protocol

import grpc

from reservation.api.connection import add_connection_arguments
from reservation.clients.pulling import (
    RETRYABLE,
    PullLoop,
    add_loop_arguments,
    default_consumer,
    long_poll,
    run_command,
)
from reservation.clients.wms.ledger import Ledger
from reservation.v1 import write_back_service_pb2 as pb
from reservation.v1 import write_back_service_pb2_grpc as pb_grpc

__all__ = ["RETRYABLE", "Applier", "Puller", "default_consumer"]


class Applier(Protocol):
    """What a pulled batch is applied to before it is acknowledged: the reference
    ledger, or the stock-sync worker's dirty set. Returns how many events it took."""

    def apply(self, events: Iterable[pb.WriteBackEvent]) -> int: ...


class Puller(PullLoop):
    """The write-back stream's loop (PullBatch/AckBatch) into `ledger`."""

    def __init__(self, channel: grpc.Channel, ledger: Applier, consumer: str | None = None,
                 group: str = "", max_events: int = 500, wait_s: float = 5.0,
                 token: str | None = None, ack_delay_s: float = 0.0,
                 log: bool = False) -> None:
        super().__init__(ledger.apply, consumer, max_events, wait_s, token, ack_delay_s, log)
        self.stub = pb_grpc.WriteBackServiceStub(channel)
        self.ledger = ledger
        self.group = group

    def pull(self) -> pb.PullBatchResponse:
        request = pb.PullBatchRequest(consumer=self.consumer, group=self.group,
                                      max_events=self.max_events, wait=long_poll(self.wait_s))
        return self.stub.PullBatch(request, timeout=self.wait_s + 30, metadata=self.metadata)

    def send_ack(self, batch_id: str) -> None:
        self.stub.AckBatch(pb.AckBatchRequest(batch_id=batch_id), timeout=30,
                           metadata=self.metadata)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="wms_puller", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return p.parse_args(argv)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_connection_arguments(p)
    p.add_argument("--ledger", default="sqlite:///wms-ledger.db",
                   help="sqlite:///path.db or postgresql://user@host/db")
    p.add_argument("--group", default="", help="consumer group (default: the service's)")
    add_loop_arguments(p)


def run(args: argparse.Namespace) -> int:
    ledger = Ledger(args.ledger)
    return run_command(args, ledger, lambda channel: Puller(
        channel, ledger, args.consumer, args.group, args.max_events, args.wait, args.token,
        args.ack_delay, log=not args.quiet))


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""Audit puller: pull order events (group "audit"), store them, acknowledge, repeat.

    python -m reservation.clients.audit.puller --target 127.0.0.1:50051 --db sqlite:///audit.db

Exactly once by the loop's order (clients/reservation/clients/pulling.py): the store records each event id in the same
transaction as the event, and the batch is acknowledged only after that commit. Killed
before the commit: the events come again. Killed after it, before the acknowledgement:
they come again and are skipped by id. The same loop serves a channel adapter's feed
(--group feed-<channel>) with its own apply step.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import grpc

from reservation.api.connection import add_connection_arguments
from reservation.clients.audit.store import AuditStore
from reservation.clients.pulling import (
    Apply,
    PullLoop,
    add_loop_arguments,
    long_poll,
    run_command,
)
from reservation.v1 import order_service_pb2 as pb
from reservation.v1 import order_service_pb2_grpc as pb_grpc


class EventPuller(PullLoop):
    """The order-event stream's loop (PullOrderEvents/AckOrderEvents) for consumer
    group `group`, into `apply`."""

    def __init__(self, channel: grpc.Channel, apply: Apply, group: str = "audit",
                 consumer: str | None = None, max_events: int = 500, wait_s: float = 5.0,
                 token: str | None = None, ack_delay_s: float = 0.0, log: bool = False) -> None:
        super().__init__(apply, consumer, max_events, wait_s, token, ack_delay_s, log)
        self.stub = pb_grpc.OrderServiceStub(channel)
        self.group = group

    def pull(self) -> pb.PullOrderEventsResponse:
        request = pb.PullOrderEventsRequest(group=self.group, consumer=self.consumer,
                                            max_events=self.max_events,
                                            wait=long_poll(self.wait_s))
        return self.stub.PullOrderEvents(request, timeout=self.wait_s + 30,
                                         metadata=self.metadata)

    def send_ack(self, batch_id: str) -> None:
        self.stub.AckOrderEvents(pb.AckOrderEventsRequest(batch_id=batch_id), timeout=30,
                                 metadata=self.metadata)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_connection_arguments(p)
    p.add_argument("--db", default="sqlite:///order-audit.db",
                   help="sqlite:///path.db or postgresql://user@host/db")
    add_loop_arguments(p)


def run(args: argparse.Namespace) -> int:
    store = AuditStore(args.db)
    return run_command(args, store, lambda channel: EventPuller(
        channel, store.apply, "audit", args.consumer, args.max_events, args.wait, args.token,
        args.ack_delay, log=not args.quiet))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="audit_puller", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

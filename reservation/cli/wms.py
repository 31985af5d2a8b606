"""WMS write-back commands of the `reservation` CLI.

    reservation wms pull          the reference puller (reservation/clients/wms/puller.py)
    reservation wms bootstrap     start a new ledger from a snapshot of the counters
    reservation wms stats         GetWriteBackStats as JSON
    reservation wms dead-letters  list the write-back dead letters (--replay: send again)
    reservation reconcile         ledger totals against the service's counters
"""

from __future__ import annotations

import argparse
from typing import Any

import grpc

from reservation.cli import output
from reservation.clients import _grpc
from reservation.v1 import write_back_service_pb2 as pb
from reservation.v1 import write_back_service_pb2_grpc as pb_grpc


def _common(p: argparse.ArgumentParser) -> None:
    _grpc.add_connection_arguments(p)
    p.add_argument("--group", default="", help="consumer group (default: the service's)")


def _call(args: argparse.Namespace, method: str, request: Any) -> int:
    with _grpc.channel(args.target, _grpc.tls(args)) as channel:
        try:
            response = getattr(pb_grpc.WriteBackServiceStub(channel), method)(
                request, timeout=30, metadata=_grpc.bearer(args.token))
        except grpc.RpcError as exc:
            output.print_error(exc.code().name, exc.details() or "")
            return 1
    output.print_reply(response)
    return 0


def _pull(args: argparse.Namespace) -> int:
    from reservation.clients.wms import puller as wms_puller

    return wms_puller.run(args)


def _bootstrap(args: argparse.Namespace) -> int:
    from reservation.clients.wms import bootstrap as wms_bootstrap

    return wms_bootstrap.run(args)


def _reconcile(args: argparse.Namespace) -> int:
    from reservation.clients.wms import reconcile as wms_reconcile

    return wms_reconcile.run(args)


def _stats(args: argparse.Namespace) -> int:
    return _call(args, "GetWriteBackStats", pb.GetWriteBackStatsRequest(group=args.group))


def _dead_letters(args: argparse.Namespace) -> int:
    if args.replay is not None:
        return _call(args, "ReplayWriteBackDeadLetters", pb.ReplayWriteBackDeadLettersRequest(
            group=args.group, event_ids=args.replay))
    return _call(args, "ListWriteBackDeadLetters", pb.ListWriteBackDeadLettersRequest(
        group=args.group, page_size=args.page_size))


def add_commands(sub: Any) -> None:
    """Register `wms ...` and `reconcile` on the top-level subparsers."""
    from reservation.clients.wms import bootstrap as wms_bootstrap
    from reservation.clients.wms import puller as wms_puller
    from reservation.clients.wms import reconcile as wms_reconcile

    wms = sub.add_parser("wms", help="WMS write-back: pull, stats, dead letters")
    wsub = wms.add_subparsers(dest="wms_command", required=True)

    p = wsub.add_parser("pull", help="pull batches into a ledger (SQLite or PostgreSQL)")
    wms_puller.add_arguments(p)
    p.set_defaults(func=_pull)

    p = wsub.add_parser("bootstrap", help="start a new, empty ledger from a snapshot of the "
                                          "counters (restarts the group from now)")
    wms_bootstrap.add_arguments(p)
    p.set_defaults(func=_bootstrap)

    p = wsub.add_parser("stats", help="pending, undelivered, totals, dead letters")
    _common(p)
    p.set_defaults(func=_stats)

    p = wsub.add_parser("dead-letters", help="list write-back dead letters, or replay them")
    _common(p)
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--replay", nargs="*", metavar="EVENT_ID",
                   help="replay these event ids (none given: all)")
    p.set_defaults(func=_dead_letters)

    p = sub.add_parser("reconcile", help="compare a WMS ledger with the service's counters; "
                                         "exit 1 on a real difference")
    wms_reconcile.add_arguments(p)
    p.set_defaults(func=_reconcile)

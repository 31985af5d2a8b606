"""WMS write-back commands of the `reservation` CLI: one RPC each.

    reservation wms stats         GetWriteBackStats as JSON
    reservation wms dead-letters  list the write-back dead letters (--replay: send again)

The reference puller, its ledger bootstrap and reconcile are processes of their own, in
the clients distribution: `reservation-clients wms pull|bootstrap|reconcile`.
"""

from __future__ import annotations

import argparse
from typing import Any

import grpc

from reservation.api import connection
from reservation.cli import output, plan
from reservation.v1 import write_back_service_pb2 as pb
from reservation.v1 import write_back_service_pb2_grpc as pb_grpc


def _common(p: argparse.ArgumentParser) -> None:
    connection.add_connection_arguments(p)
    p.add_argument("--group", default="", help="consumer group (default: the service's)")


def _call(args: argparse.Namespace, method: str, request: Any) -> int:
    with connection.channel(args.target, connection.tls(args)) as channel:
        try:
            response = getattr(pb_grpc.WriteBackServiceStub(channel), method)(
                request, timeout=30, metadata=connection.bearer(args.token))
        except grpc.RpcError as exc:
            output.print_error(exc.code().name, exc.details() or "")
            return 1
    output.print_reply(response)
    return 0


def _stats(args: argparse.Namespace) -> int:
    return _call(args, "GetWriteBackStats", pb.GetWriteBackStatsRequest(group=args.group))


def _dead_letters(args: argparse.Namespace) -> int:
    if args.replay is not None and args.dry_run:
        return plan.plan(args, "wms dead-letters --replay",
                         lambda reads: _replay_plan(reads, args))
    if args.replay is not None:
        return _call(args, "ReplayWriteBackDeadLetters", pb.ReplayWriteBackDeadLettersRequest(
            group=args.group, event_ids=args.replay))
    return _call(args, "ListWriteBackDeadLetters", pb.ListWriteBackDeadLettersRequest(
        group=args.group, page_size=args.page_size))


async def _replay_plan(reads: plan.Reads, args: argparse.Namespace) -> dict[str, Any]:
    listed = await reads(pb_grpc.WriteBackServiceStub, "ListWriteBackDeadLetters",
                         pb.ListWriteBackDeadLettersRequest(group=args.group))  # 0: most
    there = [e.event_id for e in listed.events]
    wanted = args.replay or there
    return {"group": args.group or "(the service's)",
            "replayed": [i for i in wanted if i in there],
            "not_dead_lettered": [i for i in wanted if i not in there]}


def add_commands(sub: Any) -> None:
    """Register `wms ...` on the top-level subparsers."""
    wms = sub.add_parser("wms", help="WMS write-back: stats, dead letters")
    wsub = wms.add_subparsers(dest="wms_command", required=True)

    p = wsub.add_parser("stats", help="pending, undelivered, totals, dead letters")
    _common(p)
    p.set_defaults(func=_stats)

    p = wsub.add_parser("dead-letters", help="list write-back dead letters, or replay them")
    _common(p)
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--replay", nargs="*", metavar="EVENT_ID",
                   help="replay these event ids (none given: all)")
    plan.add_dry_run(p)
    p.set_defaults(func=_dead_letters)


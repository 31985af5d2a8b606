"""`reservation safety-stock` and `reservation breaker`: thin calls to the GuardService,
printing the reply as JSON (like every operator command)."""

from __future__ import annotations

import argparse
from typing import Any

from reservation.api import connection
from reservation.cli import rpc
from reservation.v1 import guard_service_pb2 as pb
from reservation.v1 import guard_service_pb2_grpc as pb_grpc

_STATES = {"open": pb.BREAKER_STATE_OPEN, "closed": pb.BREAKER_STATE_CLOSED}
_SWITCH = {"on": pb.SWITCH_ON, "off": pb.SWITCH_OFF}


def _call(args: argparse.Namespace, method: str, request: Any) -> int:
    return rpc.call(args, pb_grpc.GuardServiceStub, method, request)

def _get(a: argparse.Namespace) -> int:
    return _call(a, "GetGuard", pb.GetGuardRequest(sku=a.sku))


def _safety_set(a: argparse.Namespace) -> int:
    req = pb.SetSafetyStockRequest(sku=a.sku, clear_override=a.clear,
                                   live_stream=_SWITCH.get(a.live or "", pb.SWITCH_UNSPECIFIED))
    if a.units is not None:
        req.override = a.units
    return _call(a, "SetSafetyStock", req)


def _force(a: argparse.Namespace) -> int:
    return _call(a, "ForceBreaker", pb.ForceBreakerRequest(
        sku=a.sku, channel=a.channel, state=_STATES[a.state]))


def _clear(a: argparse.Namespace) -> int:
    return _call(a, "ForceBreaker", pb.ForceBreakerRequest(sku=a.sku, channel=a.channel))


def _set_threshold(a: argparse.Namespace) -> int:
    return _call(a, "SetBreakerThreshold", pb.SetBreakerThresholdRequest(
        sku=a.sku, channel=a.channel, threshold=a.units or 0, clear=a.units is None))


def _list(a: argparse.Namespace) -> int:
    return _call(a, "ListOpenBreakers", pb.ListOpenBreakersRequest(page_size=a.limit))


def add_commands(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    connection.add_connection_arguments(common)

    safety = sub.add_parser("safety-stock", help="a SKU's dynamic safety stock").add_subparsers(
        dest="safety_command", required=True)
    p = safety.add_parser("get", parents=[common],
                          help="safety stock, its inputs (daily sales, factor), breakers")
    p.add_argument("sku")
    p.set_defaults(func=_get)
    p = safety.add_parser("set", parents=[common], help="override it, or switch live mode")
    p.add_argument("sku")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--units", type=int, help="override the computed safety stock")
    group.add_argument("--clear", action="store_true", help="drop the override")
    p.add_argument("--live", choices=sorted(_SWITCH),
                   help="live-stream mode: the hot factor applies, as in a flash sale")
    p.set_defaults(func=_safety_set)

    breaker = sub.add_parser("breaker", help="per-channel oversell circuit breakers")
    b = breaker.add_subparsers(dest="breaker_command", required=True)
    p = b.add_parser("get", parents=[common], help="a SKU's breakers per channel")
    p.add_argument("sku")
    p.set_defaults(func=_get)
    p = b.add_parser("list", parents=[common], help="every OPEN breaker, oldest first")
    p.add_argument("--limit", type=int, default=0, help="at most this many (0: 1000)")
    p.set_defaults(func=_list)
    p = b.add_parser("force", parents=[common], help="force OPEN or CLOSED until cleared")
    p.add_argument("sku")
    p.add_argument("channel")
    p.add_argument("state", choices=sorted(_STATES))
    p.set_defaults(func=_force)
    p = b.add_parser("clear", parents=[common], help="drop the force: automatic again")
    p.add_argument("sku")
    p.add_argument("channel")
    p.set_defaults(func=_clear)
    p = b.add_parser("set-threshold", parents=[common],
                     help="the channel's own threshold (0: never pauses); no UNITS: clear it")
    p.add_argument("sku")
    p.add_argument("channel")
    p.add_argument("units", type=int, nargs="?")
    p.set_defaults(func=_set_threshold)

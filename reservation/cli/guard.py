"""`reservation safety-stock` and `reservation breaker`: thin calls to the GuardService,
printing the reply as JSON (like every operator command)."""

from __future__ import annotations

import argparse
from typing import Any

from reservation.api import connection
from reservation.cli import plan, rpc
from reservation.v1 import guard_service_pb2 as pb
from reservation.v1 import guard_service_pb2_grpc as pb_grpc

_STATES = {"open": pb.BREAKER_STATE_OPEN, "closed": pb.BREAKER_STATE_CLOSED}
_SWITCH = {"on": pb.SWITCH_ON, "off": pb.SWITCH_OFF}


def _call(args: argparse.Namespace, method: str, request: Any) -> int:
    return rpc.call(args, pb_grpc.GuardServiceStub, method, request)

async def _guard_now(reads: plan.Reads, sku: str) -> pb.SkuGuard:
    return (await reads(pb_grpc.GuardServiceStub, "GetGuard", pb.GetGuardRequest(sku=sku))).guard


def _breaker(guard: pb.SkuGuard, channel: str) -> dict[str, Any]:
    """A channel's breaker as the SKU's guard shows it (a channel not listed is CLOSED
    at the safety stock)."""
    for b in guard.breakers:
        if b.channel == channel:
            return {"state": pb.BreakerState.Name(b.state).removeprefix("BREAKER_STATE_"),
                    "forced": b.forced != pb.BREAKER_STATE_UNSPECIFIED,
                    "threshold": b.threshold, "own_threshold": b.own_threshold}
    return {"state": "CLOSED", "forced": False, "threshold": guard.safety_stock,
            "own_threshold": False}


async def _safety_plan(reads: plan.Reads, a: argparse.Namespace) -> dict[str, Any]:
    g = await _guard_now(reads, a.sku)
    override = g.override if g.HasField("override") else None
    new = None if a.clear else (a.units if a.units is not None else override)
    would: dict[str, Any] = {"sku": a.sku, "override": [override, new],
                             "safety_stock": [g.safety_stock,
                                              g.computed_safety_stock if new is None else new]}
    if a.live:
        would["live_stream"] = [g.live_stream, a.live == "on"]
    return would


async def _breaker_plan(reads: plan.Reads, a: argparse.Namespace) -> dict[str, Any]:
    g = await _guard_now(reads, a.sku)
    now = _breaker(g, a.channel)
    if a.breaker_command == "set-threshold":
        after = {"threshold": g.safety_stock if a.units is None else a.units,
                 "own_threshold": a.units is not None}
    elif a.breaker_command == "force":
        after = {"state": a.state.upper(), "forced": True}
    else:
        after = {"forced": False, "state": "automatic (OPEN if available "
                 f"{g.available} is at or below threshold {now['threshold']})"}
    return {"sku": a.sku, "channel": a.channel, "breaker": [now, {**now, **after}]}


def _get(a: argparse.Namespace) -> int:
    return _call(a, "GetGuard", pb.GetGuardRequest(sku=a.sku))


def _safety_set(a: argparse.Namespace) -> int:
    if a.dry_run:
        return plan.plan(a, "safety-stock set", lambda reads: _safety_plan(reads, a))
    req = pb.SetSafetyStockRequest(sku=a.sku, clear_override=a.clear,
                                   live_stream=_SWITCH.get(a.live or "", pb.SWITCH_UNSPECIFIED))
    if a.units is not None:
        req.override = a.units
    return _call(a, "SetSafetyStock", req)


def _force(a: argparse.Namespace) -> int:
    if a.dry_run:
        return plan.plan(a, f"breaker {a.breaker_command}",
                         lambda reads: _breaker_plan(reads, a))
    return _call(a, "ForceBreaker", pb.ForceBreakerRequest(
        sku=a.sku, channel=a.channel, state=_STATES[a.state]))


def _clear(a: argparse.Namespace) -> int:
    if a.dry_run:
        return plan.plan(a, f"breaker {a.breaker_command}",
                         lambda reads: _breaker_plan(reads, a))
    return _call(a, "ForceBreaker", pb.ForceBreakerRequest(sku=a.sku, channel=a.channel))


def _set_threshold(a: argparse.Namespace) -> int:
    if a.dry_run:
        return plan.plan(a, f"breaker {a.breaker_command}",
                         lambda reads: _breaker_plan(reads, a))
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
    plan.add_dry_run(p)
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
    plan.add_dry_run(p)
    p.set_defaults(func=_force)
    p = b.add_parser("clear", parents=[common], help="drop the force: automatic again")
    p.add_argument("sku")
    p.add_argument("channel")
    plan.add_dry_run(p)
    p.set_defaults(func=_clear)
    p = b.add_parser("set-threshold", parents=[common],
                     help="the channel's own threshold (0: never pauses); no UNITS: clear it")
    p.add_argument("sku")
    p.add_argument("channel")
    p.add_argument("units", type=int, nargs="?")
    plan.add_dry_run(p)
    p.set_defaults(func=_set_threshold)

"""`reservation serve`, `reservation check` and `reservation demo`: the commands that run
the service (or probe it) rather than call it."""

from __future__ import annotations

import argparse
from typing import Any

from reservation.api.connection import DEFAULT_TARGET
from reservation.cli.loop import run
from reservation.logs import configure as configure_logging
from reservation.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    from reservation.server.app import serve

    overrides: dict[str, Any] = {}
    if args.port is not None:
        overrides["port"] = args.port
    if args.host is not None:
        overrides["host"] = args.host
    if args.workers > 1:
        overrides["reuse_port"] = True  # the workers share the port, on purpose
    settings = Settings.from_env(**overrides)
    configure_logging(settings)
    if args.workers > 1:
        from reservation.cli.workers import serve_workers

        return run(lambda: serve_workers(settings, args.workers))
    return run(lambda: serve(settings))


def _check(args: argparse.Namespace) -> int:
    from reservation.cli.check import check

    return run(lambda: check(args.target, args.redis, args.timeout))


def _at_least(low: float, kind: type = int):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is below {low:g}")
        return value
    return parse


def _demo(args: argparse.Namespace) -> int:
    from reservation.cli.demo import main as demo_main

    orders = args.orders or (300 if args.quick else 3000)
    hold_ttl = args.hold_ttl or (1.0 if args.quick else 3.0)
    return run(lambda: demo_main(orders=orders, hold_ttl_s=hold_ttl))


def add_commands(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the gRPC service (embedded Redis when no "
                                     "RESERVATION_REDIS_URL is set)")
    p.add_argument("--host", help="listen address (RESERVATION_HOST)")
    p.add_argument("--port", type=int, help="listen port (RESERVATION_PORT)")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes sharing the port (SO_REUSEPORT); one per core")
    p.set_defaults(func=_serve)

    p = sub.add_parser("check", help="health check; exit code 0 = healthy")
    p.add_argument("--target", default=DEFAULT_TARGET, help="gRPC server to ask")
    p.add_argument("--redis", action="store_true",
                   help="check RESERVATION_REDIS_URL directly by running a script")
    p.add_argument("--timeout", type=float, default=3.0)
    p.set_defaults(func=_check)

    p = sub.add_parser("demo", help="flash-sale demo on a private Redis and server")
    p.add_argument("--orders", type=_at_least(10), help="default 3000 (--quick: 300); the sale's "
                   "quantities scale with it, so every run sells out")
    p.add_argument("--hold-ttl", type=_at_least(0.1, float), help="seconds; default 3 (--quick: 1)")
    p.add_argument("--quick", action="store_true",
                   help="a short run (300 orders, 1 s holds) with the same checks")
    p.set_defaults(func=_demo)

"""The `reservation` command: serve, check, demo, and operator commands over gRPC.

Operator commands talk to a running server's AdminService (--target), so they work the
same against a laptop and a Kubernetes deployment. Each command group lives in its own
module and registers itself here; none imports another.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence

from reservation.cli import (
    admin,
    auth,
    guard,
    interception,
    listings,
    orders,
    records,
    reservations,
    routing,
    serve,
    settle,
    wms,
)
from reservation.errors import StartupError
from reservation.logs import one_line
from reservation.settings import ConfigError


def _version() -> str:
    try:
        return importlib.metadata.version("reservation")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reservation", description=__doc__)
    parser.add_argument("--version", action="version", version=f"reservation {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve.add_commands(sub)
    reservations.add_commands(sub)
    admin.add_commands(sub)
    guard.add_commands(sub)
    listings.add_commands(sub)
    wms.add_commands(sub)
    orders.add_commands(sub)
    records.add_commands(sub)
    settle.add_commands(sub)
    interception.add_commands(sub)
    routing.add_commands(sub)
    auth.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ConfigError, StartupError) as exc:
        # A bad setting or a taken port: the message names it; a traceback would bury it.
        print(one_line(f"reservation {args.command}: {exc}"), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

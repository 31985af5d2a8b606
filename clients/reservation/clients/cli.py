"""The `reservation-clients` command: the processes that call the service from outside.

    reservation-clients adapter --channel taobao --shop main   one channel adapter
    reservation-clients fake-channels                           fake channel APIs to try it on
    reservation-clients stock-sync --channel jd --shop main ...  stock out to a shop's listings
    reservation-clients wms pull|bootstrap|reconcile|report-state   the reference WMS
    reservation-clients audit --db sqlite:///audit.db          order events into SQL
    reservation-clients console                                 the operators' web page
    reservation-clients demo --target 127.0.0.1:50051           the order flow, end to end
    reservation-clients refused --state adapters.db            the orders adapters parked

Each talks to a running service over gRPC only (--target, --token, TLS options), so it
installs without the server (`pip install ./clients`). Operator commands that are one
RPC each (sales, stock, rules, orders) are the server's `reservation` command.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from reservation.clients import demo
from reservation.clients.audit import puller as audit_puller
from reservation.clients.channels import fake_server, sample_stock
from reservation.clients.channels import refused as refused_command
from reservation.clients.channels import run as adapter_run
from reservation.clients.console import command as console_command
from reservation.clients.stocksync import command as stocksync_command
from reservation.clients.wms import bootstrap as wms_bootstrap
from reservation.clients.wms import orders as wms_orders
from reservation.clients.wms import puller as wms_puller
from reservation.clients.wms import reconcile as wms_reconcile


def _version() -> str:
    try:
        return importlib.metadata.version("reservation-clients")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "unknown"


def _command(sub: Any, name: str, text: str, add: Callable[[argparse.ArgumentParser], None],
             run: Callable[[argparse.Namespace], int]) -> None:
    p = sub.add_parser(name, help=text, description=text)
    add(p)
    p.set_defaults(func=run)


def _fake_channels_arguments(p: argparse.ArgumentParser) -> None:
    fake_server.add_arguments(p)
    sample_stock.add_arguments(p)


def _fake_channels(args: argparse.Namespace) -> int:
    sample_stock.load(args)  # a refusal is one line (main), before anything is served
    return fake_server.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reservation-clients", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version",
                        version=f"reservation-clients {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _command(sub, "adapter", "one channel adapter: orders to the hub, tracking numbers back",
             adapter_run.add_arguments, adapter_run.run)
    _command(sub, "refused", "list the orders the adapters parked for a person (refused "
                             "by a mapping, the hub or the channel), with why",
             refused_command.add_arguments, refused_command.run)
    _command(sub, "fake-channels", "fake channel APIs on 127.0.0.1 serving sample orders "
                                   "(the real ones cannot be reached from a test box); "
                                   "--load-stock N loads their SKUs into the service first",
             _fake_channels_arguments, _fake_channels)
    _command(sub, "stock-sync", "keep a channel shop's listings showing what the service "
                                "may sell", stocksync_command.add_arguments,
             stocksync_command.run)
    wms = sub.add_parser("wms", help="the reference WMS: pull, bootstrap, reconcile, "
                                     "report-state")
    wsub = wms.add_subparsers(dest="wms_command", required=True)
    _command(wsub, "pull", "pull write-back batches into a ledger (SQLite or PostgreSQL)",
             wms_puller.add_arguments, wms_puller.run)
    _command(wsub, "bootstrap", "start a new, empty ledger from a snapshot of the counters "
                                "(restarts the group from now)",
             wms_bootstrap.add_arguments, wms_bootstrap.run)
    _command(wsub, "reconcile", "compare a ledger with the service's counters; exit 1 on a "
                                "real difference", wms_reconcile.add_arguments, wms_reconcile.run)
    _command(wsub, "report-state", "report the WMS's own state of an order (the hub's "
                                   "consistency rate compares it)",
             wms_orders.add_arguments, wms_orders.run)
    _command(sub, "audit", "pull order events into an audit store (SQLite/PostgreSQL)",
             audit_puller.add_arguments, audit_puller.run)
    _command(sub, "console", "serve the operators' web page for a running service",
             console_command.add_arguments, console_command.run)
    _command(sub, "demo", "the order flow against a running service: fake channels, "
                          "adapters, a WMS, tracking numbers back", demo.add_arguments, demo.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:  # a bad option value the parser could not see (TLS pairs)
        print(f"reservation-clients {args.command}: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        # The service refused what this process asked at start (a feed group it does not
        # have, a token it does not know): one line saying so, not a traceback.
        code = exc.code().name if isinstance(exc, grpc.Call) else "UNKNOWN"
        details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        print(f"reservation-clients {args.command}: the service answered {code}: {details}",
              file=sys.stderr)
        return 1

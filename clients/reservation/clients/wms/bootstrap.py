"""Start a new WMS ledger from a snapshot of the counters, then pull as usual.

    reservation wms bootstrap --ledger sqlite:///wms.db [--group GROUP]
    reservation wms pull --ledger sqlite:///wms.db [--group GROUP]

The service restarts the group from "now" on every shard and answers the counters that
account for everything before (AdminService.BootstrapWriteBackGroup); the ledger, which
must be empty, records them as its totals. Pulling the group from then on keeps it exact.
Run it again (on a new, empty ledger) to start over.
"""

from __future__ import annotations

import argparse
import sys

import grpc

from reservation.api import connection
from reservation.clients.wms.ledger import Ledger, Total
from reservation.v1 import admin_service_pb2 as pb
from reservation.v1 import admin_service_pb2_grpc as pb_grpc


def bootstrap(channel: grpc.Channel, ledger: Ledger, group: str = "",
              token: str | None = None) -> int:
    """Seed `ledger`; returns the number of SKU/warehouse rows it starts with."""
    if ledger.totals() or ledger.event_count():
        raise ValueError(f"ledger {ledger.url} is not empty: bootstrap needs a new one")
    response = pb_grpc.AdminServiceStub(channel).BootstrapWriteBackGroup(
        pb.BootstrapWriteBackGroupRequest(group=group), timeout=300,
        metadata=connection.bearer(token) + connection.operator())
    ledger.seed(Total(t.sku, t.warehouse_id, t.loaded, t.available, t.held, t.confirmed,
                      t.returned) for t in response.totals)
    return len(response.totals)


def add_arguments(p: argparse.ArgumentParser) -> None:
    connection.add_connection_arguments(p)
    p.add_argument("--ledger", default="sqlite:///wms-ledger.db",
                   help="a new, empty ledger: sqlite:///path.db or postgresql://user@host/db")
    p.add_argument("--group", default="", help="consumer group to restart (default: the first)")


def run(args: argparse.Namespace) -> int:
    ledger = Ledger(args.ledger)
    try:
        with connection.channel(args.target) as channel:
            rows = bootstrap(channel, ledger, args.group, args.token)
    except grpc.RpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        ledger.close()
    print(f"ledger {args.ledger} starts from {rows} SKU/warehouse totals; now run "
          f"`reservation wms pull --ledger {args.ledger}`")
    return 0

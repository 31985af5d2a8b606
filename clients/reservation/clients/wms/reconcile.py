"""Reconcile a WMS ledger with the service: send the ledger's totals, print differences.

    python -m reservation.clients.wms.reconcile --target 127.0.0.1:50051 --ledger sqlite:///wms.db

Exit code 0 when every difference is explained by events not yet written back (or there
are none), 1 when there is a real one (unknown to the service, or a quantity mismatch).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import grpc

from reservation.api import connection
from reservation.api.connection import add_connection_arguments, bearer
from reservation.clients.wms.ledger import Ledger
from reservation.v1 import admin_service_pb2 as pb
from reservation.v1 import admin_service_pb2_grpc as pb_grpc


def reconcile(channel: grpc.Channel, ledger: Ledger, group: str = "",
              token: str | None = None) -> pb.ReconcileResponse:
    rows = [pb.LedgerTotal(sku=t.sku, warehouse_id=t.warehouse_id, loaded=t.loaded,
                           available=t.available, held=t.held, confirmed=t.confirmed,
                           returned=t.returned) for t in ledger.totals()]
    return pb_grpc.AdminServiceStub(channel).Reconcile(
        pb.ReconcileRequest(ledger=rows, group=group), timeout=120, metadata=bearer(token))


def real_differences(response: pb.ReconcileResponse) -> list[pb.ReconcileDifference]:
    return [d for d in response.differences
            if d.kind != pb.DIFFERENCE_KIND_NOT_YET_WRITTEN_BACK]


def report(response: pb.ReconcileResponse) -> str:
    if not response.differences:
        return "ledger and service agree"
    lines = [(f"{'sku':<20} {'warehouse':<12} {'counter':<10} {'service':>10} {'ledger':>10} "
              f"{'pending':>8}  kind")]
    for d in response.differences:
        kind = pb.DifferenceKind.Name(d.kind).removeprefix("DIFFERENCE_KIND_")
        lines.append(f"{d.sku:<20} {d.warehouse_id:<12} {d.counter:<10} {d.service_value:>10} "
                     f"{d.ledger_value:>10} {d.pending_events:>8}  {kind}")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_connection_arguments(p)
    p.add_argument("--ledger", default="sqlite:///wms-ledger.db",
                   help="sqlite:///path.db or postgresql://user@host/db")
    p.add_argument("--group", default="", help="consumer group feeding the ledger")


def run(args: argparse.Namespace) -> int:
    ledger = Ledger(args.ledger)
    try:
        with connection.channel(args.target, connection.tls(args)) as channel:
            response = reconcile(channel, ledger, args.group, args.token)
    except grpc.RpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
    print(report(response))
    return 1 if real_differences(response) else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="wms_reconcile", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""`reservation-clients fake-channels --load-stock N`: the sample orders' SKUs loaded
into a running service before the fake channels start serving, so an adapter run
against them finds stock (README's walk-through) instead of holding every order for
review. Through AdminService.LoadStock, like any operator."""

from __future__ import annotations

import argparse

from reservation.api import connection
from reservation.clients.channels.samples import PRICES
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import admin_service_pb2_grpc as apb_grpc
from reservation.v1 import types_pb2 as pb

SKUS = tuple(sorted(PRICES))
"""The SKUs the sample orders sell."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--load-stock", type=int, default=0, metavar="N",
                   help=f"first make N units of each sample SKU ({', '.join(SKUS)}) "
                   "available at --warehouse in the service at --target (0: don't)")
    p.add_argument("--warehouse", default="WH-SH", help="where --load-stock puts them")
    connection.add_connection_arguments(p)


def load(args: argparse.Namespace) -> None:
    """LoadStock SET: the same N every run, however many times the walk-through runs."""
    if args.load_stock <= 0:
        return
    items = [pb.StockItem(sku=sku, warehouse_id=args.warehouse, quantity=args.load_stock)
             for sku in SKUS]
    with connection.channel(args.target, connection.tls(args)) as channel:
        reply = apb_grpc.AdminServiceStub(channel).LoadStock(
            apb.LoadStockRequest(items=items, mode=apb.LOAD_MODE_SET),
            metadata=connection.bearer(args.token) + connection.operator(), timeout=30)
    loaded = ", ".join(f"{s.sku}:{lv.warehouse_id}:{lv.available}"
                       for s in reply.stocks for lv in s.levels
                       if lv.warehouse_id == args.warehouse)
    print(f"# stock loaded at {args.target}: {loaded}", flush=True)

"""The routing tests' stubs, seed warehouses and seed rules (the articles' examples),
and their request builders."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import struct_pb2

from reservation.v1 import routing_service_pb2 as rpb
from reservation.v1 import routing_service_pb2_grpc as rgrpc
from tests.helpers.server import Stubs

# The seed articles' warehouses: an East China forward warehouse near Shanghai, an East
# China main warehouse, a Shanghai cold store, Hangzhou (500 orders a day) and Beijing.
SEED_WAREHOUSES = [
    rpb.Warehouse(warehouse_id="WH-EAST-A", name="华东前置仓A", city="苏州"),
    rpb.Warehouse(warehouse_id="WH-EAST", name="华东仓", city="南京"),
    rpb.Warehouse(warehouse_id="WH-SH-COLD", name="上海冷仓", city="上海",
                  capabilities=["COLD_CHAIN"]),
    rpb.Warehouse(warehouse_id="WH-HZ", name="杭州仓", city="杭州", daily_capacity=500),
    rpb.Warehouse(warehouse_id="WH-BJ", name="北京仓", city="北京", safety_stock=3),
    rpb.Warehouse(warehouse_id="WH-GZ", name="广州仓", city="广州"),
]


class RoutingStubs(Stubs):
    def __init__(self, channel: grpc.aio.Channel) -> None:
        super().__init__(channel)
        self.routing = rgrpc.RoutingServiceStub(channel)
        self.routing_admin = rgrpc.RoutingAdminServiceStub(channel)


def struct(doc: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(doc)
    return s


SEED_RULES = {
    # Load weighs nothing below the threshold here: a warehouse takes orders until its
    # daily capacity, then overflows (the seed rule); a positive weight spreads earlier.
    "weights": {"distance": 1.0, "load": 0.0, "shipments": 2.0, "cost": 0.0,
                "priority": 0.1},
    "rules": [
        {"name": "奶粉 East China", "when": {"category": ["奶粉"], "city": ["上海", "杭州", "南京"]},
         "then": {"prefer": ["华东前置仓A"]}},
        {"name": "cold chain", "when": {"category": ["冷链"]},
         "then": {"require": ["COLD_CHAIN"]}},
        {"name": "BP- East China", "when": {"sku_prefix": ["BP-"]},
         "then": {"prefer": ["华东仓"], "min_stock": 5}},
        {"name": "card review", "when": {"amount_above": 500, "payment": ["CREDIT_CARD"]},
         "then": {"review": "amount above 500 paid by credit card"}},
    ],
}


async def put_seed_rules(stubs: RoutingStubs) -> int:
    reply = await stubs.routing_admin.PutRoutingRules(
        rpb.PutRoutingRulesRequest(document=struct(SEED_RULES), comment="seed"))
    return reply.rules.version


def route_request(city: str, *lines: tuple[str, int, str], **kw) -> rpb.RouteRequest:
    kw.setdefault("order_id", "R-1")
    return rpb.RouteRequest(
        channel="tmall",
        lines=[rpb.RouteLine(sku=s, quantity=q, category=c) for s, q, c in lines],
        destination=rpb.Destination(city=city), **kw)


def allocations(d: rpb.RoutingDecision) -> list[tuple[str, str, int]]:
    return [(ln.sku, a.warehouse_id, a.quantity) for ln in d.lines for a in ln.allocations]

"""What each role must be refused (and the few calls it exists for), written from the
roles' purpose (docs/operating/security.md), not read from the role table: the table
test compares the server with the table it enforces, so a wrong entry there passes it.
Checked on a real server with an auth file, every RPC for every role.

The spec names methods by what they do, so a new RPC falls under it by its name: a
reader calls only methods that read; a channel's adapter never administers the service
nor moves a warehouse's cursor; a WMS never sells; a load test sets up stock and sales
but never changes rules, reviews or money; an operator runs the service but never sells
in a channel's name nor moves a WMS's cursor.
"""

from __future__ import annotations

import grpc

from reservation.server.app import App
from tests.helpers.access import ROLES, token_of
from tests.helpers.rpcs import REFUSED, Rpc, all_rpcs, call, scoped_request

RPCS = all_rpcs()

READS = ("Get", "List", "Watch", "Find", "Simulate", "Backtest", "WhoAmI")
"""A method whose name starts so only reads (and a simulation or backtest computes)."""

SELLING = {"Reserve", "ReserveBatch", "ReserveStream", "Confirm", "Release"}
CURSOR = {"PullBatch", "AckBatch"}  # a write-back group's cursor: its WMS's alone
RULE_WRITES = ("Put", "Rollback", "SetInterceptionRuleEnabled", "SetSafetyStock",
               "SetBreakerThreshold", "ForceBreaker", "UpdateBlocklist")
DECISIONS = {"ResolveReview", "ResolveDifference", "UpdateOrderState", "UpdateAddress",
             "ExpediteOrder", "BootstrapWriteBackGroup", "Reconcile",
             "RequeueDeadLetter", "RejectDeadLetter"}
MONEY = {"ImportStatement", "ResolveDifference"}


def reads(rpc: Rpc) -> bool:
    return rpc.name.startswith(READS)


def must_refuse(role: str, rpc: Rpc) -> bool:
    """Whether the role's purpose rules this method out."""
    name, service = rpc.name, rpc.path.split("/")[1].split(".")[-1]
    if role == "reader":
        return not reads(rpc)
    if role == "adapter":
        return ((service in ("AdminService", "RoutingAdminService", "GuardService",
                             "InterceptionService") and name != "WhoAmI")
                or name in CURSOR or name in DECISIONS or name.startswith(RULE_WRITES))
    if role == "wms":
        return (name in SELLING or name.startswith(("Sync", "Import"))
                or name in DECISIONS or name.startswith(RULE_WRITES)
                or (service == "AdminService" and not reads(rpc)))
    if role == "loadtest":
        return (name.startswith(RULE_WRITES) or name in DECISIONS or name in MONEY
                or name in CURSOR)
    if role == "operator":
        return name in SELLING or name in CURSOR
    raise AssertionError(f"no spec for role {role}")


MUST_ALLOW = {
    # What each role exists for (its own channel, group or feed where it has a scope).
    "adapter": {"Reserve", "Confirm", "Release", "GetReservation", "SyncOrders", "GetOrder",
                "GetListingQuantities", "ReportListingPushes", "ImportStatement",
                "SetAfterSalesReason", "PullOrderEvents", "AckOrderEvents", "WhoAmI"},
    "wms": {"PullBatch", "AckBatch", "GetWriteBackStats", "ReportShipment", "RestockOrder",
            "WhoAmI"},
    "operator": {"LoadStock", "StartFlashSale", "PutRoutingRules", "PutInterceptionRules",
                 "ResolveReview", "UpdateOrderState", "FindOrders", "ResolveDifference",
                 "SetSafetyStock", "BootstrapWriteBackGroup", "ImportStatement"},
    "loadtest": {"Reserve", "ReserveBatch", "ReserveStream", "LoadStock", "StartFlashSale",
                 "GetStock", "Route"},
    "reader": {"GetStock", "GetOrder", "ListOrders", "FindOrders", "GetFulfilmentStats",
               "ListOverdueOrders", "GetSettlementReport", "GetGuard", "WhoAmI"},
}


async def test_each_role_is_refused_what_its_purpose_rules_out(
        app: App, channel: grpc.aio.Channel) -> None:
    assert set(MUST_ALLOW) == set(ROLES)
    names = {r.name for r in RPCS}
    assert set().union(*MUST_ALLOW.values()) <= names  # the spec names real methods
    wrong = []
    for rpc in RPCS:
        for role in ROLES:
            # An adapter names its channel's feed as its group, everyone else the WMS's.
            group = "feed-jd" if role == "adapter" else "wms"
            payload = scoped_request(rpc, group=group).SerializeToString()
            code, _ = await call(channel, rpc, [payload], token_of(role), timeout=10)
            refused = code in REFUSED
            if must_refuse(role, rpc) and not refused:
                wrong.append(f"{rpc.path} as {role}: {code.name}, must be refused")
            if rpc.name in MUST_ALLOW[role] and refused:
                wrong.append(f"{rpc.path} as {role}: refused, is what the role is for")
            if must_refuse(role, rpc) and rpc.name in MUST_ALLOW[role]:
                wrong.append(f"{rpc.path} as {role}: the spec contradicts itself")
    assert wrong == []

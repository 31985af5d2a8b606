"""The role table: which role may call which method, and over what scope.

Deny by default: a method missing from METHODS is refused for every caller, the
all-roles development principal included, so a new RPC is unreachable until someone
decides who may call it (tests/access/test_role_table.py fails until they do).

Scopes: an `adapter` acts for its channels only, a `wms` for its consumer groups only.
A scoped entry means the servicer checks the request's channel (or group) against the
caller's grant; an unscoped entry means any channel or group.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Role(enum.StrEnum):
    ADAPTER = "adapter"      # a sales channel's adapter: reserve/confirm/release its orders
    WMS = "wms"              # a warehouse system: pulls and acknowledges write-back events
    OPERATOR = "operator"    # people and tools running the service: admin + read all
    LOADTEST = "loadtest"    # benchmarks: reserve anything, set up stock and sales
    READER = "reader"        # dashboards: read-only


class Scope(enum.StrEnum):
    ANY = "any"
    CHANNEL = "channel"      # only the principal's channels
    GROUP = "group"          # only the principal's consumer groups
    FEED = "feed"            # only the adapter feeds of the principal's channels
                             # (order-event consumer groups "feed-<channel>")


Rule = Mapping[Role, Scope]

_RS = "/reservation.v1.ReservationService/"
_ADMIN = "/reservation.v1.AdminService/"
_WB = "/reservation.v1.WriteBackService/"
_ROUTE = "/reservation.v1.RoutingService/"
_ROUTE_ADMIN = "/reservation.v1.RoutingAdminService/"
_ORDERS = "/reservation.v1.OrderService/"
_ICPT = "/reservation.v1.InterceptionService/"
_GUARD = "/reservation.v1.GuardService/"
_LISTING = "/reservation.v1.ListingService/"
_SETTLE = "/reservation.v1.SettlementService/"

A, W, O, L, R = Role.ADAPTER, Role.WMS, Role.OPERATOR, Role.LOADTEST, Role.READER
ANY, CHANNEL, GROUP, FEED = Scope.ANY, Scope.CHANNEL, Scope.GROUP, Scope.FEED

_ORDER_WRITE: Rule = {A: CHANNEL, L: ANY}
_ORDER_READ: Rule = {A: CHANNEL, L: ANY, O: ANY, R: ANY}
_ADMIN_WRITE: Rule = {O: ANY}
_ADMIN_READ: Rule = {O: ANY, R: ANY}

METHODS: dict[str, Rule] = {
    _RS + "Reserve": _ORDER_WRITE,
    _RS + "ReserveBatch": _ORDER_WRITE,      # per-order PERMISSION_DENIED in the results
    _RS + "ReserveStream": _ORDER_WRITE,     # per-order PERMISSION_DENIED in the responses
    _RS + "Confirm": _ORDER_WRITE,
    _RS + "Release": _ORDER_WRITE,
    _RS + "GetReservation": _ORDER_READ,
    _RS + "WatchReservation": _ORDER_READ,
    _RS + "GetStock": {A: ANY, L: ANY, O: ANY, R: ANY},  # stock is not per channel

    # A load test sets up its own stock and sale (benchmarks/, the locustfile): loadtest
    # principals belong in test environments only.
    _ADMIN + "LoadStock": {O: ANY, L: ANY},
    _ADMIN + "StartFlashSale": {O: ANY, L: ANY},
    _ADMIN + "StopFlashSale": {O: ANY, L: ANY},
    _ADMIN + "RescheduleFlashSale": _ADMIN_WRITE,
    _ADMIN + "PauseFlashSale": _ADMIN_WRITE,
    _ADMIN + "ResumeFlashSale": _ADMIN_WRITE,
    _ADMIN + "GetFlashSale": {O: ANY, R: ANY, L: ANY},
    _ADMIN + "ListFlashSales": {O: ANY, R: ANY, L: ANY},
    _ADMIN + "ListDeadLetters": _ADMIN_READ,
    _ADMIN + "RequeueDeadLetter": _ADMIN_WRITE,
    _ADMIN + "RejectDeadLetter": _ADMIN_WRITE,
    _ADMIN + "Reconcile": _ADMIN_WRITE,
    # Restarts a write-back group from a snapshot (its cursor moves): operators only.
    _ADMIN + "BootstrapWriteBackGroup": _ADMIN_WRITE,
    # The flash sales' blocklist: operators edit it, dashboards read it.
    _ADMIN + "UpdateBlocklist": _ADMIN_WRITE,
    _ADMIN + "ListBlocklist": _ADMIN_READ,
    # Any caller may ask who it is (the console admits operators only, by the answer).
    _ADMIN + "WhoAmI": {A: ANY, W: ANY, O: ANY, L: ANY, R: ANY},

    # Pulling and acknowledging move a group's cursor: only that group's WMS may.
    _WB + "PullBatch": {W: GROUP},
    _WB + "AckBatch": {W: GROUP},
    _WB + "GetWriteBackStats": {W: GROUP, O: ANY, R: ANY},
    _WB + "ListWriteBackDeadLetters": {W: GROUP, O: ANY, R: ANY},
    _WB + "ReplayWriteBackDeadLetters": {W: GROUP, O: ANY},

    # The order hub: adapters sync and read their channels' orders and pull their own
    # channel's feed (shipments to push back); the WMS reports what it shipped (of any
    # channel: the orders it was sent); operators do the rest. Moving an order's state
    # stays with operators: a WMS-only subset of moves (PRINTED, DELIVERED) would need a
    # per-state check in the servicer, not built.
    _ORDERS + "SyncOrders": {A: CHANNEL, L: ANY, O: ANY},       # whole batch refused
    _ORDERS + "SyncOrderStream": {A: CHANNEL, L: ANY, O: ANY},
    _ORDERS + "GetOrder": {A: CHANNEL, L: ANY, O: ANY, R: ANY},
    _ORDERS + "GetOrderHistory": {A: CHANNEL, O: ANY, R: ANY},
    _ORDERS + "ListOrders": {A: CHANNEL, O: ANY, R: ANY},       # its channel named
    _ORDERS + "UpdateAddress": _ADMIN_WRITE,
    _ORDERS + "ReportShipment": {W: ANY, O: ANY},
    _ORDERS + "ReportWarehouseState": {W: ANY, O: ANY},        # the WMS's own state
    _ORDERS + "UpdateOrderState": _ADMIN_WRITE,
    _ORDERS + "RestockOrder": {W: ANY, O: ANY},                 # goods back at the WMS
    _ORDERS + "PullOrderEvents": {A: FEED, O: ANY},             # audit puller: operator
    _ORDERS + "AckOrderEvents": {A: FEED, O: ANY},
    _ORDERS + "GetFulfilmentStats": _ADMIN_READ,
    _ORDERS + "ListOverdueOrders": _ADMIN_READ,
    _ORDERS + "ExpediteOrder": _ADMIN_WRITE,
    # The service desk's lookup reads every channel's orders: operators and readers.
    _ORDERS + "FindOrders": _ADMIN_READ,
    # After-sales reasons: service staff (operators), and adapters for their channels'
    # orders (from the channel's refund reason code); the report is a read.
    _ORDERS + "SetAfterSalesReason": {A: CHANNEL, O: ANY},
    _ORDERS + "GetAfterSalesReport": _ADMIN_READ,

    # Routing. Its servicers do not check a channel scope, so no scoped
    # role is granted: adapters are refused.
    _ROUTE + "Route": {L: ANY, O: ANY},
    _ROUTE + "RouteBatch": {L: ANY, O: ANY},
    _ROUTE + "SimulateRouting": _ADMIN_READ,
    _ROUTE_ADMIN + "PutWarehouse": _ADMIN_WRITE,
    _ROUTE_ADMIN + "GetWarehouse": _ADMIN_READ,
    _ROUTE_ADMIN + "ListWarehouses": _ADMIN_READ,
    _ROUTE_ADMIN + "GetRoutingRules": _ADMIN_READ,
    _ROUTE_ADMIN + "PutRoutingRules": _ADMIN_WRITE,
    _ROUTE_ADMIN + "ListRoutingRuleHistory": _ADMIN_READ,
    _ROUTE_ADMIN + "BacktestRouting": _ADMIN_READ,
    _ROUTE_ADMIN + "RollbackRoutingRules": _ADMIN_WRITE,

    # Interception: rules and the review queue are operators' work.
    _ICPT + "GetInterceptionRules": _ADMIN_READ,
    _ICPT + "PutInterceptionRules": _ADMIN_WRITE,
    _ICPT + "SetInterceptionRuleEnabled": _ADMIN_WRITE,
    _ICPT + "ListReviews": _ADMIN_READ,
    _ICPT + "ResolveReview": _ADMIN_WRITE,
    _ICPT + "GetReviewStats": _ADMIN_READ,

    # The oversell guard: operators steer it, dashboards read it.
    _GUARD + "GetGuard": _ADMIN_READ,
    _GUARD + "ListOpenBreakers": _ADMIN_READ,
    _GUARD + "SetSafetyStock": _ADMIN_WRITE,
    _GUARD + "SetBreakerThreshold": _ADMIN_WRITE,
    _GUARD + "ForceBreaker": _ADMIN_WRITE,
    # A channel's stock-sync worker asks and tells for its channels only.
    _LISTING + "GetListingQuantities": {A: CHANNEL, L: ANY, O: ANY},
    _LISTING + "ReportListingPushes": {A: CHANNEL, L: ANY},
    _LISTING + "GetChannelStock": _ADMIN_READ,
    _LISTING + "ResyncChannelStock": _ADMIN_WRITE,
    _LISTING + "GetListingRules": _ADMIN_READ,
    _LISTING + "PutListingRules": _ADMIN_WRITE,
    _LISTING + "ListListingRuleHistory": _ADMIN_READ,
    _LISTING + "RollbackListingRules": _ADMIN_WRITE,

    # Settlement: a channel's adapter imports its channels' statements; operators may
    # import one by hand (a file sent by mail).
    _SETTLE + "ImportStatement": {A: CHANNEL, O: ANY},
    # Finance reads the report and the differences (a reader role for dashboards and
    # the finance team's tools); resolving one is an operator's decision.
    _SETTLE + "GetSettlementReport": _ADMIN_READ,
    _SETTLE + "ListSettlementDifferences": _ADMIN_READ,
    _SETTLE + "ResolveDifference": _ADMIN_WRITE,
}


def rule(method: str) -> Rule:
    """Who may call `method`; empty (nobody) for a method not in the table."""
    return METHODS.get(method, {})

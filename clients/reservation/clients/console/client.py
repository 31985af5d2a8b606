"""What the console asks the service: one snapshot per refresh, one call per action.

Only gRPC: the console holds no state of its own besides the operator's cookie, so any
number of consoles (and CLIs) can watch and steer the same sale.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from dataclasses import dataclass, field

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.api import connection
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import admin_service_pb2_grpc as agrpc
from reservation.v1 import guard_service_pb2 as gpb
from reservation.v1 import guard_service_pb2_grpc as ggrpc
from reservation.v1 import listing_service_pb2 as lpb
from reservation.v1 import listing_service_pb2_grpc as lgrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import reservation_service_pb2_grpc as rgrpc
from reservation.v1 import types_pb2 as pb
from reservation.v1 import write_back_service_pb2 as wpb
from reservation.v1 import write_back_service_pb2_grpc as wgrpc

TIMEOUT_S = 5.0
OPERATOR_ROLE = "operator"  # the role the console admits (reservation/access/roles.py)
SALE_STATES = {apb.FLASH_SALE_STATE_SCHEDULED: "scheduled", apb.FLASH_SALE_STATE_ACTIVE: "active",
               apb.FLASH_SALE_STATE_ENDED: "ended", apb.FLASH_SALE_STATE_STOPPED: "stopped",
               apb.FLASH_SALE_STATE_PAUSED: "paused"}
BREAKER_STATES = {gpb.BREAKER_STATE_OPEN: "OPEN", gpb.BREAKER_STATE_CLOSED: "CLOSED",
                  gpb.BREAKER_STATE_UNSPECIFIED: ""}


@dataclass
class Operator:
    """Who acts: the bearer token proves they may, the name goes to the action log."""

    token: str
    name: str

    def metadata(self) -> connection.Metadata:
        return connection.bearer(self.token) + (("x-operator", self.name),)


@dataclass
class Snapshot:
    """Everything the live part of the page shows, read in one go."""

    sales: list[apb.FlashSale] = field(default_factory=list)
    stocks: list[rpb.GetStockResponse] = field(default_factory=list)
    guards: dict[str, gpb.SkuGuard] = field(default_factory=dict)
    dead_letters: list[pb.Reservation] = field(default_factory=list)
    write_back: dict[str, wpb.GetWriteBackStatsResponse] = field(default_factory=dict)
    open_breakers: list[gpb.OpenBreaker] = field(default_factory=list)
    fulfilment: list[opb.FulfilmentStats] = field(default_factory=list)
    """Today's (UTC) funnel and order health from the order hub: a total row first, then
    one per channel; empty with fulfilment_missing set when the service has no order
    hub."""
    fulfilment_missing: str = ""
    listings: list[lpb.ChannelListing] = field(default_factory=list)
    """Each listing of the SKUs shown: what it was told beside the service's count."""
    listings_missing: str = ""
    read_at: float = 0.0


class Console:
    def __init__(self, channel: grpc.aio.Channel, groups: tuple[str, ...]) -> None:
        self.admin = agrpc.AdminServiceStub(channel)
        self.rs = rgrpc.ReservationServiceStub(channel)
        self.guard = ggrpc.GuardServiceStub(channel)
        self.wb = wgrpc.WriteBackServiceStub(channel)
        self.orders = ogrpc.OrderServiceStub(channel)
        self.listing = lgrpc.ListingServiceStub(channel)
        self.groups = groups

    async def check(self, op: Operator) -> str:
        """Why `op` may not use the console ("" if it may); raises grpc.aio.AioRpcError
        when the service refuses the token itself. Only operators get in: a reader's
        token would show the page and then have every action refused."""
        who = await self.admin.WhoAmI(apb.WhoAmIRequest(), metadata=op.metadata(),
                                      timeout=TIMEOUT_S)
        if not who.auth_enabled or OPERATOR_ROLE in who.roles:
            return ""
        roles = ", ".join(who.roles) or "no role"
        return (f"This token is {who.principal}'s ({roles}); the console needs a token "
                f"of a principal with the {OPERATOR_ROLE} role.")

    async def snapshot(self, op: Operator, extra_skus: list[str]) -> Snapshot:
        md = op.metadata()
        sales, dead, opened, *stats = await asyncio.gather(
            self.admin.ListFlashSales(apb.ListFlashSalesRequest(), metadata=md, timeout=TIMEOUT_S),
            self.admin.ListDeadLetters(apb.ListDeadLettersRequest(page_size=50), metadata=md,
                                       timeout=TIMEOUT_S),
            self.guard.ListOpenBreakers(gpb.ListOpenBreakersRequest(page_size=100),
                                        metadata=md, timeout=TIMEOUT_S),
            *(self.wb.GetWriteBackStats(wpb.GetWriteBackStatsRequest(group=g), metadata=md,
                                        timeout=TIMEOUT_S) for g in self.groups))
        live = [s for s in sales.sales if s.state in (apb.FLASH_SALE_STATE_ACTIVE,
                                                      apb.FLASH_SALE_STATE_SCHEDULED)]
        skus = list(dict.fromkeys([*(i.sku for s in live for i in s.items), *extra_skus,
                                   *(b.sku for b in opened.breakers)]))[:30]
        stocks = await asyncio.gather(*(self.rs.GetStock(rpb.GetStockRequest(sku=sku),
                                                         metadata=md, timeout=TIMEOUT_S)
                                        for sku in skus))
        guards = await asyncio.gather(*(self.guard.GetGuard(gpb.GetGuardRequest(sku=sku),
                                                            metadata=md, timeout=TIMEOUT_S)
                                        for sku in skus))
        funnel, missing = await self._fulfilment(md)
        listings, listings_missing = await self._listings(md, skus)
        return Snapshot(list(sales.sales), list(stocks), {g.guard.sku: g.guard for g in guards},
                        list(dead.reservations), dict(zip(self.groups, stats)),
                        list(opened.breakers), funnel, missing, listings, listings_missing,
                        time.time())

    async def _listings(self, md: connection.Metadata,
                        skus: list[str]) -> tuple[list[lpb.ChannelListing], str]:
        if not skus:
            return [], ""
        try:
            reply = await self.listing.GetChannelStock(lpb.GetChannelStockRequest(skus=skus),
                                                       metadata=md, timeout=TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.PERMISSION_DENIED):
                return [], exc.code().name  # an older service, or a role without access
            raise
        return list(reply.listings), ""

    async def _fulfilment(self, md: connection.Metadata) -> tuple[list[opb.FulfilmentStats], str]:
        day = datetime.datetime.now(datetime.UTC).date().isoformat()
        try:
            reply = await self.orders.GetFulfilmentStats(
                opb.GetFulfilmentStatsRequest(day=day, by_channel=True), metadata=md,
                timeout=TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.PERMISSION_DENIED):
                return [], exc.code().name  # an older service, or a role without access
            raise
        # The total row (no channel, no warehouse) first.
        rows = sorted(reply.rows, key=lambda r: (bool(r.channel or r.warehouse_id),
                                                 r.channel, r.warehouse_id))
        return rows, ""

    # -- actions ------------------------------------------------------------------------
    async def start_sale(self, op: Operator, plan: SalePlan,
                         validate_only: bool = False) -> apb.FlashSale:
        """validate_only: the service checks the plan (an unknown SKU, an overlapping
        sale ...) and answers the sale as it would be, starting nothing."""
        request = plan.request()
        request.validate_only = validate_only
        reply = await self.admin.StartFlashSale(request, metadata=op.metadata(),
                                                timeout=TIMEOUT_S)
        return reply.sale

    async def stop_sale(self, op: Operator, sale_id: str) -> apb.FlashSale:
        reply = await self.admin.StopFlashSale(apb.StopFlashSaleRequest(sale_id=sale_id),
                                               metadata=op.metadata(), timeout=TIMEOUT_S)
        return reply.sale

    async def pause_sale(self, op: Operator, sale_id: str, pause: bool) -> apb.FlashSale:
        """Pause (orders rejected SALE_PAUSED, queues wait) or resume a sale."""
        if pause:
            reply = await self.admin.PauseFlashSale(apb.PauseFlashSaleRequest(
                sale_id=sale_id), metadata=op.metadata(), timeout=TIMEOUT_S)
        else:
            reply = await self.admin.ResumeFlashSale(apb.ResumeFlashSaleRequest(
                sale_id=sale_id), metadata=op.metadata(), timeout=TIMEOUT_S)
        return reply.sale

    async def dead_letter(self, op: Operator, action: str, channel: str,
                          order_id: str) -> pb.Reservation:
        if action == "requeue":
            reply = await self.admin.RequeueDeadLetter(apb.RequeueDeadLetterRequest(
                channel=channel, order_id=order_id), metadata=op.metadata(), timeout=TIMEOUT_S)
        else:
            reply = await self.admin.RejectDeadLetter(apb.RejectDeadLetterRequest(
                channel=channel, order_id=order_id), metadata=op.metadata(), timeout=TIMEOUT_S)
        return reply.reservation

    async def force(self, op: Operator, sku: str, channel: str,
                    state: str) -> gpb.ForceBreakerResponse:
        wanted = {"open": gpb.BREAKER_STATE_OPEN, "closed": gpb.BREAKER_STATE_CLOSED,
                  "clear": gpb.BREAKER_STATE_UNSPECIFIED}[state]
        return await self.guard.ForceBreaker(gpb.ForceBreakerRequest(
            sku=sku, channel=channel, state=wanted), metadata=op.metadata(), timeout=TIMEOUT_S)


@dataclass(frozen=True)
class SalePlan:
    """A sale as the form describes it, shown back for confirmation before it starts."""

    sale_id: str
    items: tuple[tuple[str, str, int], ...]
    starts_in_s: int
    lasts_s: int
    per_buyer_limit: int
    create_skus: bool = False
    """Create the stock records of SKUs and warehouses never loaded (else NOT_FOUND)."""

    @classmethod
    def parse(cls, form: dict[str, str]) -> SalePlan:
        """Raises ValueError with a message for people on a malformed form."""
        items = []
        for text in form.get("items", "").split():
            try:
                sku, wh, qty = text.rsplit(":", 2)
                items.append((sku, wh, int(qty)))
            except ValueError:
                raise ValueError(f"{text!r} is not SKU:WAREHOUSE:QUANTITY") from None
        if not items:
            raise ValueError("a sale needs at least one SKU:WAREHOUSE:QUANTITY")
        try:
            return cls(form.get("sale_id", "").strip(), tuple(items),
                       int(form.get("starts_in_min") or 0) * 60,
                       int(form.get("lasts_min") or 60) * 60,
                       int(form.get("per_buyer_limit") or 0),
                       form.get("create_skus") == "on")
        except ValueError:
            raise ValueError("minutes and the limit are whole numbers") from None

    def request(self) -> apb.StartFlashSaleRequest:
        now_ms = int(time.time() * 1000)
        starts, ends = Timestamp(), Timestamp()
        starts.FromMilliseconds(now_ms + self.starts_in_s * 1000)
        ends.FromMilliseconds(now_ms + (self.starts_in_s + self.lasts_s) * 1000)
        return apb.StartFlashSaleRequest(
            sale_id=self.sale_id, starts_at=starts, ends_at=ends,
            per_buyer_limit=self.per_buyer_limit, hold_ttl=Duration(), queue_deadline=Duration(),
            create_skus=self.create_skus,
            items=[pb.StockItem(sku=s, warehouse_id=w, quantity=q) for s, w, q in self.items])

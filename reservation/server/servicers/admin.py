"""AdminService: stock loading, flash sales, dead letters and reconcile for operators.

Every call goes through `audit.action`: one operator-action record each, with the state
of the object it touched before and after (read here, at the edge, so the domain code
stays unaware of auditing).
"""

from __future__ import annotations

import grpc

from reservation.access import grant
from reservation.access.roles import Role
from reservation.clock import now_ms
from reservation.domain.models import FlashSale, Reservation, Stock
from reservation.errors import FailedPrecondition, ReservationError
from reservation.queueing.dead_letters import DeadLetters
from reservation.server import audit, convert
from reservation.server.servicers import write_back as write_back_servicer
from reservation.stock.blocklist import Blocklist
from reservation.stock.levels import Inventory
from reservation.stock.sales import Sales
from reservation.v1 import admin_service_pb2 as pb
from reservation.v1 import admin_service_pb2_grpc as pb_grpc
from reservation.writeback.bootstrap import bootstrap
from reservation.writeback.reconcile import Reconciler


class AdminServicer(pb_grpc.AdminServiceServicer):
    def __init__(self, sales: Sales, inventory: Inventory,
                 reconciler: Reconciler | None = None,
                 dead_letters: DeadLetters | None = None) -> None:
        self.sales = sales
        self.inventory = inventory
        self.reconciler = reconciler
        self.dead_letters = dead_letters
        self.blocklist = Blocklist(sales.store, sales.settings)

    async def UpdateBlocklist(self, request: pb.UpdateBlocklistRequest,
                              context: grpc.aio.ServicerContext) -> pb.UpdateBlocklistResponse:
        async with audit.action(context, "UpdateBlocklist") as entry:
            add = convert.block_entries("add", request.add)
            remove = convert.block_entries("remove", request.remove)
            entry.before = {"add": add, "remove": remove}
            who = f"{entry.who} ({entry.on_behalf_of})" if entry.on_behalf_of else entry.who
            size = await self.blocklist.update(add, remove, who)
            entry.after = {"size": size}
        return pb.UpdateBlocklistResponse(size=size)

    async def ListBlocklist(self, request: pb.ListBlocklistRequest,
                            context: grpc.aio.ServicerContext) -> pb.ListBlocklistResponse:
        async with audit.action(context, "ListBlocklist", read=True):
            kind = convert.block_kind("kind", request.kind, required=False)
            found, size = await self.blocklist.list(kind, request.page_size)
        return pb.ListBlocklistResponse(entries=[convert.block_entry(e) for e in found],
                                        size=size)

    async def WhoAmI(self, request: pb.WhoAmIRequest,
                     context: grpc.aio.ServicerContext) -> pb.WhoAmIResponse:
        async with audit.action(context, "WhoAmI"):
            caller = grant.current()
        if caller is None:  # no auth interceptor: every caller may call everything
            return pb.WhoAmIResponse(auth_enabled=False, roles=sorted(r.value for r in Role))
        return pb.WhoAmIResponse(auth_enabled=True, principal=caller.name,
                                 roles=sorted(r.value for r in caller.principal.roles))

    async def ListDeadLetters(self, request: pb.ListDeadLettersRequest,
                              context: grpc.aio.ServicerContext) -> pb.ListDeadLettersResponse:
        async with audit.action(context, "ListDeadLetters", request.sku, read=True):
            found = await self._dead().list(request.sku, request.page_size)
        return pb.ListDeadLettersResponse(reservations=[convert.reservation(r) for r in found])

    async def RequeueDeadLetter(self, request: pb.RequeueDeadLetterRequest,
                                context: grpc.aio.ServicerContext
                                ) -> pb.RequeueDeadLetterResponse:
        async with audit.action(context, "RequeueDeadLetter",
                                f"{request.channel}:{request.order_id}") as entry:
            entry.before = await self._order(request.channel, request.order_id)
            result = entry.after = await self._dead().requeue(request.channel, request.order_id)
        return pb.RequeueDeadLetterResponse(reservation=convert.reservation(result))

    async def RejectDeadLetter(self, request: pb.RejectDeadLetterRequest,
                               context: grpc.aio.ServicerContext) -> pb.RejectDeadLetterResponse:
        async with audit.action(context, "RejectDeadLetter",
                                f"{request.channel}:{request.order_id}") as entry:
            entry.before = await self._order(request.channel, request.order_id)
            result = entry.after = await self._dead().reject(request.channel, request.order_id)
        return pb.RejectDeadLetterResponse(reservation=convert.reservation(result))

    def _dead(self) -> DeadLetters:
        if self.dead_letters is None:
            raise FailedPrecondition("dead letters are not wired into this server")
        return self.dead_letters

    async def _order(self, channel: str, order_id: str) -> Reservation | None:
        try:
            return await self._dead().reservations.get(channel, order_id)
        except ReservationError:
            return None  # the action itself reports why

    async def _sale(self, sale_id: str) -> FlashSale | None:
        try:
            return await self.sales.get(sale_id)
        except ReservationError:
            return None

    async def _stock(self, sku: str) -> Stock | None:
        try:
            return await self.inventory.get(sku)
        except ReservationError:
            return None  # a SKU loaded for the first time

    async def LoadStock(self, request: pb.LoadStockRequest,
                        context: grpc.aio.ServicerContext) -> pb.LoadStockResponse:
        async with audit.action(context, "LoadStock") as entry:
            items = convert.stock_items(request.items)
            skus = list(dict.fromkeys(item.sku for item in items))
            entry.target = ",".join(skus)
            entry.before = [await self._stock(sku) for sku in skus]
            stocks = entry.after = await self.inventory.load(items,
                                                             convert.load_mode(request.mode))
        return pb.LoadStockResponse(stocks=[
            pb.SkuStock(sku=s.sku, levels=[convert.level(lv) for lv in s.levels])
            for s in stocks])

    async def StartFlashSale(self, request: pb.StartFlashSaleRequest,
                             context: grpc.aio.ServicerContext) -> pb.StartFlashSaleResponse:
        async with audit.action(context, "StartFlashSale", request.sale_id) as entry:
            entry.skip = request.validate_only  # a dry run is not an action
            wanted = convert.flash_sale_request(request)
            entry.before = await self._sale(wanted.sale_id)
            sale = entry.after = await self.sales.start(
                wanted, create_skus=request.create_skus, validate_only=request.validate_only)
        return pb.StartFlashSaleResponse(sale=convert.flash_sale(sale, now_ms()))

    async def RescheduleFlashSale(self, request: pb.RescheduleFlashSaleRequest,
                                  context: grpc.aio.ServicerContext
                                  ) -> pb.RescheduleFlashSaleResponse:
        async with audit.action(context, "RescheduleFlashSale", request.sale_id) as entry:
            entry.skip = request.validate_only  # a dry run is not an action
            starts, ends = convert.sale_window(request)
            entry.before = await self._sale(request.sale_id)
            sale = entry.after = await self.sales.reschedule(
                request.sale_id, starts, ends, validate_only=request.validate_only)
        return pb.RescheduleFlashSaleResponse(sale=convert.flash_sale(sale, now_ms()))

    async def PauseFlashSale(self, request: pb.PauseFlashSaleRequest,
                             context: grpc.aio.ServicerContext) -> pb.PauseFlashSaleResponse:
        async with audit.action(context, "PauseFlashSale", request.sale_id) as entry:
            entry.before = await self._sale(request.sale_id)
            sale = entry.after = await self.sales.pause(request.sale_id)
        return pb.PauseFlashSaleResponse(sale=convert.flash_sale(sale, now_ms()))

    async def ResumeFlashSale(self, request: pb.ResumeFlashSaleRequest,
                              context: grpc.aio.ServicerContext) -> pb.ResumeFlashSaleResponse:
        async with audit.action(context, "ResumeFlashSale", request.sale_id) as entry:
            entry.before = await self._sale(request.sale_id)
            sale = entry.after = await self.sales.resume(request.sale_id)
        return pb.ResumeFlashSaleResponse(sale=convert.flash_sale(sale, now_ms()))

    async def StopFlashSale(self, request: pb.StopFlashSaleRequest,
                            context: grpc.aio.ServicerContext) -> pb.StopFlashSaleResponse:
        async with audit.action(context, "StopFlashSale", request.sale_id) as entry:
            entry.before = await self._sale(request.sale_id)
            sale = entry.after = await self.sales.stop(request.sale_id)
        return pb.StopFlashSaleResponse(sale=convert.flash_sale(sale, now_ms()))

    async def GetFlashSale(self, request: pb.GetFlashSaleRequest,
                           context: grpc.aio.ServicerContext) -> pb.GetFlashSaleResponse:
        async with audit.action(context, "GetFlashSale", request.sale_id, read=True):
            sale = await self.sales.get(request.sale_id)
        return pb.GetFlashSaleResponse(sale=convert.flash_sale(sale, now_ms()))

    async def ListFlashSales(self, request: pb.ListFlashSalesRequest,
                             context: grpc.aio.ServicerContext) -> pb.ListFlashSalesResponse:
        async with audit.action(context, "ListFlashSales", read=True):
            sales = await self.sales.list(request.page_size)
        now = now_ms()
        return pb.ListFlashSalesResponse(sales=[convert.flash_sale(s, now) for s in sales])

    async def BootstrapWriteBackGroup(
            self, request: pb.BootstrapWriteBackGroupRequest,
            context: grpc.aio.ServicerContext) -> pb.BootstrapWriteBackGroupResponse:
        async with audit.action(context, "BootstrapWriteBackGroup", request.group) as entry:
            if self.reconciler is None:
                raise FailedPrecondition("this server was built without write-back")
            totals = await bootstrap(self.reconciler.write_back, request.group)
            entry.after = {"rows": len(totals)}
        return pb.BootstrapWriteBackGroupResponse(totals=[
            pb.LedgerTotal(sku=t.sku, warehouse_id=t.warehouse_id, loaded=t.loaded,
                           available=t.available, held=t.held, confirmed=t.confirmed,
                           returned=t.returned) for t in totals])

    async def Reconcile(self, request: pb.ReconcileRequest,
                        context: grpc.aio.ServicerContext) -> pb.ReconcileResponse:
        """The WMS ledger's totals against the counters (see writeback/reconcile.py)."""
        async with audit.action(context, "Reconcile", request.group):
            if self.reconciler is None:
                raise FailedPrecondition("this server was built without write-back")
            return await write_back_servicer.reconcile(self.reconciler, request)

"""AdminService: stock loading and flash sales for operators."""

from __future__ import annotations

import grpc

from reservation.clock import now_ms
from reservation.errors import FailedPrecondition
from reservation.queueing.dead_letters import DeadLetters
from reservation.server import convert
from reservation.server.servicers import write_back as write_back_servicer
from reservation.stock.levels import Inventory
from reservation.stock.sales import Sales
from reservation.v1 import admin_service_pb2 as pb
from reservation.v1 import admin_service_pb2_grpc as pb_grpc
from reservation.writeback.reconcile import Reconciler


class AdminServicer(pb_grpc.AdminServiceServicer):
    def __init__(self, sales: Sales, inventory: Inventory,
                 reconciler: Reconciler | None = None,
                 dead_letters: DeadLetters | None = None) -> None:
        self.sales = sales
        self.inventory = inventory
        self.reconciler = reconciler
        self.dead_letters = dead_letters

    async def ListDeadLetters(self, request: pb.ListDeadLettersRequest,
                              context: grpc.aio.ServicerContext) -> pb.ListDeadLettersResponse:
        found = await self._dead().list(request.sku, request.page_size)
        return pb.ListDeadLettersResponse(reservations=[convert.reservation(r) for r in found])

    async def RequeueDeadLetter(self, request: pb.RequeueDeadLetterRequest,
                                context: grpc.aio.ServicerContext
                                ) -> pb.RequeueDeadLetterResponse:
        result = await self._dead().requeue(request.channel, request.order_id)
        return pb.RequeueDeadLetterResponse(reservation=convert.reservation(result))

    async def RejectDeadLetter(self, request: pb.RejectDeadLetterRequest,
                               context: grpc.aio.ServicerContext) -> pb.RejectDeadLetterResponse:
        result = await self._dead().reject(request.channel, request.order_id)
        return pb.RejectDeadLetterResponse(reservation=convert.reservation(result))

    def _dead(self) -> DeadLetters:
        if self.dead_letters is None:
            raise FailedPrecondition("dead letters are not wired into this server")
        return self.dead_letters

    async def LoadStock(self, request: pb.LoadStockRequest,
                        context: grpc.aio.ServicerContext) -> pb.LoadStockResponse:
        stocks = await self.inventory.load(convert.stock_items(request.items),
                                             convert.load_mode(request.mode))
        return pb.LoadStockResponse(stocks=[
            pb.SkuStock(sku=s.sku, levels=[convert.level(lv) for lv in s.levels])
            for s in stocks])

    async def StartFlashSale(self, request: pb.StartFlashSaleRequest,
                             context: grpc.aio.ServicerContext) -> pb.StartFlashSaleResponse:
        sale = await self.sales.start(convert.flash_sale_request(request))
        return pb.StartFlashSaleResponse(sale=convert.flash_sale(sale, now_ms()))

    async def StopFlashSale(self, request: pb.StopFlashSaleRequest,
                            context: grpc.aio.ServicerContext) -> pb.StopFlashSaleResponse:
        sale = await self.sales.stop(request.sale_id)
        return pb.StopFlashSaleResponse(sale=convert.flash_sale(sale, now_ms()))

    async def GetFlashSale(self, request: pb.GetFlashSaleRequest,
                           context: grpc.aio.ServicerContext) -> pb.GetFlashSaleResponse:
        sale = await self.sales.get(request.sale_id)
        return pb.GetFlashSaleResponse(sale=convert.flash_sale(sale, now_ms()))

    async def Reconcile(self, request: pb.ReconcileRequest,
                        context: grpc.aio.ServicerContext) -> pb.ReconcileResponse:
        """The WMS ledger's totals against the counters (see reservation/reconcile.py)."""
        if self.reconciler is None:
            raise FailedPrecondition("this server was built without write-back")
        return await write_back_servicer.reconcile(self.reconciler, request)

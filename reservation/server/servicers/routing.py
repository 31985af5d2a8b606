"""RoutingService (adapters) and RoutingAdminService (operators): thin over Routing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from reservation.errors import InvalidArgument
from reservation.ordersync import backtest as recorded
from reservation.ordersync.hub import OrderHub
from reservation.routing.backtest import MAX_SAMPLE, Sample
from reservation.routing.service import Routing
from reservation.server import routing_convert as convert
from reservation.server.convert import timestamp_ms
from reservation.v1 import routing_service_pb2 as pb
from reservation.v1 import routing_service_pb2_grpc as pb_grpc


class RoutingServicer(pb_grpc.RoutingServiceServicer):
    def __init__(self, routing: Routing) -> None:
        self.routing = routing

    async def Route(self, request: pb.RouteRequest,
                    context: grpc.aio.ServicerContext) -> pb.RouteResponse:
        explain = convert.explain(request.detail, "detail", True)
        [decision] = await self.routing.route([convert.route_order(request)],
                                              remember=not request.what_if, explain=explain)
        return pb.RouteResponse(decision=convert.decision(decision, explain))

    async def RouteBatch(self, request: pb.RouteBatchRequest,
                         context: grpc.aio.ServicerContext) -> pb.RouteBatchResponse:
        real = [r for r in request.requests if not r.what_if]
        explain = [convert.explain(r.detail, f"requests[{i}].detail", True)
                   for i, r in enumerate(request.requests)]
        # One kernel call for the batch: explained when any request asks for it.
        decisions = await self.routing.route([convert.route_order(r)
                                              for r in request.requests], remember=False,
                                             explain=any(explain))
        if real:  # only real orders are kept as SimulateRouting's samples
            self.routing.remember([convert.route_order(r) for r in real])
        return pb.RouteBatchResponse(decisions=[convert.decision(d, e)
                                                for d, e in zip(decisions, explain,
                                                                strict=True)])

    async def SimulateRouting(self, request: pb.SimulateRoutingRequest,
                              context: grpc.aio.ServicerContext
                              ) -> pb.SimulateRoutingResponse:
        result = await self.routing.simulate(convert.document("document", request.document),
                                             request.sample_size)
        return convert.simulation(result)


class RoutingAdminServicer(pb_grpc.RoutingAdminServiceServicer):
    def __init__(self, routing: Routing, orders: OrderHub | None = None) -> None:
        self.routing = routing
        self.orders = orders

    async def PutWarehouse(self, request: pb.PutWarehouseRequest,
                           context: grpc.aio.ServicerContext) -> pb.PutWarehouseResponse:
        wh = await self.routing.put_warehouse(convert.warehouse(request.warehouse),
                                              request.validate_only)
        return pb.PutWarehouseResponse(warehouse=convert.to_warehouse(wh))

    async def GetWarehouse(self, request: pb.GetWarehouseRequest,
                           context: grpc.aio.ServicerContext) -> pb.GetWarehouseResponse:
        wh = await self.routing.get_warehouse(request.warehouse_id)
        loads = await self.routing.loads()
        return pb.GetWarehouseResponse(
            warehouse=convert.to_warehouse(wh, loads.get(wh.warehouse_id, 0)))

    async def ListWarehouses(self, request: pb.ListWarehousesRequest,
                             context: grpc.aio.ServicerContext) -> pb.ListWarehousesResponse:
        whs = await self.routing.list_warehouses()
        loads = await self.routing.loads()
        return pb.ListWarehousesResponse(warehouses=[
            convert.to_warehouse(w, loads.get(w.warehouse_id, 0)) for w in whs])

    async def GetRoutingRules(self, request: pb.GetRoutingRulesRequest,
                              context: grpc.aio.ServicerContext
                              ) -> pb.GetRoutingRulesResponse:
        rv = await self.routing.get_rules(request.version)
        return pb.GetRoutingRulesResponse(rules=convert.to_rules(await self.routing.view(rv)))

    async def PutRoutingRules(self, request: pb.PutRoutingRulesRequest,
                              context: grpc.aio.ServicerContext
                              ) -> pb.PutRoutingRulesResponse:
        view = await self.routing.put_rules(convert.document("document", request.document),
                                            request.comment, request.expected_version,
                                            validate_only=request.validate_only)
        return pb.PutRoutingRulesResponse(rules=convert.to_rules(view),
                                          warnings=list(view.warnings))

    async def ListRoutingRuleHistory(self, request: pb.ListRoutingRuleHistoryRequest,
                                     context: grpc.aio.ServicerContext
                                     ) -> pb.ListRoutingRuleHistoryResponse:
        versions, current = await self.routing.history(request.limit)
        return pb.ListRoutingRuleHistoryResponse(
            versions=[convert.to_rules(v) for v in await self.routing.views(versions)],
            current_version=current)

    async def RollbackRoutingRules(self, request: pb.RollbackRoutingRulesRequest,
                                   context: grpc.aio.ServicerContext
                                   ) -> pb.RollbackRoutingRulesResponse:
        rv = await self.routing.rollback(request.version, request.validate_only)
        return pb.RollbackRoutingRulesResponse(rules=convert.to_rules(rv))

    async def BacktestRouting(self, request_iterator: AsyncIterator[pb.BacktestRoutingRequest],
                              context: grpc.aio.ServicerContext
                              ) -> pb.BacktestRoutingResponse:
        first: pb.BacktestRoutingRequest | None = None
        samples: list[Sample] = []
        async for request in request_iterator:
            if first is None:
                first = request
            elif request.HasField("document") or request.HasField("recorded_from"):
                raise InvalidArgument("document", "only the first message names the "
                                      "candidate and the period")
            if len(samples) + len(request.orders) > MAX_SAMPLE:
                raise InvalidArgument("orders", f"more than {MAX_SAMPLE} orders")
            base = len(samples)
            samples += [convert.historical(o, f"orders[{base + i}]", self.routing.settings)
                        for i, o in enumerate(request.orders)]
        if first is None:
            raise InvalidArgument("document", "no request sent")
        document = convert.document("document", first.document)
        period = first.HasField("recorded_from") or first.HasField("recorded_to")
        if period and samples:
            raise InvalidArgument("orders", "send either a period or historical orders")
        if period:
            assert self.orders is not None  # the server always passes the hub
            report = await recorded.backtest(
                self.orders, self.routing, document, timestamp_ms(first.recorded_from),
                timestamp_ms(first.recorded_to))
        elif samples:
            report = await self.routing.backtest(document, samples)
        else:
            raise InvalidArgument("recorded_from", "name a period or send historical orders")
        return convert.backtest(report)

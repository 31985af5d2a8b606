"""ListingService: stock out to the channels, converted at the edge; the capability
(reservation/listings) decides."""

from __future__ import annotations

import json

import grpc

from reservation.access import grant
from reservation.listings.quantities import Quantity
from reservation.listings.service import Listings, ListingView, Push, Told, parse_document
from reservation.ordersync import validation as ov
from reservation.storage.rulesets import RulesVersion
from reservation.v1 import listing_service_pb2 as pb
from reservation.v1 import listing_service_pb2_grpc as pb_grpc

MAX_DOCUMENT = 256 * 1024


def _quantity(q: Quantity) -> pb.ListingQuantity:
    return pb.ListingQuantity(sku=q.sku, quantity=q.quantity, listed=q.listed, reason=q.reason)


def _view(v: ListingView) -> pb.ChannelListing:
    told = v.told
    return pb.ChannelListing(
        sku=v.sku, channel=v.channel, shop=v.shop, told=told is not None,
        told_quantity=told.quantity if told else 0, told_listed=told.listed if told else False,
        told_at_ms=told.pushed_at_ms if told else 0, quantity=v.now.quantity,
        listed=v.now.listed, reason=v.now.reason,
        difference=v.now.quantity - (told.quantity if told else 0), lag_ms=v.lag_ms,
        breaker=v.breaker)


def _rules(rv: RulesVersion) -> pb.ListingRules:
    return pb.ListingRules(version=rv.version, document_json=json.dumps(
        rv.document, ensure_ascii=False, sort_keys=True), comment=rv.comment,
        created_at_ms=rv.created_at_ms, rolled_back_to=rv.rolled_back_to, actor=rv.actor)


class ListingServicer(pb_grpc.ListingServiceServicer):
    def __init__(self, listings: Listings) -> None:
        self.listings = listings

    async def GetListingQuantities(self, request: pb.GetListingQuantitiesRequest,
                                   context: grpc.aio.ServicerContext
                                   ) -> pb.GetListingQuantitiesResponse:
        grant.channel(request.channel)
        plan = await self.listings.quantities(request.channel, request.shop, request.skus)
        return pb.GetListingQuantitiesResponse(
            quantities=[_quantity(q) for q in plan.quantities],
            rules_version=plan.rules_version, resync_epoch=plan.resync_epoch)

    async def ReportListingPushes(self, request: pb.ReportListingPushesRequest,
                                  context: grpc.aio.ServicerContext
                                  ) -> pb.ReportListingPushesResponse:
        grant.channel(request.channel)
        pushes = [Push(p.sku, Told(p.quantity, p.listed, p.pushed_at_ms, p.changed_at_ms))
                  for p in request.pushes]
        refused = [(r.sku, r.reason[:200]) for r in request.refused]
        recorded = await self.listings.report(request.channel, request.shop, pushes, refused,
                                              request.drift, request.unmapped)
        return pb.ReportListingPushesResponse(recorded=recorded)

    async def GetChannelStock(self, request: pb.GetChannelStockRequest,
                              context: grpc.aio.ServicerContext) -> pb.GetChannelStockResponse:
        views = await self.listings.channel_stock(request.skus)
        return pb.GetChannelStockResponse(listings=[_view(v) for v in views])

    async def ResyncChannelStock(self, request: pb.ResyncChannelStockRequest,
                                 context: grpc.aio.ServicerContext
                                 ) -> pb.ResyncChannelStockResponse:
        epoch = await self.listings.resync(request.channel, request.shop)
        return pb.ResyncChannelStockResponse(resync_epoch=epoch)

    async def GetListingRules(self, request: pb.GetListingRulesRequest,
                              context: grpc.aio.ServicerContext) -> pb.GetListingRulesResponse:
        return pb.GetListingRulesResponse(rules=_rules(
            await self.listings.get_rules(request.version)))

    async def PutListingRules(self, request: pb.PutListingRulesRequest,
                              context: grpc.aio.ServicerContext) -> pb.PutListingRulesResponse:
        document = parse_document(request.document_json, MAX_DOCUMENT)
        ov.text("comment", request.comment)
        ov.actor("actor", request.actor)
        rv = await self.listings.put_rules(document, request.comment, request.expected_version,
                                           request.actor, validate_only=request.validate_only)
        return pb.PutListingRulesResponse(rules=_rules(rv))

    async def ListListingRuleHistory(self, request: pb.ListListingRuleHistoryRequest,
                                     context: grpc.aio.ServicerContext
                                     ) -> pb.ListListingRuleHistoryResponse:
        versions, current = await self.listings.history(request.limit)
        return pb.ListListingRuleHistoryResponse(versions=[_rules(v) for v in versions],
                                                 current_version=current)

    async def RollbackListingRules(self, request: pb.RollbackListingRulesRequest,
                                   context: grpc.aio.ServicerContext
                                   ) -> pb.RollbackListingRulesResponse:
        ov.actor("actor", request.actor)
        return pb.RollbackListingRulesResponse(rules=_rules(
            await self.listings.rollback(request.version, request.actor)))

"""InterceptionService: the interception rule set and the review queue, converted at the
edge; the capability (reservation/interception) decides."""

from __future__ import annotations

import json

import grpc

from reservation.domain import validation
from reservation.errors import InvalidArgument
from reservation.interception.rules import RuleSet
from reservation.interception.service import Interception, Review
from reservation.ordersync import validation as ov
from reservation.server import convert_orders as co
from reservation.v1 import interception_service_pb2 as pb
from reservation.v1 import interception_service_pb2_grpc as pb_grpc
from reservation.v1 import order_service_pb2 as opb

MAX_DOCUMENT = 256 * 1024


def to_review(r: Review, now_ms: int) -> pb.Review:
    return pb.Review(key=opb.OrderKey(channel=r.channel, shop=r.shop, order_id=r.order_id),
                     rule=r.rule, grade=r.grade, reason=r.reason, suggest=r.suggest,
                     status=r.status, operator=r.operator, opened_at_ms=r.opened_at_ms,
                     closed_at_ms=r.closed_at_ms, escalated=r.escalated(now_ms),
                     state_before=r.state_before, rules_version=r.rules_version, note=r.note)


def _rules(rs: RuleSet) -> pb.InterceptionRules:
    version = rs.version
    document = rs.document
    return pb.InterceptionRules(version=version, document_json=json.dumps(
        document, ensure_ascii=False, sort_keys=True))


class InterceptionServicer(pb_grpc.InterceptionServiceServicer):
    def __init__(self, interception: Interception) -> None:
        self.icpt = interception

    async def GetInterceptionRules(self, request: pb.GetInterceptionRulesRequest,
                                   context: grpc.aio.ServicerContext
                                   ) -> pb.GetInterceptionRulesResponse:
        return pb.GetInterceptionRulesResponse(rules=_rules(await self.icpt.rules()))

    async def PutInterceptionRules(self, request: pb.PutInterceptionRulesRequest,
                                   context: grpc.aio.ServicerContext
                                   ) -> pb.PutInterceptionRulesResponse:
        if len(request.document_json) > MAX_DOCUMENT:
            raise InvalidArgument("document_json", f"is longer than {MAX_DOCUMENT} bytes")
        document = validation.json_document("document_json", request.document_json)
        ov.text("comment", request.comment)
        ov.actor("actor", request.actor)
        if request.expected_version < 0:
            raise InvalidArgument("expected_version", "must not be negative")
        rs = await self.icpt.put_rules(document, request.comment, request.expected_version,
                                       request.actor, validate_only=request.validate_only)
        return pb.PutInterceptionRulesResponse(rules=_rules(rs))

    async def SetInterceptionRuleEnabled(self, request: pb.SetInterceptionRuleEnabledRequest,
                                         context: grpc.aio.ServicerContext
                                         ) -> pb.SetInterceptionRuleEnabledResponse:
        ov.text("name", request.name, required=True)
        ov.text("actor", request.actor, required=True)
        rs = await self.icpt.set_enabled(request.name, request.enabled, request.actor)
        return pb.SetInterceptionRuleEnabledResponse(rules=_rules(rs))

    async def ListReviews(self, request: pb.ListReviewsRequest,
                          context: grpc.aio.ServicerContext) -> pb.ListReviewsResponse:
        reviews = await self.icpt.list_reviews(request.status or "open",
                                               request.page_size or 100)
        now = self.icpt.clock()
        return pb.ListReviewsResponse(reviews=[to_review(r, now) for r in reviews])

    async def ResolveReview(self, request: pb.ResolveReviewRequest,
                            context: grpc.aio.ServicerContext) -> pb.ResolveReviewResponse:
        k = request.key
        ov.order_key(k.channel, k.shop, k.order_id, self.icpt.settings)
        ov.text("operator", request.operator, required=True)
        ov.text("note", request.note)
        address = None
        if request.HasField("address"):
            address = co.address(request.address)
            ov.address("address", address)
        review = await self.icpt.resolve(k.channel, k.shop, k.order_id, request.decision,
                                         request.operator, address, request.note)
        order = await self.icpt.hub.get(k.channel, k.shop, k.order_id)
        return pb.ResolveReviewResponse(review=to_review(review, self.icpt.clock()),
                                        order=co.to_order(order))

    async def GetReviewStats(self, request: pb.GetReviewStatsRequest,
                             context: grpc.aio.ServicerContext) -> pb.GetReviewStatsResponse:
        day = request.day.replace("-", "")
        if day and (len(day) != 8 or not day.isdigit()):
            raise InvalidArgument("day", "must be YYYY-MM-DD")
        s = await self.icpt.stats(day)
        return pb.GetReviewStatsResponse(opened=s.opened, closed_by_person=s.by_person,
                                         closed_automatically=s.automatic,
                                         self_healing_rate=s.self_healing_rate)

"""SettlementService: statements in, converted at the edge; reservation/settlement
decides and stores."""

from __future__ import annotations

from dataclasses import asdict

import grpc

from reservation.access import grant
from reservation.errors import InvalidArgument
from reservation.server import audit
from reservation.settlement import lines as sl
from reservation.settlement.differences import Difference, Filter
from reservation.settlement.service import Settlement
from reservation.v1 import settlement_service_pb2 as pb
from reservation.v1 import settlement_service_pb2_grpc as pb_grpc

_KINDS = {pb.SETTLEMENT_LINE_KIND_SALE: sl.SALE, pb.SETTLEMENT_LINE_KIND_REFUND: sl.REFUND,
          pb.SETTLEMENT_LINE_KIND_FEE: sl.FEE,
          pb.SETTLEMENT_LINE_KIND_ADJUSTMENT: sl.ADJUSTMENT}


def _line(i: int, m: pb.SettlementLine) -> sl.SettlementLine:
    if m.kind not in _KINDS:
        raise InvalidArgument(f"lines[{i}].kind", "SALE, REFUND, FEE or ADJUSTMENT")
    return sl.SettlementLine(
        line_no=m.line_no, kind=_KINDS[m.kind], channel_order_id=m.channel_order_id,
        hub_ref=m.hub_ref, tracking_number=m.tracking_number, goods_cents=m.goods_cents,
        discount_cents=m.discount_cents, fee_cents=m.fee_cents, subsidy_cents=m.subsidy_cents,
        refund_cents=m.refund_cents, payout_cents=m.payout_cents)


class SettlementServicer(pb_grpc.SettlementServiceServicer):
    def __init__(self, settlement: Settlement) -> None:
        self.settlement = settlement

    async def ImportStatement(self, request: pb.ImportStatementRequest,
                              context: grpc.aio.ServicerContext
                              ) -> pb.ImportStatementResponse:
        grant.channel(request.channel)
        statement = sl.Statement(
            channel=request.channel, shop=request.shop, settle_day=request.settle_day,
            name=request.name, digest=request.sha256,
            lines=[_line(i, m) for i, m in enumerate(request.lines)])
        stored = await self.settlement.import_statement(statement)
        return pb.ImportStatementResponse(outcome=stored.outcome, version=stored.version,
                                          lines=stored.lines)

    async def GetSettlementReport(self, request: pb.GetSettlementReportRequest,
                                  context: grpc.aio.ServicerContext
                                  ) -> pb.GetSettlementReportResponse:
        r = await self.settlement.report(request.day, request.channel)
        return pb.GetSettlementReportResponse(
            day=r.day, totals=[pb.SettlementTotal(**asdict(t)) for t in r.channels],
            open_by_class=_counts(r.open_by_class), found_on_day=_counts(r.found_today))

    async def ListSettlementDifferences(self, request: pb.ListSettlementDifferencesRequest,
                                        context: grpc.aio.ServicerContext
                                        ) -> pb.ListSettlementDifferencesResponse:
        where = Filter(request.channel, request.day, request.difference_class, request.state)
        found, token = await self.settlement.differences(where, request.page_token,
                                                         request.page_size)
        return pb.ListSettlementDifferencesResponse(
            differences=[_difference(x) for x in found], next_page_token=token)

    async def ResolveDifference(self, request: pb.ResolveDifferenceRequest,
                                context: grpc.aio.ServicerContext
                                ) -> pb.ResolveDifferenceResponse:
        async with audit.action(context, "ResolveDifference", request.difference_id) as entry:
            done = await self.settlement.resolve(request.difference_id, request.operator,
                                                 request.reason)
            entry.after = {"state": done.state, "by": done.closed_by, "reason": done.reason}
        return pb.ResolveDifferenceResponse(difference=_difference(done))


def _counts(by_class: dict[str, int]) -> list[pb.DifferenceClassCount]:
    return [pb.DifferenceClassCount(difference_class=k, count=n)
            for k, n in sorted(by_class.items())]


def _difference(x: Difference) -> pb.SettlementDifference:
    return pb.SettlementDifference(
        difference_id=x.diff_id, difference_class=x.cls, channel=x.channel, shop=x.shop,
        order_key=x.order_key, hub_ref=x.hub_ref, settle_day=x.settle_day,
        hub_cents=x.hub_cents, settled_cents=x.settled_cents, detail=x.detail,
        state=x.state, opened_at_ms=x.opened_at_ms, checked_day=x.checked_day,
        closed_at_ms=x.closed_at_ms or 0, closed_by=x.closed_by, reason=x.reason)

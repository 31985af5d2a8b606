"""SettlementService: statements in, converted at the edge; reservation/settlement
decides and stores."""

from __future__ import annotations

import grpc

from reservation.access import grant
from reservation.errors import InvalidArgument
from reservation.settlement import lines as sl
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

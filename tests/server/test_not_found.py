"""What is not there is NOT_FOUND, naming it, on every read and action that names one
object: a sale, an order, a reservation, a SKU, a review, a rule set version."""

from __future__ import annotations

import grpc
import pytest

from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc
from reservation.v1 import listing_service_pb2 as lpb
from reservation.v1 import listing_service_pb2_grpc as lgrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import reservation_service_pb2 as rpb
from tests.helpers.reservations import at

KEY = opb.OrderKey(channel="jd", shop="main", order_id="nosuch")

CALLS = {
    "GetFlashSale": (lambda s: s.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="nosuch"))),
    "StopFlashSale": (lambda s: s.admin.StopFlashSale(
        apb.StopFlashSaleRequest(sale_id="nosuch"))),
    "PauseFlashSale": (lambda s: s.admin.PauseFlashSale(
        apb.PauseFlashSaleRequest(sale_id="nosuch"))),
    "RescheduleFlashSale": (lambda s: s.admin.RescheduleFlashSale(
        apb.RescheduleFlashSaleRequest(sale_id="nosuch", ends_at=at(60_000)))),
    "RequeueDeadLetter": (lambda s: s.admin.RequeueDeadLetter(
        apb.RequeueDeadLetterRequest(channel="jd", order_id="nosuch"))),
    "GetReservation": (lambda s: s.rs.GetReservation(
        rpb.GetReservationRequest(channel="jd", order_id="nosuch"))),
    "Confirm": (lambda s: s.rs.Confirm(rpb.ConfirmRequest(channel="jd", order_id="nosuch"))),
    "Release": (lambda s: s.rs.Release(rpb.ReleaseRequest(channel="jd", order_id="nosuch"))),
    "GetStock": (lambda s: s.rs.GetStock(rpb.GetStockRequest(sku="NOSUCH"))),
    "GetOrder": (lambda s: ogrpc.OrderServiceStub(s.channel).GetOrder(
        opb.GetOrderRequest(key=KEY))),
    "GetOrderHistory": (lambda s: ogrpc.OrderServiceStub(s.channel).GetOrderHistory(
        opb.GetOrderHistoryRequest(key=KEY))),
    "ResolveReview": (lambda s: igrpc.InterceptionServiceStub(s.channel).ResolveReview(
        ipb.ResolveReviewRequest(key=KEY, decision="approve", operator="ann"))),
    "GetListingRules": (lambda s: lgrpc.ListingServiceStub(s.channel).GetListingRules(
        lpb.GetListingRulesRequest(version=99))),
}


@pytest.mark.parametrize("method", sorted(CALLS))
async def test_what_is_not_there_is_not_found(stubs, method):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await CALLS[method](stubs)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND, caught.value.details()
    named = "99" if method == "GetListingRules" else "nosuch"  # the version asked for
    assert named in (caught.value.details() or "").lower(), caught.value.details()

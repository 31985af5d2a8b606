"""NaN, infinities and over-deep nesting in routing requests: INVALID_ARGUMENT naming the
field (they were INTERNAL), and the rule set in force unchanged."""

from __future__ import annotations

import math

import grpc
import pytest
from google.protobuf import struct_pb2

from reservation.server.interceptors.requests import MAX_DEPTH
from reservation.v1 import routing_service_pb2 as rpb
from tests.helpers.errors import bad_request_fields
from tests.helpers.routing import RoutingStubs, put_seed_rules, route_request, struct


async def invalid(call) -> list[str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    return bad_request_fields(err.value)


async def version(rstubs: RoutingStubs) -> int:
    return (await rstubs.routing_admin.GetRoutingRules(rpb.GetRoutingRulesRequest())).rules.version


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
async def test_a_non_finite_weight_is_invalid_argument_naming_it(
        rstubs: RoutingStubs, value: float) -> None:
    before = await put_seed_rules(rstubs)
    doc = struct({"rules": [], "weights": {"distance": 1.0}})
    doc["weights"]["load"] = value
    assert await invalid(rstubs.routing_admin.PutRoutingRules(
        rpb.PutRoutingRulesRequest(document=doc))) == ["document.weights.load"]
    assert await version(rstubs) == before


async def test_a_non_finite_number_inside_a_rule_list_is_named_by_its_path(
        rstubs: RoutingStubs) -> None:
    doc = struct({"rules": [{"when": {"amount_above": 1}, "then": {"rush": True}}]})
    doc["rules"][0]["when"]["amount_above"] = math.nan
    assert await invalid(rstubs.routing.SimulateRouting(rpb.SimulateRoutingRequest(
        document=doc))) == ["document.rules[0].when.amount_above"]


def nested(depth: int) -> struct_pb2.Struct:
    root = struct_pb2.Struct()
    current = root
    for _ in range(depth):
        current = current.fields["n"].struct_value
    current.update({"leaf": 1})
    return root


async def test_a_document_nested_too_deep_is_invalid_argument(rstubs: RoutingStubs) -> None:
    before = await version(rstubs)
    fields = await invalid(rstubs.routing_admin.PutRoutingRules(
        rpb.PutRoutingRulesRequest(document=nested(MAX_DEPTH + 5))))
    assert fields and fields[0].startswith("document.n.n")
    assert await version(rstubs) == before


@pytest.mark.parametrize("attribute", ["amount", "promised_hours"])
async def test_a_non_finite_number_in_a_route_request_is_invalid_argument(
        rstubs: RoutingStubs, attribute: str) -> None:
    request = route_request("杭州", ("MILK-1", 1, "奶粉"), **{attribute: math.inf})
    assert await invalid(rstubs.routing.Route(request)) == [attribute]


async def test_a_document_deeper_than_protobuf_decodes_is_invalid_argument(
        rstubs: RoutingStubs) -> None:
    request = rpb.PutRoutingRulesRequest()
    current = request.document
    for _ in range(200):
        current = current.fields["n"].struct_value
    payload = request.SerializeToString()
    call = rstubs.channel.unary_unary("/reservation.v1.RoutingAdminService/PutRoutingRules",
                                      request_serializer=None, response_deserializer=None)
    assert await invalid(call(payload)) == ["request"]

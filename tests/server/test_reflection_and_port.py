"""Reflection answers under v1 and v1alpha, with the protos' comments; a taken port is
refused unless shared on purpose."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2

from reservation.server.app import App, ListenError, start_app
from tests.helpers.server import test_settings


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
async def test_reflection_lists_the_services(app: App, version: str) -> None:
    async with grpc.aio.insecure_channel(app.target) as channel:
        call = channel.stream_stream(
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)

        async def ask():  # type: ignore[no-untyped-def]
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        replies = [r async for r in call(ask())]
    names = {s.name for s in replies[0].list_services_response.service}
    assert {"reservation.v1.ReservationService", "reservation.v1.AdminService",
            "grpc.health.v1.Health"} <= names


async def _ask(app: App, version: str, request: reflection_pb2.ServerReflectionRequest
               ) -> reflection_pb2.ServerReflectionResponse:
    async with grpc.aio.insecure_channel(app.target) as channel:
        call = channel.stream_stream(
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)

        async def ask():  # type: ignore[no-untyped-def]
            yield request

        replies = [r async for r in call(ask())]
    assert len(replies) == 1
    return replies[0]


def _files(reply: reflection_pb2.ServerReflectionResponse
           ) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    protos = [descriptor_pb2.FileDescriptorProto.FromString(b)
              for b in reply.file_descriptor_response.file_descriptor_proto]
    return {p.name: p for p in protos}


def _leading_comment(proto: descriptor_pb2.FileDescriptorProto, path: list[int]) -> str:
    return next((loc.leading_comments for loc in proto.source_code_info.location
                 if list(loc.path) == path), "")


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
async def test_reflection_serves_a_methods_comment(app: App, version: str) -> None:
    """A generic client (grpcurl describe) asks for the file holding a method and finds
    the method's comment, and a field's, in the descriptor it is given."""
    reply = await _ask(app, version, reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="reservation.v1.ReservationService.Reserve"))
    files = _files(reply)
    proto = files["reservation/v1/reservation_service.proto"]
    service = next(i for i, s in enumerate(proto.service) if s.name == "ReservationService")
    method = next(i for i, m in enumerate(proto.service[service].method)
                  if m.name == "Reserve")
    # FileDescriptorProto.service = 6, ServiceDescriptorProto.method = 2.
    assert "Hold stock for an order" in _leading_comment(proto, [6, service, 2, method])
    # Imports come along, ours with their comments too (message_type = 4, field = 2).
    types = files["reservation/v1/types.proto"]
    line = next(i for i, m in enumerate(types.message_type) if m.name == "OrderLine")
    assert "RESERVATION_MAX_QUANTITY" in _leading_comment(types, [4, line, 2, 1])
    assert "google/protobuf/duration.proto" in files  # a well-known type, as before


async def test_reflection_by_file_name_has_comments_and_unknown_is_not_found(app: App) -> None:
    reply = await _ask(app, "v1", reflection_pb2.ServerReflectionRequest(
        file_by_filename="reservation/v1/order_service.proto"))
    proto = _files(reply)["reservation/v1/order_service.proto"]
    assert proto.source_code_info.location, "no source info served"
    missing = await _ask(app, "v1", reflection_pb2.ServerReflectionRequest(
        file_by_filename="reservation/v1/nosuch.proto"))
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


async def test_processes_asking_to_share_a_port_may(redis_url: str) -> None:
    first = await start_app(test_settings(redis_url, port=0, reuse_port=True),
                            background=False)
    try:
        second = await start_app(test_settings(redis_url, port=first.port, reuse_port=True),
                                 background=False)
        assert second.port == first.port
        await second.stop(grace=0)
    finally:
        await first.stop(grace=0)


async def test_a_taken_port_is_an_error(app: App, redis_url: str) -> None:
    with pytest.raises(ListenError, match="only --workers N shares a port"):
        await start_app(test_settings(redis_url, port=app.port), background=False)

"""Reflection answers under v1 and v1alpha; a taken port is refused unless shared on purpose."""

from __future__ import annotations

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2

from reservation.server.app import App, ListenError, start_app
from tests.conftest import test_settings


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

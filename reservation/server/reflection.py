"""Server reflection under both of its names.

grpcio-reflection implements only `grpc.reflection.v1alpha.ServerReflection`; grpcurl,
Postman and grpcui ask for `grpc.reflection.v1.ServerReflection` first. The two protocols
are the same messages with the same field numbers under another package, so the v1alpha
servicer answers v1 calls as they are: one servicer, registered under both names.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
V1ALPHA_SERVICE_NAME = reflection.SERVICE_NAME


def enable(server: grpc.aio.Server, service_names: Iterable[str]) -> None:
    # v1 is not in the descriptor pool (no generated code ships for it), so it is served
    # but not listed: listing it would invite a `describe` that cannot be answered.
    servicer = reflection.aio.ReflectionServicer((*service_names, V1ALPHA_SERVICE_NAME))
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
    for name in (V1ALPHA_SERVICE_NAME, V1_SERVICE_NAME):
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": handler}),))

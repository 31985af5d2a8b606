"""Server reflection under both of its names.

grpcio-reflection implements only `grpc.reflection.v1alpha.ServerReflection`; grpcurl,
Postman and grpcui ask for `grpc.reflection.v1.ServerReflection` first. The two protocols
are the same messages with the same field numbers under another package, so the v1alpha
servicer answers v1 calls as they are: one servicer, registered under both names.

Comments: grpcio-reflection answers with `FileDescriptor.CopyToProto`, which never copies
source info, and the generated `_pb2` modules carry none anyway; so a client asking for a
file would get no comments. `make proto` also writes `reservation/v1/descriptors.binpb`
(the same files with `--include_source_info`); the servicer below answers our own files
from it, comments included, and every other file (the well-known types) as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
V1ALPHA_SERVICE_NAME = reflection.SERVICE_NAME


@cache
def commented_files() -> dict[str, bytes]:
    """File name -> its FileDescriptorProto with source info, serialized, as protoc wrote
    it into reservation/v1/descriptors.binpb."""
    raw = resources.files("reservation.v1").joinpath("descriptors.binpb").read_bytes()
    return {f.name: f.SerializeToString()
            for f in descriptor_pb2.FileDescriptorSet.FromString(raw).file}


class CommentedReflectionServicer(reflection.aio.ReflectionServicer):  # type: ignore[misc]
    """grpcio-reflection's servicer, answering file requests with source info."""

    def __init__(self, service_names: Iterable[str]) -> None:
        super().__init__(service_names, pool=descriptor_pool.Default())
        self.pool = descriptor_pool.Default()

    def _file_by_filename(self, request: Any, filename: str) -> Any:
        try:
            return self._answer(self.pool.FindFileByName(filename), request)
        except KeyError:
            return _not_found(request)

    def _file_containing_symbol(self, request: Any, name: str) -> Any:
        try:
            return self._answer(self.pool.FindFileContainingSymbol(self._symbol(name)),
                                request)
        except KeyError:
            return _not_found(request)

    def _symbol(self, name: str) -> str:
        """The reflection protocol allows <package>.<service>.<method> as a symbol; the
        Python descriptor pool does not find methods, so a method is looked up by its
        service (when that service has it)."""
        service, _, method = name.rpartition(".")
        try:
            if method in self.pool.FindServiceByName(service).methods_by_name:
                return service
        except KeyError:
            pass
        return name

    @staticmethod
    def _answer(file: Any, request: Any) -> reflection_pb2.ServerReflectionResponse:
        """The file and every file it imports, ours with their comments."""
        seen: dict[str, Any] = {}
        todo = [file]
        while todo:
            f = todo.pop()
            if f.name not in seen:
                seen[f.name] = f
                todo.extend(f.dependencies)
        ours = commented_files()
        out = []
        for name, f in seen.items():
            if name in ours:
                out.append(ours[name])
            else:
                proto = descriptor_pb2.FileDescriptorProto()
                f.CopyToProto(proto)
                out.append(proto.SerializeToString())
        return reflection_pb2.ServerReflectionResponse(
            file_descriptor_response=reflection_pb2.FileDescriptorResponse(
                file_descriptor_proto=out),
            original_request=request)


def _not_found(request: Any) -> reflection_pb2.ServerReflectionResponse:
    code = grpc.StatusCode.NOT_FOUND.value
    return reflection_pb2.ServerReflectionResponse(
        error_response=reflection_pb2.ErrorResponse(error_code=code[0],
                                                    error_message=code[1]),
        original_request=request)


def enable(server: grpc.aio.Server, service_names: Iterable[str]) -> None:
    # v1 is not in the descriptor pool (no generated code ships for it), so it is served
    # but not listed: listing it would invite a `describe` that cannot be answered.
    servicer = CommentedReflectionServicer((*service_names, V1ALPHA_SERVICE_NAME))
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
    for name in (V1ALPHA_SERVICE_NAME, V1_SERVICE_NAME):
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": handler}),))

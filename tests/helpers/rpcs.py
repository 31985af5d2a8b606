"""Every RPC the service defines, found from the descriptors in reservation/v1 (so a new
service or method is covered the moment its generated code exists), and a raw caller."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

import reservation.v1


@dataclass(frozen=True)
class Rpc:
    descriptor: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.descriptor.containing_service.full_name}/{self.descriptor.name}"

    @property
    def service(self) -> str:
        return self.descriptor.containing_service.name

    @property
    def name(self) -> str:
        return self.descriptor.name

    @property
    def client_streaming(self) -> bool:
        return self.descriptor.client_streaming

    @property
    def server_streaming(self) -> bool:
        return self.descriptor.server_streaming

    def request(self) -> Message:
        return message_factory.GetMessageClass(self.descriptor.input_type)()

    def response_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.descriptor.output_type)


def all_rpcs() -> list[Rpc]:
    out = []
    for info in pkgutil.iter_modules(reservation.v1.__path__):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"reservation.v1.{info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            out += [Rpc(m) for m in service.methods]
    return sorted(out, key=lambda r: r.path)


async def call(channel: grpc.aio.Channel, rpc: Rpc, payloads: list[bytes],
               metadata: tuple[tuple[str, str], ...] = (),
               timeout: float = 10) -> tuple[grpc.StatusCode, list[bytes]]:
    """Send raw request bytes (one message, or each for a client stream); the final code
    and the raw responses."""
    kind = (("stream" if rpc.client_streaming else "unary") + "_"
            + ("stream" if rpc.server_streaming else "unary"))
    method = getattr(channel, kind)(rpc.path)
    code = grpc.StatusCode.INTERNAL
    for _ in range(3):
        request: bytes | Iterator[bytes] = (iter(payloads) if rpc.client_streaming
                                            else payloads[0])
        try:
            reply = method(request, metadata=metadata, timeout=timeout)
            if rpc.server_streaming:
                return grpc.StatusCode.OK, [item async for item in reply]
            return grpc.StatusCode.OK, [await reply]
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if not _lost_status(rpc, exc):
                return code, []
    return code, []


def _lost_status(rpc: Rpc, exc: grpc.aio.AioRpcError) -> bool:
    """grpc.aio's client replaces the server's status with INTERNAL when its write of a
    request message fails because the server already ended the call (a refusal before
    reading): grpc/grpc#36066, fix pending in grpc/grpc#43486 (its debug string names
    SendMessageOperation). The call is sent again; an INTERNAL the server itself sends
    is returned all the same, since it comes back each time."""
    return rpc.client_streaming and exc.code() == grpc.StatusCode.INTERNAL


REFUSED = (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
"""What a caller without the right gets."""


def scoped_request(rpc: Rpc, channel: str = "jd", group: str = "wms") -> Message:
    """The method's request naming `channel` and `group` wherever it has such a field."""
    req = rpc.request()
    fields = req.DESCRIPTOR.fields_by_name
    if "channel" in fields:
        req.channel = channel
    if "group" in fields:
        req.group = group
    if "requests" in fields and fields["requests"].message_type.name == "ReserveRequest":
        req.requests.add(channel=channel)  # type: ignore[attr-defined]
    if "request" in fields and fields["request"].message_type.name == "ReserveRequest":
        req.request.channel = channel  # type: ignore[attr-defined]
    if "orders" in fields and fields["orders"].message_type.name == "ChannelOrder":
        req.orders.add(channel=channel)  # type: ignore[attr-defined]
    if "key" in fields and fields["key"].message_type.name == "OrderKey":
        req.key.channel = channel  # type: ignore[attr-defined]
    return req

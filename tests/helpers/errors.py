"""How a refused call reads: the BadRequest field names of an INVALID_ARGUMENT."""

from __future__ import annotations

from collections.abc import Awaitable

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def bad_request_fields(exc: grpc.aio.AioRpcError) -> list[str]:
    """Field names from the google.rpc.BadRequest details of an INVALID_ARGUMENT."""
    status = rpc_status.from_call(exc)
    fields: list[str] = []
    for detail in status.details if status else []:
        br = error_details_pb2.BadRequest()
        if detail.Unpack(br):
            fields += [v.field for v in br.field_violations]
    return fields


async def refused(call: Awaitable[object]) -> tuple[list[str], str]:
    """An INVALID_ARGUMENT call's (BadRequest field names, details)."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        return bad_request_fields(exc), exc.details() or ""
    raise AssertionError("the call was not refused")

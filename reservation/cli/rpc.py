"""One RPC from the command line, the same way for every command group: connect with the
common options (target, TLS, token), say who the operator is, print the reply as JSON
(numbers as numbers, zeros shown) or an error on stderr with exit code 1."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import grpc

from reservation.api import connection
from reservation.cli import output
from reservation.cli.loop import run


def call(args: argparse.Namespace, stub: Callable[[grpc.aio.Channel], Any], method: str,
         request: Any, show: Callable[[Any], str] | None = None) -> int:
    """`stub` is a generated stub class; `show` renders the reply instead of JSON."""

    async def go() -> int:
        async with connection.aio_channel(args.target, connection.tls(args)) as channel:
            try:
                reply = await getattr(stub(channel), method)(
                    request, metadata=connection.bearer(args.token) + connection.operator())
            except grpc.aio.AioRpcError as exc:
                output.print_error(exc.code().name, exc.details() or "")
                return 1
        if show is not None:
            print(show(reply))
        else:
            output.print_reply(reply)
        return 0

    return run(go)

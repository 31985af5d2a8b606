"""`--dry-run` of the write commands: what would change, with nothing changed.

Where only the service can tell (a flash sale's overlaps and unknown SKUs, a rule
document), the command sends its request with `validate_only` and prints the answer.
Everywhere else the plan is built here from reads (the stock, the sale, the guard, the
order as they are now) and says what the command would do to them. Either way the
output is one JSON object on stdout:

    {"dry_run": true, "command": "sale stop", "would": {...}}

and a refusal the service would give (a sale that is not there) is printed as the
command itself prints it: `error: NOT_FOUND: ...` on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message

from reservation.api import connection
from reservation.cli import output
from reservation.cli.loop import run


def add_dry_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true",
                   help="say what would change and change nothing")


def render(command: str, would: Any) -> str:
    return json.dumps({"dry_run": True, "command": command, "would": would}, indent=2,
                      ensure_ascii=False)


def show(command: str) -> Callable[[Message], str]:
    """For rpc.call's `show`: a validate_only reply as the plan."""
    return lambda reply: render(command, output.to_dict(reply))


class Reads:
    """Read calls on one channel, with the command's credentials."""

    def __init__(self, channel: grpc.aio.Channel, args: argparse.Namespace) -> None:
        self.channel = channel
        self.metadata = connection.bearer(args.token) + connection.operator()

    async def __call__(self, stub: Callable[[grpc.aio.Channel], Any], method: str,
                       request: Message) -> Any:
        return await getattr(stub(self.channel), method)(request, metadata=self.metadata)


class Refused(Exception):
    """The command would be refused; the message says why (printed, exit 1)."""


def plan(args: argparse.Namespace, command: str,
         build: Callable[[Reads], Awaitable[Any]]) -> int:
    """Run `build` over the reads it needs and print what it returns as the plan."""

    async def go() -> int:
        async with connection.aio_channel(args.target, connection.tls(args)) as channel:
            try:
                would = await build(Reads(channel, args))
            except grpc.aio.AioRpcError as exc:
                output.print_error(exc.code().name, exc.details() or "")
                return 1
            except Refused as exc:
                output.print_error("FAILED_PRECONDITION", f"would be refused: {exc}")
                return 1
        print(render(command, would))
        return 0

    return run(go)

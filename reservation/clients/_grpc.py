"""What every client of the service shares: where it is, how to connect, how to say who
calls. The CLI, the WMS puller, reconcile and the channel adapters all take their
connection options from here, so a new option (TLS, a token source) is added once.
"""

from __future__ import annotations

import argparse
import getpass
import os

import grpc

DEFAULT_TARGET = "127.0.0.1:50051"
TOKEN_ENV = "RESERVATION_AUTH_TOKEN"

Metadata = tuple[tuple[str, str], ...]


def bearer(token: str | None) -> Metadata:
    """Call metadata carrying the bearer token; empty when there is none."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def operator() -> Metadata:
    """Who is calling, for the server's operator-action log: the login name."""
    try:
        return (("x-operator", getpass.getuser()),)
    except (KeyError, OSError):  # no login name (a container with an unknown uid)
        return ()


def add_connection_arguments(p: argparse.ArgumentParser) -> None:
    """--target and --token, with the same defaults in every command."""
    p.add_argument("--target", default=DEFAULT_TARGET,
                   help=f"service address (default {DEFAULT_TARGET})")
    p.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                   help=f"bearer token (default ${TOKEN_ENV})")


def channel(target: str) -> grpc.Channel:
    """A blocking channel to the service."""
    return grpc.insecure_channel(target)


def aio_channel(target: str) -> grpc.aio.Channel:
    """An asyncio channel to the service."""
    return grpc.aio.insecure_channel(target)

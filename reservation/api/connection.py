"""What every client of the service shares: where it is, how to connect, how to say who
calls. The CLI, the WMS puller, reconcile, the channel adapters and the benchmarks all
take their connection options from here, so a new option is added once.

TLS: `--tls-ca` (or RESERVATION_TLS_CA) trusts that CA for the server's certificate;
`--tls-cert`/`--tls-key` (RESERVATION_TLS_CLIENT_CERT / _KEY) present a client
certificate (mTLS); `--tls` alone uses the system's roots; `--tls-server-name` checks
the certificate for another name than the target's host (e.g. a Service behind a
port-forward). Without any of them the channel is plaintext.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

DEFAULT_TARGET = "127.0.0.1:50051"
TOKEN_ENV = "RESERVATION_AUTH_TOKEN"
TLS_ENV = {"ca": "RESERVATION_TLS_CA", "cert": "RESERVATION_TLS_CLIENT_CERT",
           "key": "RESERVATION_TLS_CLIENT_KEY", "server_name": "RESERVATION_TLS_SERVER_NAME"}

Metadata = tuple[tuple[str, str], ...]
Options = Sequence[tuple[str, Any]]


@dataclass(frozen=True)
class Tls:
    """Client TLS files (PEM paths); all None with `on`: the system's roots."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: str | None) -> bytes | None:
            return Path(path).read_bytes() if path else None
        if bool(self.cert) != bool(self.key):
            raise ValueError("--tls-cert and --tls-key go together")
        return grpc.ssl_channel_credentials(root_certificates=read(self.ca),
                                            private_key=read(self.key),
                                            certificate_chain=read(self.cert))

    def options(self) -> list[tuple[str, Any]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []


def bearer(token: str | None) -> Metadata:
    """Call metadata carrying the bearer token; empty when there is none."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def operator() -> Metadata:
    """Who is calling, for the server's operator-action log: the login name."""
    try:
        return (("x-operator", getpass.getuser()),)
    except (KeyError, OSError):  # no login name (a container with an unknown uid)
        return ()


TOKEN_ARGUMENT_WARNING = ("warning: --token is visible to other users in ps and stays in "
                          "shell history; use --token-file PATH (- for stdin) or "
                          f"${TOKEN_ENV}")


def read_token(path: str) -> str:
    """The token in the first line of `path` ("-": stdin), surrounding spaces dropped; a
    file of a Kubernetes secret or `pass show` output both work."""
    text = sys.stdin.readline() if path == "-" else Path(path).read_text()
    lines = text.strip().splitlines()
    if not lines or not lines[0].strip():
        raise ValueError("no token in it")
    return lines[0].strip()


class _TokenFile(argparse.Action):
    """--token-file: read at parse time, so a missing file is a usage error (exit 2)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        try:
            token = read_token(str(values))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            where = "stdin" if values == "-" else str(values)
            parser.error(f"--token-file {where}: {getattr(exc, 'strerror', None) or exc}")
        namespace.token = token


class _TokenArgument(argparse.Action):
    """--token still works (scripts use it) but says once why it should not be used."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(TOKEN_ARGUMENT_WARNING, file=sys.stderr)
        namespace.token = values


def add_connection_arguments(p: argparse.ArgumentParser) -> None:
    """--target, the token options and the TLS options, with the same defaults in every
    command. The token: --token-file PATH (- reads stdin), else RESERVATION_AUTH_TOKEN;
    --token on the command line works but warns (ps and shell history show it)."""
    p.add_argument("--target", default=DEFAULT_TARGET,
                   help=f"service address (default {DEFAULT_TARGET})")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token-file", action=_TokenFile, dest="token", metavar="PATH",
                       default=os.environ.get(TOKEN_ENV),
                       help="read the bearer token from the first line of PATH (- for "
                            f"stdin); default ${TOKEN_ENV}")
    token.add_argument("--token", action=_TokenArgument, dest="token", metavar="TOKEN",
                       default=os.environ.get(TOKEN_ENV),
                       help="the bearer token itself (warns: visible in ps and shell "
                            "history)")
    add_tls_arguments(p)


def add_tls_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tls", action="store_true",
                   help="TLS with the system's trusted roots (implied by --tls-ca/--tls-cert)")
    p.add_argument("--tls-ca", default=os.environ.get(TLS_ENV["ca"]),
                   help=f"PEM CA that signed the server's certificate (${TLS_ENV['ca']})")
    p.add_argument("--tls-cert", default=os.environ.get(TLS_ENV["cert"]),
                   help=f"PEM client certificate for mTLS (${TLS_ENV['cert']})")
    p.add_argument("--tls-key", default=os.environ.get(TLS_ENV["key"]),
                   help=f"PEM key of --tls-cert (${TLS_ENV['key']})")
    p.add_argument("--tls-server-name", default=os.environ.get(TLS_ENV["server_name"]),
                   help="name to check the server's certificate against, if not the "
                        f"target's host (${TLS_ENV['server_name']})")


def tls(args: argparse.Namespace) -> Tls | None:
    """The TLS settings of parsed arguments; None: plaintext."""
    if not (getattr(args, "tls", False) or getattr(args, "tls_ca", None)
            or getattr(args, "tls_cert", None)):
        return None
    return Tls(args.tls_ca, args.tls_cert, args.tls_key, args.tls_server_name)


def tls_from_env(env: dict[str, str] | None = None) -> Tls | None:
    """TLS from RESERVATION_TLS_* alone (for clients without a command line: locust)."""
    env = dict(os.environ if env is None else env)
    found = Tls(*(env.get(TLS_ENV[k]) or None for k in ("ca", "cert", "key", "server_name")))
    return found if (found.ca or found.cert) else None


def channel(target: str, tls: Tls | None = None, options: Options = ()) -> grpc.Channel:
    """A blocking channel to the service (TLS when `tls` is given)."""
    if tls is None:
        return grpc.insecure_channel(target, options=list(options))
    return grpc.secure_channel(target, tls.credentials(), options=[*options, *tls.options()])


def aio_channel(target: str, tls: Tls | None = None, options: Options = ()) -> grpc.aio.Channel:
    """An asyncio channel to the service (TLS when `tls` is given)."""
    if tls is None:
        return grpc.aio.insecure_channel(target, options=list(options))
    return grpc.aio.secure_channel(target, tls.credentials(),
                                   options=[*options, *tls.options()])

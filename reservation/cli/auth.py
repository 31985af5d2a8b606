"""Auth commands of the `reservation` CLI.

    reservation auth hash-token   the token_hash line of a principal in RESERVATION_AUTH_FILE
    reservation auth whoami       the principal and roles the server sees for your token
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from reservation.access import tokens
from reservation.api import connection
from reservation.cli.rpc import call
from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import admin_service_pb2_grpc as admin_grpc


def _hash_token(args: argparse.Namespace) -> int:
    if args.generate:
        token = tokens.new_token()
        print(f"token: {token}", file=sys.stderr)  # shown once; only the hash is kept
    else:
        token = sys.stdin.readline().rstrip("\r\n")
        if not token:
            print("reservation auth hash-token: no token on stdin (or use --generate)",
                  file=sys.stderr)
            return 2
    print(tokens.hash_token(token, args.scheme))
    return 0


def _whoami(args: argparse.Namespace) -> int:
    return call(args, admin_grpc.AdminServiceStub, "WhoAmI", admin_pb.WhoAmIRequest())


def add_commands(sub: Any) -> None:
    group = sub.add_parser("auth", help="principals for RESERVATION_AUTH_FILE")
    auth_sub = group.add_subparsers(dest="auth_command", required=True)
    p = auth_sub.add_parser(
        "hash-token", help="print the token_hash of a token read from stdin",
        description="Reads one token from stdin (not an argument: it would land in shell "
                    "history) and prints its hash for the auth file. --generate makes a "
                    "random token instead and prints it on stderr.")
    p.add_argument("--scheme", choices=("sha256", "scrypt"), default="sha256",
                   help="sha256 for random tokens (default), scrypt for chosen ones")
    p.add_argument("--generate", action="store_true", help="make a random token")
    p.set_defaults(func=_hash_token)
    p = auth_sub.add_parser(
        "whoami", help="the principal and roles the server sees for your token",
        description="Asks the server (AdminService.WhoAmI) whom the token names: a quick "
                    "check of a token file or of RESERVATION_AUTH_TOKEN.")
    connection.add_connection_arguments(p)
    p.set_defaults(func=_whoami)

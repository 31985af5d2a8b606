"""Auth commands of the `reservation` CLI.

    reservation auth hash-token   the token_hash line of a principal in RESERVATION_AUTH_FILE
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from reservation.access import tokens


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

"""`reservation-clients console`: serve the operators' web page for a running service."""

from __future__ import annotations

import argparse
import sys

from reservation.api import connection
from reservation.api.connection import DEFAULT_TARGET


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", default=DEFAULT_TARGET, help="service address")
    # TLS (and mTLS) to the service, as every client: a server with TLS on (prod is
    # mTLS-only) is reached with the console's own client certificate; the operators'
    # tokens still say who acts.
    connection.add_tls_arguments(p)
    p.add_argument("--host", default="127.0.0.1", help="address the page listens on")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--groups", default="wms", help="write-back groups whose lag is shown")
    p.add_argument("--https-cert", default=None, metavar="PEM",
                   help="serve the page over HTTPS with this certificate (chain); the "
                        "login cookie is then Secure")
    p.add_argument("--https-key", default=None, metavar="PEM", help="the key of --https-cert")


def run(a: argparse.Namespace) -> int:
    try:
        import uvicorn

        from reservation.clients.console.app import build_app
    except ImportError as exc:  # the console extra is not installed
        print(f"reservation-clients console: {exc.name} is missing: "
              "pip install './clients[console]'", file=sys.stderr)
        return 2
    if bool(a.https_cert) != bool(a.https_key):
        print("reservation-clients console: --https-cert and --https-key go together",
              file=sys.stderr)
        return 2
    groups = tuple(g.strip() for g in a.groups.split(",") if g.strip())
    scheme = "https" if a.https_cert else "http"
    print(f"console on {scheme}://{a.host}:{a.port}/ for the service at {a.target}",
          flush=True)
    # Behind a TLS-terminating proxy, uvicorn takes X-Forwarded-Proto from the addresses
    # in FORWARDED_ALLOW_IPS (default 127.0.0.1), so the cookie is Secure there as well.
    uvicorn.run(build_app(a.target, groups, connection.tls(a)), host=a.host, port=a.port,
                log_level="warning",
                ssl_certfile=a.https_cert, ssl_keyfile=a.https_key)
    return 0

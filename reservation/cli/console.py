"""`reservation console`: serve the operators' web page (reservation/clients/console/)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _console(a: argparse.Namespace) -> int:
    try:
        import uvicorn

        from reservation.clients.console.app import build_app
    except ImportError as exc:  # the console extra is not installed
        print(f"reservation console: {exc.name} is missing: pip install 'reservation[console]'",
              file=sys.stderr)
        return 2
    groups = tuple(g.strip() for g in a.groups.split(",") if g.strip())
    print(f"console on http://{a.host}:{a.port}/ for the service at {a.target}", flush=True)
    uvicorn.run(build_app(a.target, groups), host=a.host, port=a.port, log_level="warning")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("console", help="serve the live operators' page for a flash sale")
    p.add_argument("--target", default="127.0.0.1:50051", help="service address")
    p.add_argument("--host", default="127.0.0.1", help="address the page listens on")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--groups", default="wms", help="write-back groups whose lag is shown")
    p.set_defaults(func=_console)

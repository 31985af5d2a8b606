"""`reservation-clients refused`: the orders the adapters parked for a person, from their
SQLite file: refused by a mapping (a status the channel does not list), by the hub (a
move its state table forbids, lines that differ, a field it cannot take) or by the
channel on push, each with its reason. The poll went on past them; a person fixes the
cause (or the order at the channel) and the next change of the order syncs it again.

    reservation-clients refused --state adapters.db [--channel jd] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from reservation.clients.channels.store import AdapterStore


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state", default="adapters.db", help="the adapters' SQLite file")
    p.add_argument("--channel", default=None, help="only this channel's")
    p.add_argument("--json", action="store_true", help="one JSON object a line")


def run(args: argparse.Namespace) -> int:
    store = AdapterStore(args.state)
    try:
        parked = store.refused(args.channel)
    finally:
        store.close()
    for r in parked:
        if args.json:
            print(json.dumps({"channel": r.channel, "shop": r.shop, "order_id": r.order_id,
                              "error": r.error, "at_ms": r.at_ms, "raw": r.raw},
                             ensure_ascii=False, sort_keys=True))
        else:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.at_ms / 1000))
            print(f"{when}Z  {r.channel}/{r.shop}/{r.order_id}  {r.error}")
    if not args.json:
        print(f"{len(parked)} parked", file=sys.stderr)
    return 0

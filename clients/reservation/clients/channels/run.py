"""One channel adapter as a process: the shared poller (orders to SyncOrders) and the
push-back loop (tracking numbers to the channel), with their state in one SQLite file.

    reservation-clients adapter --channel taobao --shop main \\
        --target 127.0.0.1:50051 --state adapters.db

The channel's address and secrets come from CHANNEL_<NAME>_URL / _APP_KEY / _APP_SECRET,
the shop's token from CHANNEL_<NAME>_SHOPS_FILE or CHANNEL_<NAME>_SHOP_<SHOP>_ACCESS_TOKEN
(credentials.py).
Orders refused (by the mapping, the hub or the channel) are parked in the SQLite file,
listed by `reservation-clients refused`; the poll goes on past them.
Once a day (after --settle-at, China time) it also fetches the shop's settlement
statements of the last --settle-days days and imports them (settlement.py).
SIGTERM or SIGINT stops the loops after the step in progress. --until-idle polls once,
then pushes until the feed has been empty for --idle-s seconds, and exits (the demo).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence

from reservation.api import connection
from reservation.clients.channels import adapter as find_adapter
from reservation.clients.channels import settlement
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.poller import (
    DEFAULT_INTERVAL_S,
    DEFAULT_LOOKBACK_S,
    DEFAULT_OVERLAP_S,
    Poller,
)
from reservation.clients.channels.pushback import PushBack
from reservation.clients.channels.store import AdapterStore
from reservation.clients.channels.sync import GrpcSink


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel", required=True)
    p.add_argument("--shop", required=True)
    p.add_argument("--state", default="adapters.db", help="SQLite file (cursor, pushes)")
    p.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, help="seconds")
    p.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP_S, help="seconds")
    p.add_argument("--lookback", type=float, default=DEFAULT_LOOKBACK_S,
                   help="how far back the first poll reaches, seconds")
    p.add_argument("--rate", type=float, default=10.0, help="channel requests per second")
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--until-idle", action="store_true")
    p.add_argument("--idle-s", type=float, default=2.0)
    p.add_argument("--consumer", default="", help="feed consumer name (default channel-shop)")
    p.add_argument("--settle-at", default=settlement.DEFAULT_AT,
                   help="China time after which the day before's settlement statement is "
                        "fetched (HH:MM; 'off': not at all)")
    p.add_argument("--settle-days", type=int, default=settlement.DEFAULT_DAYS,
                   help="days back asked again each round (late and replaced files)")
    connection.add_connection_arguments(p)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="reservation-clients adapter", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run(p.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    adapter = find_adapter(args.channel)
    if args.settle_at != "off":
        try:
            settlement.due_days(0, args.settle_at)
        except ValueError:
            print(f"--settle-at: {args.settle_at!r} is not HH:MM (China time) or off",
                  file=sys.stderr)
            return 2
    api = ChannelApi.from_env(adapter.name, rate=args.rate, shop=args.shop)
    api.page_size = args.page_size
    store = AdapterStore(args.state)
    metadata = connection.bearer(args.token)
    with connection.channel(args.target, connection.tls(args)) as channel:
        sink = GrpcSink(channel, store, metadata)
        poller = Poller(adapter, api, args.shop, store, sink, interval_s=args.interval,
                        overlap_s=args.overlap, lookback_s=args.lookback)
        pushback = PushBack(adapter, api, channel, store,
                            args.consumer or f"{adapter.name}-{args.shop}", metadata,
                            wait_s=min(2.0, args.idle_s))
        if args.until_idle:
            poller.poll_once()
            idle_since = time.monotonic()
            while time.monotonic() - idle_since < args.idle_s:
                if pushback.step():
                    idle_since = time.monotonic()
            print(f"{adapter.name}: synced {sink.outcomes}, parked {sink.parked}, "
                  f"pushed {pushback.pushed}", flush=True)
            return 0
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        polling = threading.Thread(target=poller.run, args=(stop,), daemon=True)
        polling.start()
        settling = None
        if args.settle_at != "off":
            fetcher = settlement.StatementFetcher(api, args.shop, channel, metadata)
            settling = threading.Thread(target=fetcher.run, daemon=True, args=(
                stop, time.time, args.settle_at, args.settle_days))
            settling.start()
        pushback.run(stop=stop)
        # Let a poll (or a statement import) in progress finish before the channel closes.
        polling.join(timeout=60)
        if settling is not None:
            settling.join(timeout=60)
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`reservation-clients stock-sync`: one channel shop's stock-sync worker as a process.

    reservation-clients stock-sync --channel taobao --shop flagship \\
        --mapping taobao-flagship.csv --target 127.0.0.1:50051

The mapping table is a CSV `sku,item_id,sku_id` (the shop's items for the seller's SKU
codes). The service must list the worker's write-back group (listing-<channel>-<shop>
by default) in RESERVATION_WRITE_BACK_GROUPS. The channel's address and secrets come from
CHANNEL_<NAME>_URL / _APP_KEY / _APP_SECRET, as for the adapter. SIGTERM or SIGINT stops
both loops after the step in progress.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from reservation.api import connection
from reservation.clients.channels import adapter as find_adapter
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.stock import MappingFileError, load_mapping
from reservation.clients.stocksync.store import StockSyncStore
from reservation.clients.stocksync.worker import StockSync, group_name
from reservation.clients.wms.puller import Puller, default_consumer


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel", required=True)
    p.add_argument("--shop", required=True)
    p.add_argument("--mapping", required=True, help="CSV sku,item_id,sku_id of the shop")
    p.add_argument("--state", default="stocksync.db", help="SQLite file (dirty SKUs, told)")
    p.add_argument("--group", default="", help="write-back consumer group "
                   "(default listing-<channel>-<shop>)")
    p.add_argument("--consumer", default="", help="consumer name (default host-pid)")
    p.add_argument("--rate", type=float, default=10.0, help="channel calls per second")
    p.add_argument("--batch", type=int, default=100, help="SKUs asked and pushed per round")
    p.add_argument("--resync-every", type=float, default=600.0,
                   help="seconds between full resyncs (every mapped SKU checked)")
    p.add_argument("--wait", type=float, default=1.0, help="long-poll seconds of a pull")
    p.add_argument("--until-idle", action="store_true",
                   help="pull and push until nothing is left, then exit (tests, demos)")
    connection.add_connection_arguments(p)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    adapter = find_adapter(args.channel)
    if adapter.push_stock is None:
        print(f"stock-sync: {args.channel} has no listing to push stock to", file=sys.stderr)
        return 2
    try:
        mapping = load_mapping(args.mapping)
    except (OSError, MappingFileError) as exc:
        print(f"stock-sync: {exc}", file=sys.stderr)
        return 2
    api = ChannelApi.from_env(adapter.name, rate=args.rate, shop=args.shop)
    store = StockSyncStore(args.state)
    metadata = connection.bearer(args.token)
    try:
        with connection.channel(args.target, connection.tls(args)) as channel:
            sync = StockSync(adapter, api, args.shop, channel, store, mapping, metadata,
                             batch=args.batch, resync_every_s=args.resync_every)
            puller = Puller(channel, sync, args.consumer or default_consumer(),
                            args.group or group_name(adapter.name, args.shop),
                            wait_s=args.wait, token=args.token)
            if args.until_idle:
                return _until_idle(sync, puller)
            stop = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            pulling = threading.Thread(target=puller.run, kwargs={"stop": stop}, daemon=True)
            pulling.start()
            sync.run(stop)
            pulling.join(timeout=args.wait + 30)
    finally:
        store.close()
    return 0


def _until_idle(sync: StockSync, puller: Puller) -> int:
    while True:
        pulled = puller.step()
        while sync.step():
            pass
        if not pulled:
            c = sync.counts
            print(f"{sync.adapter.name}/{sync.shop}: pushed {c.pushed}, refused {c.refused}, "
                  f"drift {c.drift}, unchanged {c.unchanged}", flush=True)
            return 0

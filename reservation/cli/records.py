"""The records store's schema from the command line (RESERVATION_RECORDS_URL, or the
SQLite file beside the embedded Redis):

    reservation records migrate [--to REVISION]    up (or down) to a revision; default: newest
    reservation records migrate --sql              print the SQL of an upgrade, connect to nothing
    reservation records revision                   the store's revision and the newest one
    reservation records repair                     broken shards (stream cap trimmed past
                                                   the store's cursor) from what Redis holds

`reservation serve` migrates to the newest revision by itself; these are for doing it
first, by hand, or going back. `repair` needs the service's Redis (RESERVATION_REDIS_URL)
and runs beside a serving service.
"""

from __future__ import annotations

import argparse
from typing import Any

from reservation.settings import ConfigError, Settings

# Alembic and SQLAlchemy are imported by the commands that use them, not here: the
# `reservation` command imports every subcommand's module, and these two cost a second
# or more of every `reservation check` (a readiness probe runs it every few seconds).


def _url() -> str:
    url = Settings.from_env().records_database_url
    if not url:
        raise ConfigError("RESERVATION_RECORDS_URL is not set (and with "
                          "RESERVATION_REDIS_URL set there is no default store)")
    return url


def _migrate(args: argparse.Namespace) -> int:
    from alembic.util.exc import CommandError

    from reservation.records import migrate
    from reservation.records.database import engine_for

    url = _url()
    if args.sql:
        print(migrate.script(url, args.to or "head"), end="")
        return 0
    engine = engine_for(url)
    target = args.to or "head"
    try:
        before = migrate.current(engine)
        # Revisions are numbered in order (0001, 0002, ...): an older one is a way down.
        if target == "base" or (before is not None and target not in ("head", before)
                                and target < before):
            migrate.downgrade(engine, target)
        else:
            migrate.upgrade(engine, target)
        print(f"records store: {before or 'empty'} -> {migrate.current(engine) or 'empty'}")
    except CommandError as exc:
        raise ConfigError(f"--to {target}: {exc}") from None
    finally:
        engine.dispose()
    return 0


def _revision(args: argparse.Namespace) -> int:
    from reservation.records import migrate
    from reservation.records.database import engine_for

    engine = engine_for(_url())
    try:
        print(f"records store: {migrate.current(engine) or 'empty'} (newest: {migrate.head()})")
    finally:
        engine.dispose()
    return 0


def _repair(args: argparse.Namespace) -> int:
    import asyncio

    settings = Settings.from_env()
    redis_url = settings.redis_url
    if not redis_url:
        raise ConfigError("RESERVATION_REDIS_URL is not set: the repair reads the orders "
                          "the service's Redis holds")
    url = _url()
    for shard, written in asyncio.run(_repair_async(settings, redis_url, url)):
        print(f"shard {shard}: repaired, {written} orders written from Redis")
    print("records store: no shard is broken")
    return 0


async def _repair_async(settings: Settings, redis_url: str, url: str) -> list[tuple[int, int]]:
    from reservation.ordersync.hub import OrderHub
    from reservation.ordersync.routes import RoutingRouter
    from reservation.records.database import open_records
    from reservation.records.follower import Follower
    from reservation.records.store import Records
    from reservation.routing.service import Routing
    from reservation.storage.startup import open_store

    engine = open_records(url)
    store = await open_store(settings, redis_url)
    try:
        hub = OrderHub(store, settings, RoutingRouter(Routing(store, settings)))
        follower = Follower(hub, Records(engine))
        _, broken = await follower.standing()
        return [(shard, await follower.repair(shard)) for shard in broken]
    finally:
        await store.close()
        engine.dispose()


def add_commands(sub: Any) -> None:
    p = sub.add_parser("records", help="the records store's schema (migrations)")
    rsub = p.add_subparsers(dest="records_command", required=True)
    m = rsub.add_parser("migrate", help="migrate the records store (default: to the newest)")
    m.add_argument("--to", help="a revision (e.g. 0001), or 'base' to remove every table")
    m.add_argument("--sql", action="store_true",
                   help="print the SQL of the upgrade instead of running it")
    m.set_defaults(func=_migrate)
    r = rsub.add_parser("revision", help="the store's revision and the newest one")
    r.set_defaults(func=_revision)
    f = rsub.add_parser("repair", help="repair the shards whose stream's cap trimmed "
                                       "events the store had not applied")
    f.set_defaults(func=_repair)

"""The records store's schema from the command line (RESERVATION_RECORDS_URL, or the
SQLite file beside the embedded Redis):

    reservation records migrate [--to REVISION]    up (or down) to a revision; default: newest
    reservation records migrate --sql              print the SQL of an upgrade, connect to nothing
    reservation records revision                   the store's revision and the newest one
    reservation records repair                     broken shards (stream cap trimmed past
                                                   the store's cursor) from what Redis holds
    reservation records follow [--group I/N]       the records follower alone, until SIGTERM

`reservation serve` migrates to the newest revision by itself; these are for doing it
first, by hand, or going back. `repair` and `follow` need the service's Redis
(RESERVATION_REDIS_URL or its sentinels) and run beside a serving service; `follow` is
the follower `serve` runs unless RESERVATION_RECORDS_FOLLOWER=off, in a process of its own
(reservation/records/alone.py).
"""

from __future__ import annotations

import argparse
from typing import Any

from reservation.settings import ConfigError, Settings, parse_follower_group

# Alembic and SQLAlchemy are imported by the commands that use them, not here: the
# `reservation` command imports every subcommand's module, and these two cost a second
# or more of every `reservation check` (a readiness probe runs it every few seconds).


def _url(settings: Settings | None = None) -> str:
    url = (settings or Settings.from_env()).records_database_url
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


def _service_redis(settings: Settings, why: str) -> str:
    """The service's Redis (with sentinels: a label naming them); the embedded Redis of
    a `serve` is its own, so one must be configured."""
    if settings.redis_url:
        return settings.redis_url
    if settings.redis_sentinels:
        from reservation.server.app import sentinel_label

        return sentinel_label(settings)
    raise ConfigError(f"RESERVATION_REDIS_URL is not set: {why}")


def _repair(args: argparse.Namespace) -> int:
    import asyncio

    settings = Settings.from_env()
    redis_url = _service_redis(settings, "the repair reads the orders the service's "
                               "Redis holds")
    _url(settings)
    for shard, written in asyncio.run(_repair_async(settings, redis_url)):
        print(f"shard {shard}: repaired, {written} orders written from Redis")
    print("records store: no shard is broken")
    return 0


async def _repair_async(settings: Settings, redis_url: str) -> list[tuple[int, int]]:
    from reservation.records.alone import opened

    async with opened(settings, redis_url) as follower:
        _, broken = await follower.standing()
        return [(shard, await follower.repair(shard)) for shard in broken]


def _group(text: str) -> tuple[int, int]:
    try:
        return parse_follower_group(text)
    except ConfigError:
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N with 0 <= I < N "
                                         "(e.g. 0/2 and 1/2 for two followers)") from None


def _follow(args: argparse.Namespace) -> int:
    from reservation.cli.loop import run
    from reservation.logs import configure as configure_logging
    from reservation.records.alone import follow

    settings = Settings.from_env()
    redis_url = _service_redis(settings, "the follower reads the order event streams "
                               "of the service's Redis (a serve's embedded Redis is its own)")
    _url(settings)
    group = args.group or parse_follower_group(settings.records_follower_group)
    configure_logging(settings)
    return run(lambda: follow(settings, redis_url, group))


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
    w = rsub.add_parser("follow", help="run the records follower alone, until SIGTERM "
                                       "(beside serve with RESERVATION_RECORDS_FOLLOWER=off)")
    w.add_argument("--group", type=_group, metavar="I/N",
                   help="apply the shards s with s %% N == I (default: "
                        "RESERVATION_RECORDS_FOLLOWER_GROUP, else every shard)")
    w.set_defaults(func=_follow)

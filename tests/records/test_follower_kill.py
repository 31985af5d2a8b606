"""A `reservation serve` killed (SIGKILL) while its follower applies order events, and
started again: the records store ends with every event once and every order as the hub
answers it. Real processes, real Redis, SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reservation.records.database import engine_for
from reservation.records.store import Records
from tests.helpers.cli import start_serve, stop_serve
from tests.helpers.records import all_in_store, each_event_once, order_round

pytestmark = pytest.mark.slow  # real processes, killed and started again

ROUNDS = 3
PER_ROUND = 40


def test_killed_mid_stream_nothing_twice_nothing_missing(tmp_path: Path, redis_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    env = {"RESERVATION_REDIS_URL": redis_url, "RESERVATION_RECORDS_URL": url}
    ids: list[str] = []
    for r in range(ROUNDS):
        served = start_serve(tmp_path, **env)
        try:
            ids += asyncio.run(order_round(served.target, f"K{r}", PER_ROUND,
                                           "PENDING_PAYMENT", r == 0, close=True))
        finally:
            served.proc.kill()  # SIGKILL: wherever the follower is, it stops there
            served.proc.wait()
    served = start_serve(tmp_path, **env)
    engine = engine_for(url)
    try:
        asyncio.run(all_in_store(served.target, Records(engine), ids))
        each_event_once(engine)
    finally:
        engine.dispose()
        stop_serve(served)

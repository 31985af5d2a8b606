"""`serve --workers N` gives each worker its own group of the records follower's shards."""

from __future__ import annotations

import pytest

from reservation.cli.workers import child_env, serve_workers
from reservation.settings import ConfigError, Settings


def test_each_worker_follows_its_own_group_of_shards() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:6399/0", port=50051)
    groups = [child_env(settings, settings.redis_url, None, i, 3)
              ["RESERVATION_RECORDS_FOLLOWER_GROUP"] for i in range(3)]
    assert groups == ["0/3", "1/3", "2/3"]
    # Each worker reads its setting back as a group of its own.
    assert {Settings.from_env({"RESERVATION_RECORDS_FOLLOWER_GROUP": g})
            .records_follower_group for g in groups} == {"0/3", "1/3", "2/3"}


async def test_a_group_set_beside_workers_is_refused_before_anything_starts() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:6399/0", port=50051,
                        records_follower_group="1/2")
    with pytest.raises(ConfigError, match="RESERVATION_RECORDS_FOLLOWER_GROUP with --workers"):
        await serve_workers(settings, 2)

"""The server's follower applies the group of shards its setting names."""

from __future__ import annotations

import pytest

from reservation.server.app import start_app
from tests.helpers.records import follower_of
from tests.helpers.server import test_settings


@pytest.mark.parametrize(("group", "index", "groups"), [("0/1", 0, 1), ("1/3", 1, 3)])
async def test_the_follower_takes_the_shards_of_its_setting(
        redis_url: str, records_url: str, group: str, index: int, groups: int) -> None:
    settings = test_settings(redis_url, records_url=records_url,
                             records_follower_group=group)
    app = await start_app(settings, background=False)
    try:
        follower = follower_of(app)
        assert follower.group == (index, groups)
        assert follower.shards == [s for s in range(settings.shards) if s % groups == index]
    finally:
        await app.stop(grace=0)

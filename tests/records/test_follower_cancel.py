"""A cancelled records follower ends, even when the cancel lands where Python 3.11's
asyncio.wait_for loses it: redis-py sends every command inside wait_for (the socket
timeout), and when the send has just finished as the cancel arrives, 3.11's wait_for
returns the send's result instead of raising (CPython gh-86296, fixed in 3.12). The
follower would then go on renewing its lease for good. Real Redis, SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio.connection import Connection

from reservation.server.app import App
from reservation.storage.records import lease_key
from tests.helpers.records import follower_of

ENDS_WITHIN_S = 15.0
"""A follower still running this long after its cancel did not see it (its loop turns
at least once a second: the idle wait)."""


class _CancelOnSend:
    """Patches redis-py's send to cancel `task` once, from inside the send (what its
    wait_for waits on) of a command `task` itself sends, as the send finishes: the cancel
    then reaches wait_for with the send done, the point where 3.11 drops it."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.armed = False
        self.sent = 0

    def patch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        outer, inner = Connection.send_packed_command, Connection._send_packed_command
        senders: dict[int, asyncio.Task[Any] | None] = {}  # connection -> sending task

        async def send_packed_command(conn: Connection, *args: Any, **kw: Any) -> None:
            senders[id(conn)] = asyncio.current_task()
            await outer(conn, *args, **kw)

        async def send(conn: Connection, command: Any) -> None:
            await inner(conn, command)
            if (self.armed and not self.sent and self.task is not None
                    and senders.get(id(conn)) is self.task):
                self.sent += 1
                self.task.cancel()

        monkeypatch.setattr(Connection, "send_packed_command", send_packed_command)
        monkeypatch.setattr(Connection, "_send_packed_command", send)


@pytest.fixture
def cancel_on_send(monkeypatch: pytest.MonkeyPatch) -> Iterator[_CancelOnSend]:
    c = _CancelOnSend()
    c.patch(monkeypatch)
    yield c


async def test_one_cancel_ends_the_follower_even_when_a_send_swallows_it(
        quiet_app: App, cancel_on_send: _CancelOnSend) -> None:
    follower = follower_of(quiet_app)
    task = asyncio.create_task(follower.run())
    cancel_on_send.task = task
    client = quiet_app.store.client
    while not await client.exists(lease_key()):  # following: its lease taken
        await asyncio.sleep(0.01)
    cancel_on_send.armed = True
    await asyncio.wait([task], timeout=ENDS_WITHIN_S)
    assert cancel_on_send.sent == 1  # the cancel was sent, once, from inside a send
    ended = task.done()
    if not ended:  # leave nothing running past the test
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=1)
    assert ended, "one cancel did not end Follower.run"
    assert task.cancelled()

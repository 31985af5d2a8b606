"""`reservation wms dead-letters --replay ... --dry-run`: which of the named events are
dead letters that would be sent again, with nothing replayed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from reservation.v1 import write_back_service_pb2 as wpb
from tests.helpers.cli import cli_env
from tests.helpers.reservations import load
from tests.helpers.writeback import pull_request

pytestmark = pytest.mark.slow  # a CLI process


async def test_replay_dry_run_names_the_dead_letters_and_replays_nothing(app, stubs, wb):
    await load(stubs, ("apple", "sh", 10))
    for _ in range(4):  # three deliveries, then the dead letter
        await wb.PullBatch(pull_request(wait_ms=1000), timeout=10)
    [dead] = (await wb.ListWriteBackDeadLetters(wpb.ListWriteBackDeadLettersRequest())).events
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "reservation.cli", "wms", "dead-letters",
                         "--replay", dead.event_id, "0-0:nosuch", "--dry-run",
                         "--target", app.target],
        capture_output=True, text=True, env=cli_env(), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["would"]["replayed"] == [dead.event_id]
    assert plan["would"]["not_dead_lettered"] == ["0-0:nosuch"]
    left = await wb.ListWriteBackDeadLetters(wpb.ListWriteBackDeadLettersRequest())
    assert [e.event_id for e in left.events] == [dead.event_id]  # still there

"""`reservation dead-letters` drives the AdminService like an operator would."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reservation.v1 import types_pb2 as pb
from tests.helpers.reservations import (
    DEAD_LETTERED,
    get,
    line,
    load,
    order,
    reserve,
    wait_for_state,
)

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


async def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "reservation.cli", *args],
        capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("settings_overrides", [{"queue_deadline_ms": 300}])
async def test_operator_lists_and_requeues_a_dead_letter_from_the_cli(app, stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await reserve(stubs, order("q1", line("A"), allow_queue=True))
    await wait_for_state(stubs, "q1", DEAD_LETTERED)

    listed = await cli("dead-letters", "list", "--target", app.target)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["reservations"][0]["orderId"] == "q1"

    plan = await cli("dead-letters", "requeue", "jd", "q1", "--dry-run", "--target", app.target)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["would"]["state"][0] == "DEAD_LETTERED"
    assert (await get(stubs, "q1")).state == DEAD_LETTERED  # the dry run changed nothing

    requeued = await cli("dead-letters", "requeue", "jd", "q1", "--target", app.target)
    assert requeued.returncode == 0, requeued.stderr
    assert json.loads(requeued.stdout)["reservation"]["state"] == "RESERVATION_STATE_QUEUED"

    await wait_for_state(stubs, "q1", DEAD_LETTERED)  # the short deadline passes again
    rejected = await cli("dead-letters", "reject", "jd", "q1", "--target", app.target)
    assert rejected.returncode == 0, rejected.stderr
    assert (await get(stubs, "q1")).reject_reason == pb.REJECT_REASON_OPERATOR_REJECTED

    again = await cli("dead-letters", "reject", "jd", "q1", "--target", app.target)
    assert again.returncode == 1
    assert "FAILED_PRECONDITION" in again.stderr

"""Several WMS consumers: one group shares the work, separate groups each get everything."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reservation.v1 import write_back_service_pb2 as wpb
from tests.helpers.writeback import Traffic, pull_request, settled

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # A visibility timeout far beyond the test: any second delivery would be a bug.
    return {"write_back_visibility_timeout_ms": 600_000, "write_back_groups": "wms,audit"}


async def consume(wb, consumer: str, group: str, done: asyncio.Event) -> list[str]:
    """Pull and acknowledge small batches until traffic is done and a pull is empty."""
    seen: list[str] = []
    while True:
        finished = done.is_set()
        batch = await wb.PullBatch(pull_request(consumer, max_events=5, wait_ms=100,
                                                group=group), timeout=10)
        seen += [e.event_id for e in batch.events]
        if batch.events:
            await wb.AckBatch(wpb.AckBatchRequest(batch_id=batch.batch_id), timeout=10)
        elif finished:
            return seen


async def test_two_consumers_of_one_group_share_the_events_without_overlap(stubs, wb):
    traffic = Traffic(stubs)
    await traffic.load()
    done = asyncio.Event()
    consumers = [asyncio.ensure_future(consume(wb, name, "wms", done)) for name in ("a", "b")]
    for _ in range(10):
        await traffic.burst(20)
    await settled(stubs)  # every short hold has expired: no event comes after this
    done.set()
    a, b = await asyncio.gather(*consumers)
    audit = await consume(wb, "audit-1", "audit", done)

    assert a and b, "both consumers got work"
    assert not set(a) & set(b)
    assert len(a) + len(b) == len(set(a) | set(b)) == len(audit)
    assert set(a) | set(b) == set(audit)


async def test_each_group_receives_every_event(stubs, wb):
    traffic = Traffic(stubs, seed=3)
    await traffic.load()
    await traffic.burst(50)
    await settled(stubs)
    done = asyncio.Event()
    done.set()

    wms = await consume(wb, "w", "wms", done)
    audit = await consume(wb, "a", "audit", done)

    assert sorted(wms) == sorted(audit) and len(wms) >= 60

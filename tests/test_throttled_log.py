"""A warning that repeats while Redis is away is logged once, then once a minute with
how many were held back, and again at once after the outage ended."""

from __future__ import annotations

import logging

import pytest

from reservation import logs


def test_a_repeated_warning_is_told_once_a_minute(caplog: pytest.LogCaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(logs.time, "monotonic", lambda: now[0])
    log = logging.getLogger("test.throttled")
    outage = logs.Throttled(log, every_s=60)
    with caplog.at_level(logging.WARNING, logger="test.throttled"):
        for _ in range(30):  # every 2 s for a minute: once
            outage.warning("sweep skipped: %s", "redis unavailable")
            now[0] += 2
        outage.warning("sweep skipped: %s", "redis unavailable")  # a minute later
        outage.ok()
        outage.warning("sweep skipped: %s", "redis unavailable")  # a new outage
    assert [r.getMessage() for r in caplog.records] == [
        "sweep skipped: redis unavailable",
        "sweep skipped: redis unavailable (29 more like it since the last one)",
        "sweep skipped: redis unavailable"]

"""`reservation demo --quick`: the demo is a check, not a show: it exits non-zero when
oversold or the counter invariant fails, at the peak or at the end."""

from __future__ import annotations

import pytest

from tests.cli.helpers import cli

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow


def test_quick_demo_exits_0_and_checks_oversold_at_the_peak_and_the_end() -> None:
    done = cli("demo", "--orders", "300", "--quick", timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "peak check (right after reserving): counters consistent, oversold = 0" in done.stdout
    assert "oversold = 0, counters consistent" in done.stdout


def test_demo_refuses_a_run_too_small_to_sell_out() -> None:
    done = cli("demo", "--orders", "3")
    assert done.returncode == 2
    assert "--orders" in done.stderr

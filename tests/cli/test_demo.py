"""`reservation demo --quick`: the demo is a check, not a show: it exits non-zero when
oversold or the counter invariant fails, at the peak or at the end."""

from __future__ import annotations

import pytest
from rich.console import Console

from reservation.cli.demo import verdict
from tests.helpers.cli import cli


@pytest.mark.slow  # real processes: seconds per test (make test-fast leaves it out)
def test_quick_demo_exits_0_and_checks_oversold_at_the_peak_and_the_end() -> None:
    done = cli("demo", "--orders", "300", "--quick", timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "peak check (right after reserving): counters consistent, oversold = 0" in done.stdout
    assert "oversold = 0, counters consistent, at the peak and at the end" in done.stdout


@pytest.mark.parametrize(("peak_ok", "end_ok", "code", "line"), [
    (True, True, 0, "oversold = 0, counters consistent, at the peak and at the end"),
    (False, True, 1, "CHECK FAILED at the peak (see above)"),
    (True, False, 1, "CHECK FAILED at the end (see above)"),
    (False, False, 1, "CHECK FAILED at the peak and at the end (see above)"),
])
def test_the_last_line_and_the_exit_code_follow_both_checks(peak_ok, end_ok, code, line) -> None:
    # A peak check that failed while the end agrees again (the holds expired since) is a
    # failed run: red, named, exit 1; only both checks passing is green.
    console = Console(record=True, force_terminal=True, width=200)
    assert verdict(console, peak_ok, end_ok) == code
    text = console.export_text(styles=False, clear=False).strip()
    assert text == line
    styled = console.export_text(styles=True)
    assert ("\x1b[1;32m" in styled) == (code == 0) and ("\x1b[1;31m" in styled) == (code == 1)


@pytest.mark.slow
def test_demo_refuses_a_run_too_small_to_sell_out() -> None:
    done = cli("demo", "--orders", "3")
    assert done.returncode == 2
    assert "--orders" in done.stderr

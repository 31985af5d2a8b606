"""benchmarks/instructions.py's figures: the medians of runs taken apart, and the net count
(what the timers ran while idle, at the point's duration, taken off). The counting itself
runs the service under valgrind (minutes), so it is exercised by running the benchmark."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import instructions


def _run(tmp: Path, name: str, started: str, server: int, redis: int) -> Path:
    row = {"scenario": "flash", "point": "batch 8x100", "run": 1, "orders": 300,
           "reserved": 290, "seconds": 2.0, "server_gross_per_order": server + 10,
           "redis_gross_per_order": redis + 10, "server_idle_per_s": 1500,
           "redis_idle_per_s": 1500, "server_instructions_per_order": server,
           "redis_instructions_per_order": redis}
    path = tmp / f"{name}.json"
    path.write_text(json.dumps({"started": started, "rows": [row]}))
    return path


def test_merge_takes_the_median_of_each_figure_over_the_runs(tmp_path: Path) -> None:
    runs = [_run(tmp_path, f"r{i}", f"12:0{i}", s, r)
            for i, (s, r) in enumerate([(400, 500), (100, 700), (300, 600)], 1)]
    assert instructions.main(["merged", "--out", str(tmp_path), "--commit", "abc1234",
                              "--merge", *map(str, runs)]) == 0
    doc = json.loads((tmp_path / "merged.json").read_text())
    [m] = doc["medians"]
    assert (m["server"], m["server_median"]) == ([400, 100, 300], 300)
    assert (m["redis"], m["redis_median"]) == ([500, 700, 600], 600)
    assert m["server_gross_median"] == 310
    assert [row["run"] for row in doc["rows"]] == [1, 2, 3]
    assert doc["commit"] == "abc1234" and doc["started"] == "12:01, 12:02, 12:03"
    md = (tmp_path / "merged.md").read_text()
    assert "| flash | batch 8x100 | 300 (400, 100, 300) | 600 (500, 700, 600) | 310 | 610 |" in md
    assert doc["command"].startswith("python -m benchmarks.instructions merged --out ")
    assert not any(word.startswith("/") for word in doc["command"].split())  # no absolute path


async def test_net_takes_the_idle_rate_times_the_duration_off(monkeypatch) -> None:
    """A point of 300 orders that took 2 s, counted 3,000,000 instructions in the server,
    while the idle server ran 150,000 a second: 3,000,000 - 300,000 = 2,700,000 for the
    orders, 9,000 each."""
    counts = iter([3_000_000, 900_000, 150_000, 30_000])

    class Count:
        def on(self) -> None: ...

        def take(self) -> int:
            return next(counts)

    class Rig:
        server_count = redis_count = Count()

        class redis:
            url = "redis://127.0.0.1:1/0"

    async def nothing(*_: object) -> None: ...

    class Tally:
        errors, reserved = 0, 280

    clock = iter([100.0, 102.0, 200.0, 201.0])
    monkeypatch.setattr(instructions, "load", nothing)
    monkeypatch.setattr(instructions, "send", lambda *a: _tally(Tally()))
    monkeypatch.setattr(instructions, "clock", lambda: next(clock))
    monkeypatch.setattr(instructions, "pause", nothing)
    row = await instructions.point(Rig(), None, "flash", "batch x1", 300, 0, 1, 1.0)
    assert row["server_gross_per_order"] == 10_000
    assert row["server_idle_per_s"] == 150_000 and row["redis_idle_per_s"] == 30_000
    assert row["server_instructions_per_order"] == 9_000
    assert row["redis_instructions_per_order"] == 2_800  # (900,000 - 60,000) / 300


async def _tally(t: object) -> object:
    return t

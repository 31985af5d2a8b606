"""benchmarks.ogone_memory at a small size: every evicted order is one field of its
bucket, the buckets keep the encoding the listpack limit gives them, and a hashtable
field costs more than a listpack one (the benchmark's point); no absolute path written."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import ogone_memory
from reservation.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_steady_state_buckets_by_encoding(tmp_path: Path) -> None:
    out = tmp_path / "ogone"
    assert ogone_memory.main(["--per-day", "3000", "--listpack-entries", "128,0",
                              "--sample-shards", "1", "--runs", "1", "--commit", "abc1234",
                              "--out", str(out)]) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    listpack, hashtable = result["medians"]
    expected = len(ogone_memory.refs_in_sample(3000, Settings(), 1, seed=0))
    assert listpack["fields"] == hashtable["fields"] == expected > 0
    assert list(listpack["by_encoding"]) == ["listpack"]
    assert listpack["hashtable_bucket_share"] == 0
    assert list(hashtable["by_encoding"]) == ["hashtable"]
    assert hashtable["hashtable_bucket_share"] == 1
    assert (hashtable["by_encoding"]["hashtable"]["bytes_per_field"]
            > listpack["by_encoding"]["listpack"]["bytes_per_field"] > 0)
    assert 0 < listpack["bytes_per_order"] < hashtable["bytes_per_order"]
    assert result["settings"]["field_life_days"] == 83
    md = out.with_suffix(".md").read_text()
    assert "| 3,000 | 0 |" in md and "commit abc1234" in md
    assert str(ROOT) not in out.with_suffix(".json").read_text() + md

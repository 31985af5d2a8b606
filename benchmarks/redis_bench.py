"""The ceiling: redis-benchmark running the project's own reserve script, as EVALSHA (the
prepended script) and as FCALL (the Redis Function the service calls on Redis >= 7).

Same hot SKU and warehouses as the flash sale, but with stock that does not run out and
no buyer limit, so every call takes the full "hold" path (counters, hold record, expiry
index, write-back event). Unique order refs come from redis-benchmark's __rand_int__.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

from benchmarks.scenarios import HOT
from reservation.settings import Settings
from reservation.storage import keys, scripts


def reserve_command(settings: Settings, sha: str, fcall: bool = False) -> list[str]:
    shard = keys.shard_of(HOT, settings.shards)
    ref = "bench:__rand_int__"
    head = ["FCALL", scripts.function_name("reserve")] if fcall else ["EVALSHA", sha]
    return [*head, "3", keys.hold(shard, ref), keys.expiry(shard),
            keys.write_back(shard), keys.prefix(shard), str(3_600_000),
            str(settings.retention_ms), ref, "rid__rand_int__", "bench", "__rand_int__",
            "buyer", f"{HOT}|1|", "0", "0", "10000", "300000", "1", HOT, "1", ""]


def sha_of_reserve() -> str:
    import hashlib

    return hashlib.sha1(scripts.source("reserve").encode()).hexdigest()


def run(port: int, requests: int, clients: int, pipeline: int, fcall: bool = False) -> float:
    """Calls per second redis-benchmark reports (its own CSV)."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        raise RuntimeError("redis-benchmark not on PATH")
    cmd = [binary, "-h", "127.0.0.1", "-p", str(port), "-n", str(requests), "-c", str(clients),
           "-P", str(pipeline), "-r", "1000000000", "--csv",
           *reserve_command(Settings(), sha_of_reserve(), fcall)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    header, values = rows[0], rows[-1]
    return float(values[header.index("rps")])

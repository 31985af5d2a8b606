"""The private redis-server `reservation serve` starts when no RESERVATION_REDIS_URL is set:
what its durability rests on, read back from the running server.

A kill -9 test (tests/storage/test_restart.py) shows that acknowledged holds survive a
process crash with AOF; it cannot tell `appendfsync everysec` from `no` (the OS page cache
outlives the process either way) and says nothing about power loss. So the fsync policy is
checked here, on the server itself.
"""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from reservation.server.app import redis_for
from reservation.settings import Settings


async def test_embedded_redis_keeps_an_aof_fsynced_every_second(tmp_path: Path) -> None:
    async with redis_for(Settings(redis_url=None, data_dir=str(tmp_path))) as url, \
            aioredis.Redis.from_url(url, decode_responses=True) as r:
        config = await r.config_get("append*")
        assert (config["appendonly"], config["appendfsync"]) == ("yes", "everysec")
        await r.set("probe", "1")
    assert any((tmp_path / "redis").rglob("*.aof")), "no AOF file in the data dir"


async def test_a_killed_embedded_redis_is_restarted_with_its_data(tmp_path: Path) -> None:
    import asyncio
    import os
    import signal

    async with redis_for(Settings(redis_url=None, data_dir=str(tmp_path))) as url:
        async with aioredis.Redis.from_url(url, decode_responses=True) as r:
            await r.set("kept", "yes")
            await r.execute_command("CONFIG", "SET", "appendfsync", "always")
            await r.set("kept2", "yes")
            pid = int((await r.info("server"))["process_id"])
        os.kill(pid, signal.SIGKILL)
        async with aioredis.Redis.from_url(url, decode_responses=True) as r:
            for _ in range(100):  # the watcher checks every second
                try:
                    if await r.get("kept2") == "yes":
                        break
                except (ConnectionError, OSError, aioredis.ConnectionError):
                    pass
                await asyncio.sleep(0.1)
            assert await r.get("kept2") == "yes"
            assert int((await r.info("server"))["process_id"]) != pid


def test_serve_exits_1_when_its_redis_cannot_come_back(tmp_path: Path) -> None:
    """The private redis-server dies and its data directory is gone (a file stands in
    its place): three restarts fail, the server stops with exit code 1 and one line,
    instead of answering NOT_SERVING for ever."""
    import os
    import re
    import shutil
    import signal
    import subprocess
    import sys

    import redis

    repo = Path(__file__).resolve().parents[2]
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESERVATION_")}
    env.update(PYTHONPATH=str(repo), RESERVATION_DATA_DIR=str(data),
               RESERVATION_PORT="0", RESERVATION_LOG_LEVEL="INFO")
    proc = subprocess.Popen([sys.executable, "-m", "reservation.cli", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        port = None
        for line in proc.stderr:
            m = re.search(r"started private redis-server on redis://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
            if "serving on" in line:
                break
        assert port is not None, "the private redis-server did not start"
        with redis.Redis(port=port) as r:
            pid = int(r.info("server")["process_id"])
        shutil.rmtree(data / "redis")
        (data / "redis").write_text("not a directory")
        os.kill(pid, signal.SIGKILL)
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [ln for ln in rest.splitlines() if ln.strip()]
    assert proc.returncode == 1, rest[-3000:]
    assert "could not be restarted" in lines[-1]
    assert "Traceback" not in rest
    # An outage is told once, not several times a second.
    assert sum("redis unhealthy" in ln for ln in lines) <= 1, lines

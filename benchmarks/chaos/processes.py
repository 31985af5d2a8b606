"""The system under test, as real processes on 127.0.0.1: one redis-server with AOF
(appendfsync always), N `reservation serve` replicas sharing it, and the reference WMS
puller feeding a SQLite ledger. Each can be killed (SIGKILL), frozen (SIGSTOP) and
brought back on the same port and data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reservation.storage.redis_process import RedisProcess, free_port

# Short timings so expiry, queue deadlines and recovery all happen within a run.
SERVICE_ENV = {
    "RESERVATION_ORDER_LEASE_MS": "1500",
    "RESERVATION_DEFAULT_HOLD_TTL_MS": "3000",
    "RESERVATION_ORDER_HOLD_TTL_MS": "3000",
    "RESERVATION_SWEEP_INTERVAL_MS": "100",
    "RESERVATION_QUEUE_RETRY_INTERVAL_MS": "500",
    "RESERVATION_QUEUE_DEADLINE_MS": "3000",
    "RESERVATION_REDIS_TIMEOUT_MS": "700",
    "RESERVATION_GRACE_PERIOD_S": "0.5",
    "RESERVATION_WRITE_BACK_VISIBILITY_TIMEOUT_MS": "2000",
    "RESERVATION_WRITE_BACK_MAX_DELIVERIES": "1000",
    "RESERVATION_LOG_LEVEL": "WARNING",
}


def healthy(target: str, timeout: float = 1.0) -> bool:
    try:
        with grpc.insecure_channel(target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        return reply.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


@dataclass
class Child:
    """A child process we can kill -9, freeze and restart with the same command."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=out,
                                         stdin=subprocess.DEVNULL)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.running:
            os.kill(self.proc.pid, sig)  # type: ignore[union-attr]

    def kill9(self) -> None:
        if self.proc is not None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.running:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(10)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                self.kill9()


@dataclass
class System:
    workdir: Path
    replicas: int = 3
    redis: RedisProcess = field(init=False)
    services: list[Child] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    puller: Child | None = None
    ledger_url: str = ""

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.redis = RedisProcess(data_dir=self.workdir / "redis", appendonly=True,
                                  appendfsync="always")
        self.redis.data_dir.mkdir(parents=True, exist_ok=True)
        self.ledger_url = f"sqlite:///{self.workdir / 'wms.db'}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESERVATION_")}
        env.update(SERVICE_ENV)
        env["RESERVATION_REDIS_URL"] = self.redis.url
        env["RESERVATION_DATA_DIR"] = str(self.workdir / "data")
        # Run the replicas from another checkout (e.g. an older commit, to see the
        # checkers catch what it breaks); the runner and its checkers stay as they are.
        if os.environ.get("CHAOS_SERVICE_PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["CHAOS_SERVICE_PYTHONPATH"]
        return env

    def start(self) -> None:
        self.redis.start()
        for i in range(self.replicas):
            port = free_port()
            target = f"127.0.0.1:{port}"
            env = self._env() | {"RESERVATION_PORT": str(port)}
            child = Child(f"replica-{i}", [sys.executable, "-m", "reservation.cli", "serve"],
                          env, self.workdir / f"replica-{i}.log")
            self.services.append(child)
            self.targets.append(target)
            self.start_replica(i)
        self.puller = Child("puller", [
            sys.executable, "-m", "reservation.clients.wms.puller", "--target",
            self.targets[0], "--ledger", self.ledger_url, "--quiet", "--wait", "1",
            "--consumer", "chaos-puller"], self._env(), self.workdir / "puller.log")
        self.puller.start()

    def start_replica(self, i: int, bound_s: float = 180.0) -> None:
        """Start replica i and wait until it serves; it exits at start while Redis is
        down, so it is started again until it stays up."""
        deadline = time.monotonic() + bound_s
        while time.monotonic() < deadline:
            if not self.services[i].running:
                self.services[i].start()
            if healthy(self.targets[i]):
                return
            time.sleep(0.1)
        raise RuntimeError(f"replica {i} did not come up; see {self.services[i].log}")

    def ensure_up(self) -> None:
        """After the faults: Redis, every replica and the puller running, unfrozen."""
        self.redis_cont()
        if not self.redis.is_running:
            self.redis.start()
        for i, child in enumerate(self.services):
            child.signal(signal.SIGCONT)
            self.start_replica(i)
        if self.puller is not None and not self.puller.running:
            self.puller.start()

    def redis_signal(self, sig: signal.Signals) -> None:
        if self.redis.is_running and self.redis.pid is not None:
            os.kill(self.redis.pid, sig)

    def redis_cont(self) -> None:
        self.redis_signal(signal.SIGCONT)

    def stop(self) -> None:
        for child in [*self.services, *([self.puller] if self.puller else [])]:
            child.stop()
        self.redis_cont()
        self.redis.stop()

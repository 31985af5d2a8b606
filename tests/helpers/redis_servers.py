"""Private redis-server processes for tests: a single server, a local cluster and a
sentinel group (the fixtures redis_proc, redis_url, redis_cluster, redis_cluster_url and
redis_sentinel in tests/conftest.py start them).

Tests that need their own processes (crash/restart tests and the like) use
``start_redis``, ``LocalRedisCluster`` and ``LocalSentinelGroup`` directly.
Nothing here ever binds anything but 127.0.0.1 or touches port 6379.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Self

import redis
from redis.cluster import ClusterNode, RedisCluster

from reservation.storage.redis_process import (
    LOOPBACK,
    RedisProcess,
    find_redis_cli,
    find_redis_server,
    free_port,
)

# Redis Cluster nodes also listen on port + 10000 for the cluster bus.
CLUSTER_BUS_OFFSET = 10000
_SYSTEM_REDIS_PORTS = {6379, 6379 + CLUSTER_BUS_OFFSET}


def start_redis(tmp_dir: Path | str, **kwargs: Any) -> RedisProcess:
    """Start a redis-server with its data in ``tmp_dir``; the caller stops it.

    ``kwargs`` go to :class:`RedisProcess` (port, appendonly, appendfsync, ...).
    The result is also a context manager: ``with start_redis(d) as r: ...``.
    """
    return RedisProcess(data_dir=Path(tmp_dir), **kwargs).start()


def port_is_free(port: int) -> bool:
    """True if a TCP socket can currently be bound to 127.0.0.1:port."""
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_cluster_port(exclude: set[int] | frozenset[int] = frozenset()) -> int:
    """A free port whose cluster bus port (port + 10000) is free as well."""
    for _ in range(200):
        port = free_port()
        bus = port + CLUSTER_BUS_OFFSET
        taken = exclude | {p + CLUSTER_BUS_OFFSET for p in exclude} | _SYSTEM_REDIS_PORTS
        if bus <= 65535 and port not in taken and bus not in taken and port_is_free(bus):
            return port
    raise RuntimeError("could not find a free port pair for a redis cluster node")


class LocalRedisCluster:
    """N masters (and `replicas` replicas of each) joined into a Redis Cluster on loopback.

    Each node gets its own directory under ``base_dir``.  Use as a context
    manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        base_dir: Path | str,
        masters: int = 3,
        node_timeout_ms: int = 2000,
        binary: str | None = None,
        replicas: int = 0,
    ) -> None:
        if masters < 3:
            raise ValueError("redis-cli --cluster create needs at least 3 masters")
        self.base_dir = Path(base_dir)
        self.masters = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.binary = binary
        self.nodes: list[RedisProcess] = []

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def startup_nodes(self) -> list[ClusterNode]:
        return [ClusterNode(LOOPBACK, port) for port in self.ports]

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.ports[0]}"

    def client(self, **kwargs: Any) -> RedisCluster:
        """A ``RedisCluster`` client for this cluster (caller closes it)."""
        return RedisCluster(startup_nodes=self.startup_nodes, **kwargs)

    def start(self, timeout: float = 30.0) -> LocalRedisCluster:
        if self.nodes:
            raise RuntimeError("cluster already started")
        try:
            ports: set[int] = set()
            for i in range(self.masters * (1 + self.replicas)):
                port = free_cluster_port(exclude=ports)
                ports.add(port)
                node = RedisProcess(
                    data_dir=self.base_dir / f"node-{i}-{port}",
                    port=port,
                    appendonly=False,
                    binary=self.binary,
                    extra_config={
                        "cluster-enabled": "yes",
                        "cluster-config-file": "nodes.conf",  # relative to --dir
                        "cluster-node-timeout": str(self.node_timeout_ms),
                        "repl-diskless-sync-delay": "0",  # replicas sync at once
                    },
                )
                self.nodes.append(node)
                node.start()
            self._create(timeout)
            self._wait_for_state_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self, timeout: float) -> None:
        cmd = [find_redis_cli(), "--cluster", "create"]
        cmd += [f"{LOOPBACK}:{port}" for port in self.ports]
        cmd += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )

    def cluster_states(self) -> list[str]:
        """``cluster_state`` as reported by each node (``"ok"`` when healthy)."""
        states = []
        for node in self.nodes:
            with redis.Redis(host=LOOPBACK, port=node.port, decode_responses=True) as r:
                info = r.execute_command("CLUSTER INFO")
            if isinstance(info, dict):
                states.append(str(info.get("cluster_state")))
            else:  # raw "field:value\r\n" text
                fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
                states.append(fields.get("cluster_state", "?"))
        return states

    def replicas_online(self) -> bool:
        """Every master has its replicas in sync (state online)."""
        online = 0
        for node in self.nodes:
            with redis.Redis(host=LOOPBACK, port=node.port, decode_responses=True) as r:
                info = r.info("replication")
            online += sum(1 for k, v in info.items() if k.startswith("slave")
                          and isinstance(v, dict) and v.get("state") == "online")
        return online >= self.masters * self.replicas

    def _wait_for_state_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (states := self.cluster_states()) != ["ok"] * len(self.nodes) \
                or not self.replicas_online():
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster not ok after {timeout}s: {states}")
            time.sleep(0.05)

    def flushall(self) -> None:
        for node in self.nodes:
            with redis.Redis(host=LOOPBACK, port=node.port) as r:
                r.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.nodes = []

    def __enter__(self) -> Self:
        if not self.nodes:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class LocalSentinelGroup:
    """A primary, `replicas` replicas of it and `sentinels` Sentinel processes that
    watch them (quorum 2, a primary is down after `down_after_ms` without an answer),
    all on free loopback ports. Ready once every sentinel knows every replica and the
    other sentinels (they find each other through the primary), so a failover can be
    voted as soon as a test kills the primary.
    """

    def __init__(self, base_dir: Path | str, replicas: int = 1, sentinels: int = 3,
                 master: str = "mymaster", down_after_ms: int = 1000,
                 failover_timeout_ms: int = 10000) -> None:
        self.base_dir = Path(base_dir)
        self.replica_count = replicas
        self.sentinel_count = sentinels
        self.master = master
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.primary: RedisProcess | None = None
        self.replicas: list[RedisProcess] = []
        self.sentinel_ports: list[int] = []
        self._sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def sentinels(self) -> str:
        """RESERVATION_REDIS_SENTINELS for this group."""
        return ",".join(f"{LOOPBACK}:{port}" for port in self.sentinel_ports)

    def settings(self) -> dict[str, str]:
        """The service's settings for this group (no redis_url)."""
        return {"redis_sentinels": self.sentinels, "redis_sentinel_master": self.master}

    @property
    def nodes(self) -> list[RedisProcess]:
        return [p for p in (self.primary, *self.replicas) if p is not None]

    def start(self, timeout: float = 30.0) -> LocalSentinelGroup:
        try:
            # A replica syncs at once (Redis 7 waits 5 s for more replicas by default).
            quick = {"repl-diskless-sync-delay": "0"}
            self.primary = start_redis(self.base_dir / "primary", appendonly=False,
                                       extra_config=quick)
            for i in range(self.replica_count):
                self.replicas.append(start_redis(
                    self.base_dir / f"replica-{i}", appendonly=False,
                    extra_config={**quick, "replicaof": f"{LOOPBACK} {self.primary.port}"}))
            for i in range(self.sentinel_count):
                self._start_sentinel(i)
            self._wait_until_watching(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_sentinel(self, i: int) -> None:
        assert self.primary is not None
        port = free_port()
        directory = self.base_dir / f"sentinel-{i}"
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "sentinel.conf"  # Sentinel rewrites it: one file each
        conf.write_text("\n".join([
            f"port {port}", f"bind {LOOPBACK}", "daemonize no", f"dir {directory}",
            f"logfile {directory / 'sentinel.log'}",
            f"sentinel monitor {self.master} {LOOPBACK} {self.primary.port} 2",
            f"sentinel down-after-milliseconds {self.master} {self.down_after_ms}",
            f"sentinel failover-timeout {self.master} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {self.master} 1", ""]))
        with open(directory / "stdout.log", "ab") as out:
            self._sentinels.append(subprocess.Popen(
                [self.primary.binary or find_redis_server(), str(conf), "--sentinel"],
                stdout=out, stderr=out, stdin=subprocess.DEVNULL))
        self.sentinel_ports.append(port)

    def sentinel_client(self, i: int = 0) -> redis.Redis:
        return redis.Redis(host=LOOPBACK, port=self.sentinel_ports[i], decode_responses=True,
                           socket_timeout=2)

    def replicas_online(self) -> bool:
        """Every replica is in sync with the primary (state online)."""
        assert self.primary is not None
        with redis.Redis(host=LOOPBACK, port=self.primary.port, decode_responses=True) as r:
            info = r.info("replication")
        online = [k for k, v in info.items()
                  if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online"]
        return len(online) >= self.replica_count

    def _watching(self) -> bool:
        if not self.replicas_online():
            return False
        for i in range(len(self.sentinel_ports)):
            try:
                with self.sentinel_client(i) as s:
                    master = s.execute_command("SENTINEL", "MASTER", self.master)
                    replicas = s.execute_command("SENTINEL", "REPLICAS", self.master)
            except redis.RedisError:
                return False
            info = master if isinstance(master, dict) else dict(zip(master[::2], master[1::2]))
            others = int(info.get("num-other-sentinels", 0))
            if others < self.sentinel_count - 1 or len(replicas) < self.replica_count:
                return False
        return True

    def _wait_until_watching(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._watching():
            if time.monotonic() > deadline:
                raise TimeoutError(f"sentinels not watching {self.replica_count} replicas "
                                   f"and each other after {timeout}s")
            time.sleep(0.1)

    def primary_port(self) -> int:
        """The port of the primary the sentinels name now."""
        with self.sentinel_client() as s:
            _, port = s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master)
        return int(port)

    def wait_for_promotion(self, old_port: int, timeout: float = 60.0) -> int:
        """Block until the sentinels name another primary and it answers as one; its port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                port = self.primary_port()
                if port != old_port:
                    with redis.Redis(host=LOOPBACK, port=port, decode_responses=True,
                                     socket_timeout=2) as r:
                        if r.info("replication")["role"] == "master":
                            return port
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"no replica promoted within {timeout}s")

    def stop(self) -> None:
        for proc in self._sentinels:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._sentinels = []
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> Self:
        if self.primary is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

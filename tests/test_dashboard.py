"""The Grafana dashboard in k8s/monitoring asks only for metrics the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import reservation.server.metrics  # noqa: F401  (registers the metrics)

DASHBOARD = Path(__file__).resolve().parent.parent / "k8s" / "monitoring" / "grafana-dashboard.json"
_NAME = re.compile(r"\b((?:grpc_server|reservation)_[a-z_]+)")


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported() -> set[str]:
    """Every series name the registry can produce (labelled ones before first use too)."""
    return {family.name + suffix for family in REGISTRY.collect()
            for suffix in _SUFFIXES.get(family.type, ("",))}


def test_every_metric_the_dashboard_queries_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in _NAME.findall(target["expr"])}
    assert asked, "no queries found"
    missing = asked - exported()
    assert not missing, sorted(missing)

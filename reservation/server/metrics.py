"""Prometheus metrics: what they are, how they are served, and one process or many.

The gRPC server metrics use the names and labels of py-grpc-prometheus and
go-grpc-prometheus (grpc_server_started_total, grpc_server_handled_total,
grpc_server_handling_seconds; labels grpc_type, grpc_service, grpc_method, grpc_code), so
existing dashboards and alerts work unchanged. The rest is the service's own, prefixed
`reservation_`.

Recording is on when RESERVATION_METRICS_PORT is set, or when PROMETHEUS_MULTIPROC_DIR is
(a worker of `reservation serve --workers N`: the parent sets it and serves one /metrics
for all workers from the files there; prometheus-client's multiprocess mode). Gauges
sampled from Redis (queue depth, write-back lag, hot-SKU stock) are the same in every
worker, so a scrape shows the most recent sample of any of them.

Cardinality is bounded: methods are the service's own; channels beyond MAX_CHANNELS
distinct ones are counted as "other"; hot-SKU gauges cover at most HOT_SKUS SKUs.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_CHANNELS = 32
"""Distinct channel labels kept; callers choose channel names, so the rest is "other"."""
HOT_SKUS = 20
"""Most SKUs with stock gauges (the SKUs of running flash sales, first ones first)."""
SAMPLE_PERIOD_S = 15.0
"""How often a serving process samples Redis for the gauges."""

# Latency buckets from 0.5 ms to 10 s: a reserve is ~1-50 ms, a long-poll up to 30 s.
_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

_GRPC = ("grpc_type", "grpc_service", "grpc_method")

grpc_started = Counter("grpc_server_started_total",
                       "RPCs started on the server.", _GRPC)
grpc_handled = Counter("grpc_server_handled_total",
                       "RPCs completed on the server, whatever their status.",
                       (*_GRPC, "grpc_code"))
grpc_seconds = Histogram("grpc_server_handling_seconds",
                         "Time from receiving an RPC to its last response.", _GRPC,
                         buckets=_LATENCY)

reserve_outcomes = Counter("reservation_reserve_outcomes_total",
                           "Orders answered, by channel, state and reject reason.",
                           ("channel", "state", "reason"))
order_sync_outcomes = Counter("reservation_order_sync_outcomes_total",
                              "Orders answered by SyncOrders/SyncOrderStream, by channel and "
                              "outcome; a refused one with its code (what an adapter parks).",
                              ("channel", "outcome", "code"))
redis_pipeline_seconds = Histogram("reservation_redis_pipeline_seconds",
                                   "Round trip of one coalesced Redis pipeline.",
                                   buckets=_LATENCY)
redis_pipeline_calls = Histogram("reservation_redis_pipeline_calls",
                                 "Callers served by one coalesced pipeline (batching).",
                                 buckets=_SIZES)
redis_pipeline_commands = Histogram("reservation_redis_pipeline_commands",
                                    "Redis commands in one pipeline, after folding reserves "
                                    "into reserve_many.", buckets=_SIZES)

# Stock out to the channels (ListingService.ReportListingPushes, from the stock-sync
# workers): from a stock change to the channel holding the new quantity.
_PUSH_LAG = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
listing_push_lag = Histogram("reservation_listing_push_lag_seconds",
                             "From a stock change to its channel listing holding the new "
                             "quantity, per channel.", ("channel",), buckets=_PUSH_LAG)
listing_drift = Counter("reservation_listing_drift_total",
                        "Listings a full resync found different from what they were told.",
                        ("channel",))
listing_refused = Counter("reservation_listing_pushes_refused_total",
                          "Stock pushes a channel refused after the worker's retries.",
                          ("channel", "reason"))
listing_dynamic_closes = Counter(
    "reservation_listing_dynamic_closes_total",
    "Listings a rule's dynamic safety closed: the SKU sold so fast that what the hub has "
    "not seen yet could take all that is left.", ("channel",))
listing_unmapped = Counter("reservation_listing_unmapped_total",
                           "Changed SKUs with no item on a shop (no mapping row).",
                           ("channel",))
auth_failures = Counter("reservation_auth_failures_total",
                        "Calls refused by authentication or authorisation, by reason: missing, "
                        "malformed, duplicate_header, unknown_token, permission_denied; "
                        "peer_limited (the peer's failure budget was spent: refused unchecked) "
                        "and busy (too many token verifications waiting).", ("reason",))

_SAMPLED: dict[str, Any] = {"multiprocess_mode": "mostrecent"}
queue_depth = Gauge("reservation_queue_depth", "Orders waiting in the overflow queues.",
                    **_SAMPLED)
dead_letters = Gauge("reservation_dead_letters", "Dead-lettered orders awaiting an operator.",
                     **_SAMPLED)
write_back_pending = Gauge("reservation_write_back_pending",
                           "Write-back events delivered and not acknowledged.", ("group",),
                           **_SAMPLED)
write_back_undelivered = Gauge("reservation_write_back_undelivered",
                               "Write-back events not yet delivered to the group.", ("group",),
                               **_SAMPLED)
write_back_oldest_age = Gauge("reservation_write_back_oldest_age_seconds",
                              "Age of the oldest unacknowledged write-back event.", ("group",),
                              **_SAMPLED)
write_back_dead_letters = Gauge("reservation_write_back_dead_letters",
                                "Write-back dead letters waiting for a replay.", ("group",),
                                **_SAMPLED)
order_events_pending = Gauge("reservation_order_events_pending",
                             "Order events delivered to the group and not acknowledged.",
                             ("group",), **_SAMPLED)
order_events_undelivered = Gauge("reservation_order_events_undelivered",
                                 "Order events not yet delivered to the group (audit, "
                                 "feed-<channel>).", ("group",), **_SAMPLED)
order_events_oldest_age = Gauge("reservation_order_events_oldest_age_seconds",
                                "Age of the oldest order event the group has not "
                                "acknowledged (group records: not yet applied to the "
                                "records store).", ("group",), **_SAMPLED)
stream_group_broken = Gauge("reservation_stream_group_broken",
                            "Shards whose stream (write_back, order_events) lost entries the "
                            "group had not acknowledged (group records: not applied) to the "
                            "stream's cap: bootstrap (records: `reservation records "
                            "repair`) repairs it.", ("stream", "group"), **_SAMPLED)
stream_group_idle = Gauge("reservation_stream_group_idle_seconds",
                          "Time since a consumer last pulled the group (since the service "
                          "created it, if none ever did).", ("stream", "group"), **_SAMPLED)
serving = Gauge("reservation_serving",
                "1 while this process answers SERVING (Redis reachable, routing kernel "
                "ready), 0 while NOT_SERVING.", multiprocess_mode="livemin")
hot_sku_stock = Gauge("reservation_hot_sku_stock",
                      "Counters of the SKUs in running flash sales (at most HOT_SKUS).",
                      ("sku", "warehouse", "counter"), **_SAMPLED)
hot_sku_queue = Gauge("reservation_hot_sku_queue_depth",
                      "Queue depth of the SKUs in running flash sales.", ("sku",), **_SAMPLED)
overdue_orders = Gauge("reservation_overdue_orders",
                       "Open orders past their overdue threshold (RESERVATION_ORDER_OVERDUE) "
                       "at a node (paid, printed, shipped, ...) on a channel, as of the last "
                       "evaluation.", ("node", "channel"), **_SAMPLED)
breaker_open = Gauge("reservation_breaker_open",
                     "1 while a SKU's circuit breaker is OPEN for a channel (orders there "
                     "are rejected CHANNEL_PAUSED), 0 once it closed.", ("sku", "channel"),
                     **_SAMPLED)

_channels: set[str] = set()
_channels_lock = threading.Lock()


def channel_label(channel: str) -> str:
    """The channel itself for the first MAX_CHANNELS distinct ones, then "other"."""
    if channel in _channels:
        return channel
    with _channels_lock:
        if len(_channels) < MAX_CHANNELS:
            _channels.add(channel)
            return channel
    return "other"


def enabled(metrics_port: int) -> bool:
    """Record metrics in this process?"""
    return metrics_port != 0 or bool(os.environ.get(MULTIPROC_ENV))


def registry(path: str | None = None) -> CollectorRegistry:
    """What /metrics shows: this process, or every worker's files in multiprocess mode."""
    path = path or os.environ.get(MULTIPROC_ENV)
    if not path:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected, path=path)
    return collected


def serve(host: str, port: int, path: str | None = None) -> tuple[Any, int]:
    """Start the /metrics HTTP endpoint in a thread; returns (server, bound port).
    `path`: the workers' multiprocess directory, when the parent serves for them."""
    server, _thread = start_http_server(port, addr=host, registry=registry(path))
    return server, int(server.server_port)


class Recorder:
    """What the servicers and the store call per order and per pipeline. Off (the
    default) costs one attribute test; `enable()` is called once at start."""

    def __init__(self) -> None:
        self.on = False
        self._outcomes: dict[tuple[str, str, str], Any] = {}

    def outcome(self, channel: str, state: str, reason: str) -> None:
        if not self.on:
            return
        key = (channel_label(channel), state, reason)
        child = self._outcomes.get(key)
        if child is None:
            child = self._outcomes[key] = reserve_outcomes.labels(*key)
        child.inc()

    def order_sync(self, channel: str, outcome: str, code: str) -> None:
        """One order's SyncOrders answer (code: a refused order's status code)."""
        if self.on:
            order_sync_outcomes.labels(channel_label(channel), outcome, code).inc()

    @staticmethod
    def listing_report(report: Any) -> None:
        """A stock-sync worker's report (listings.service.Report)."""
        channel = channel_label(report.channel)
        for lag in report.lags_s:
            listing_push_lag.labels(channel).observe(lag)
        if report.drift:
            listing_drift.labels(channel).inc(report.drift)
        if report.unmapped:
            listing_unmapped.labels(channel).inc(report.unmapped)
        for reason, n in report.refused.items():
            listing_refused.labels(channel, reason[:64]).inc(n)

    @staticmethod
    def listing_closed(sku: str, channel: str) -> None:
        """A listing closed by its rule's dynamic safety (listings.service)."""
        listing_dynamic_closes.labels(channel_label(channel)).inc()

    @staticmethod
    def pipeline(calls: int, commands: int, seconds: float) -> None:
        redis_pipeline_seconds.observe(seconds)
        redis_pipeline_calls.observe(calls)
        redis_pipeline_commands.observe(commands)


recorder = Recorder()

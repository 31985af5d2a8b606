"""Wiring: Redis client, domain objects, gRPC server, health, reflection, background work."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sqlalchemy import Engine

from reservation.access.limits import InFlightCap
from reservation.access.principals import Directory, PrincipalFile, PrincipalFileError, development
from reservation.access.verify import Verifier
from reservation.errors import StartupError, Unavailable
from reservation.guard import Guard
from reservation.interception.service import Interception
from reservation.listings.service import Listings
from reservation.logs import Throttled
from reservation.ordersync.hub import OrderHub
from reservation.ordersync.overdue import OverdueWatch
from reservation.ordersync.routes import RoutingRouter
from reservation.queueing.dead_letters import DeadLetters
from reservation.queueing.sweeper import Sweeper
from reservation.records.database import open_records
from reservation.records.eviction import Evictor
from reservation.records.follower import Follower
from reservation.records.reads import OrderReads
from reservation.records.store import Records
from reservation.reserving.recovery import Recovery
from reservation.reserving.reservations import Reservations
from reservation.routing import kernel
from reservation.routing.service import Routing
from reservation.server import metrics, reflection, tracing
from reservation.server.gauges import GaugeSampler, active_sale_skus
from reservation.server.interceptors.auth import Auth, count_failure
from reservation.server.interceptors.edge import Edge
from reservation.server.interceptors.limits import CallerLimits
from reservation.server.servicers.admin import AdminServicer
from reservation.server.servicers.guard import GuardServicer
from reservation.server.servicers.interception import InterceptionServicer
from reservation.server.servicers.listings import ListingServicer
from reservation.server.servicers.orders import OrderServicer
from reservation.server.servicers.reservation import ReservationServicer
from reservation.server.servicers.routing import RoutingAdminServicer, RoutingServicer
from reservation.server.servicers.settlement import SettlementServicer
from reservation.server.servicers.write_back import WriteBackServicer
from reservation.server.tls import CertificateFiles, server_files
from reservation.settings import Settings, parse_follower_group
from reservation.settlement.service import Settlement
from reservation.stock.levels import Inventory
from reservation.stock.sales import Sales
from reservation.storage.redis_process import RedisProcess
from reservation.storage.startup import open_store
from reservation.storage.store import Store
from reservation.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    guard_service_pb2,
    guard_service_pb2_grpc,
    interception_service_pb2,
    interception_service_pb2_grpc,
    listing_service_pb2,
    listing_service_pb2_grpc,
    order_service_pb2,
    order_service_pb2_grpc,
    reservation_service_pb2,
    reservation_service_pb2_grpc,
    routing_service_pb2,
    routing_service_pb2_grpc,
    settlement_service_pb2,
    settlement_service_pb2_grpc,
    write_back_service_pb2,
    write_back_service_pb2_grpc,
)
from reservation.writeback import WriteBack
from reservation.writeback.reconcile import Reconciler

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    reservation_service_pb2.DESCRIPTOR.services_by_name["ReservationService"].full_name,
    admin_service_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,
    write_back_service_pb2.DESCRIPTOR.services_by_name["WriteBackService"].full_name,
    order_service_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name,
    interception_service_pb2.DESCRIPTOR.services_by_name["InterceptionService"].full_name,
    routing_service_pb2.DESCRIPTOR.services_by_name["RoutingService"].full_name,
    routing_service_pb2.DESCRIPTOR.services_by_name["RoutingAdminService"].full_name,
    guard_service_pb2.DESCRIPTOR.services_by_name["GuardService"].full_name,
    listing_service_pb2.DESCRIPTOR.services_by_name["ListingService"].full_name,
    settlement_service_pb2.DESCRIPTOR.services_by_name["SettlementService"].full_name,
)
HEALTH_PERIOD_S = 2.0
# Health name for liveness probes: SERVING while the process runs, whatever Redis does,
# so a Redis outage takes replicas out of rotation (readiness) without restarting them.
LIVENESS = "liveness"


@dataclass
class App:
    """A running service: what tests, the demo and `reservation serve` hold on to."""

    settings: Settings
    store: Store
    reservations: Reservations
    sales: Sales
    inventory: Inventory
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    sweeper: Sweeper
    recovery: Recovery | None = None
    guard: Guard | None = None
    metrics_port: int = 0
    """Where /metrics is served by this process (0: not here)."""
    orders: OrderHub | None = None
    """The order hub behind OrderService."""
    overdue: OverdueWatch | None = None
    """The overdue evaluation (ListOverdueOrders, the overdue gauge)."""
    tls: CertificateFiles | None = None
    """The TLS files in use (None: plaintext)."""
    records: Engine | None = None
    """The orders of record (None: no records store configured)."""
    follower: Follower | None = None
    """Keeps the records store from the order event streams (with `records`)."""
    health_port: int = 0
    """The plaintext health-only port (0: none)."""
    _health_server: grpc.aio.Server | None = None
    _metrics_server: Any = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"{self.settings.host}:{self.port}"

    async def set_serving(self, serving: bool) -> None:
        status = (health_pb2.HealthCheckResponse.SERVING if serving
                  else health_pb2.HealthCheckResponse.NOT_SERVING)
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, status)
        if metrics.recorder.on:
            metrics.serving.set(1 if serving else 0)

    async def _watch_health(self) -> None:
        """Health follows Redis: a script round trip every few seconds."""
        outage, healthy = Throttled(log), True  # an outage is told once a minute
        while True:
            try:
                await self.store.health()
                if not healthy:
                    log.warning("redis healthy again: SERVING")
                healthy = True
                outage.ok()
                await self.set_serving(True)
            except Unavailable as exc:
                healthy = False
                outage.warning("redis unhealthy: %s", exc)
                await self.set_serving(False)
            await asyncio.sleep(HEALTH_PERIOD_S)

    async def stop(self, grace: float | None = None) -> None:
        """Health goes NOT_SERVING first, so balancers drain us, then calls finish."""
        await self.set_serving(False)
        await self.health.set(LIVENESS, health_pb2.HealthCheckResponse.NOT_SERVING)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Wait for them to unwind (their finally blocks close what they hold), but
            # never longer than the grace period: a stuck task must not stall shutdown.
            await asyncio.wait(self._tasks, timeout=max(1.0, self.settings.grace_period_s))
        await self.sweeper.stop()
        if self.recovery is not None:
            await self.recovery.stop()
        await self.server.stop(self.settings.grace_period_s if grace is None else grace)
        if self._health_server is not None:
            await self._health_server.stop(0)
        await self.store.close()
        if self.records is not None:
            self.records.dispose()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()


def directory_source(settings: Settings) -> Callable[[], Directory] | None:
    """Where the auth interceptor looks callers up: the auth file (re-read when it
    changes), the development token, or nothing (auth off)."""
    if settings.auth_file:
        try:
            source = PrincipalFile(settings.auth_file, settings.auth_reload_interval_ms / 1000)
        except PrincipalFileError as exc:
            raise AuthFileError(str(exc)) from None
        return source.directory
    if settings.auth_token:
        log.warning("RESERVATION_AUTH_TOKEN is a development shortcut: one principal with "
                    "every role; use RESERVATION_AUTH_FILE for roles per caller")
        fixed = Directory([development(settings.auth_token)[0]])
        return lambda: fixed
    return None


class AuthFileError(StartupError):
    """The auth file cannot be used at start-up: a one-line message for the operator."""


def interceptors(settings: Settings) -> list[grpc.aio.ServerInterceptor]:
    """Tracing when it is on (outermost: the span covers the whole call and joins the
    caller's trace), then the edge: metrics, auth, error mapping, shedding, caller
    limits and request checks, composed once per method (interceptors/edge.py)."""
    source = directory_source(settings)
    auth = None
    if source is not None:
        auth = Auth(source, Verifier(
            settings.auth_failure_rate, settings.auth_failure_burst,
            retry_after_ms=settings.shed_retry_after_ms, on_failure=count_failure),
            certificates=bool(settings.tls_client_ca))
    cap = (InFlightCap(settings.max_in_flight, settings.shed_retry_after_ms)
           if settings.max_in_flight else None)
    edge = Edge(auth, cap, CallerLimits(settings) if auth is not None else None,
                timed=metrics.enabled(settings.metrics_port))
    return [*tracing.server_interceptors(), edge]


def listing_closed(settings: Settings) -> Callable[[str, str], None]:
    """What happens when a rule's dynamic safety closes a listing: a warning in the log
    (operators are told at once, whatever scrapes the metrics) and the counter the
    ReservationListingClosedBySale alert watches."""
    on = metrics.enabled(settings.metrics_port)

    def closed(sku: str, channel: str) -> None:
        log.warning("%s's listing of %s closed by its rule's dynamic safety: it sells "
                    "faster than its orders reach the hub", channel, sku)
        if on:
            metrics.recorder.listing_closed(sku, channel)
    return closed


def build_server(settings: Settings, reservations: Reservations, sales: Sales,
                 inventory: Inventory,
                 health_servicer: health.aio.HealthServicer,
                 orders: OrderHub | None = None,
                 routing: Routing | None = None,
                 records: Records | None = None,
                 overdue: OverdueWatch | None = None) -> grpc.aio.Server:
    server = grpc.aio.server(
        # The first is outermost: errors the auth check raises are mapped too.
        interceptors=interceptors(settings),
        options=[
            # Only `serve --workers N` shares a port; otherwise a taken port is an error.
            ("grpc.so_reuseport", 1 if settings.reuse_port else 0),
            ("grpc.max_receive_message_length", 4 * 1024 * 1024),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.http2.max_pings_without_data", 0),
            *_backlog_options(settings),
        ],
    )
    routing = routing or Routing(reservations.store, settings)
    reservation_service_pb2_grpc.add_ReservationServiceServicer_to_server(
        ReservationServicer(reservations, inventory, routing), server)
    write_back = WriteBack.over(reservations.store)
    admin_service_pb2_grpc.add_AdminServiceServicer_to_server(
        AdminServicer(sales, inventory, Reconciler(write_back), DeadLetters(reservations)), server)
    write_back_service_pb2_grpc.add_WriteBackServiceServicer_to_server(
        WriteBackServicer(write_back), server)
    orders = orders or OrderHub(reservations.store, settings, RoutingRouter(routing))
    interception = Interception(reservations.store, settings, orders)
    orders.reviewer = interception  # what SyncOrders writes, the rules in force may hold
    order_service_pb2_grpc.add_OrderServiceServicer_to_server(
        OrderServicer(orders, OrderReads(orders, records), overdue),
        server)
    interception_service_pb2_grpc.add_InterceptionServiceServicer_to_server(
        InterceptionServicer(interception), server)
    routing_service_pb2_grpc.add_RoutingServiceServicer_to_server(
        RoutingServicer(routing), server)
    routing_service_pb2_grpc.add_RoutingAdminServiceServicer_to_server(
        RoutingAdminServicer(routing, orders), server)
    guard_service_pb2_grpc.add_GuardServiceServicer_to_server(
        GuardServicer(Guard.over(reservations.store)), server)
    listings = Listings(reservations.store, settings)
    if metrics.enabled(settings.metrics_port):
        listings.observer = metrics.recorder.listing_report
    listings.closed = listing_closed(settings)
    listing_service_pb2_grpc.add_ListingServiceServicer_to_server(
        ListingServicer(listings), server)
    settlement_service_pb2_grpc.add_SettlementServiceServicer_to_server(
        SettlementServicer(Settlement(records.engine if records else None)), server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    enable_reflection(server)
    return server


def _backlog_options(settings: Settings) -> list[tuple[str, int]]:
    """gRPC core's backlog of calls not yet taken up (RESERVATION_MAX_PENDING): between
    the soft limit and twice it core refuses a growing share of new calls, beyond twice
    it all of them. benchmarks/burst.py shows why: under a CPU-bound burst the backlog
    waits there, not in handlers."""
    if not settings.max_pending:
        return []
    return [("grpc.server.max_pending_requests", settings.max_pending),
            ("grpc.server.max_pending_requests_hard_limit", 2 * settings.max_pending)]


def enable_reflection(server: grpc.aio.Server) -> None:
    """Server reflection, v1 and v1alpha (see reflection.py)."""
    reflection.enable(server, (*SERVICE_NAMES,
                               health_pb2.DESCRIPTOR.services_by_name["Health"].full_name))


async def start_app(settings: Settings, redis_url: str | None = None,
                    background: bool = True) -> App:
    """Connect, check Redis with a script, bind, start serving and background work."""
    url = redis_url or settings.redis_url or (
        sentinel_label(settings) if settings.redis_sentinels else None)
    if not url:
        raise ValueError("start_app needs a Redis URL (see redis_for)")
    records = None
    if settings.records_database_url:  # RecordsStartupError: one line naming the setting
        records = await asyncio.to_thread(open_records, settings.records_database_url)
    try:
        store = await open_store(settings, url)  # RedisStartupError: one line, the setting
    except BaseException:
        if records is not None:
            records.dispose()
        raise
    # Write-back groups exist before the first ack can trim the streams.
    await WriteBack.over(store).start()
    routing = Routing(store, settings)  # one for Reserve and the order hub (one cache)
    orders = OrderHub(store, settings, RoutingRouter(routing))
    await orders.start()  # its event groups exist before the first ack trims
    follower = None
    kept = None if records is None else Records(records)
    if kept is not None:
        follower = Follower(orders, kept,
                            group=parse_follower_group(settings.records_follower_group))
        await follower.start()  # likewise its group
    reservations = Reservations(store, settings)
    sales = Sales(store, settings)
    inventory = Inventory(store, settings)
    health_servicer = health.aio.HealthServicer()
    overdue = OverdueWatch(orders, settings)  # a bad threshold: ConfigError, one line
    server = build_server(settings, reservations, sales, inventory, health_servicer, orders,
                          routing, kept, overdue)
    try:
        tls = server_files(settings)
    except (OSError, ValueError) as exc:
        await store.close()
        raise TlsError(f"cannot use the TLS files: {exc}") from None
    try:
        port = _bind(server, settings, tls)
        health_server, health_port = _health_only(settings, health_servicer)
    except ListenError:
        await store.close()
        raise
    app = App(settings, store, reservations, sales, inventory, server, port, health_servicer,
              Sweeper(store), Recovery(store, reservations.multi), orders=orders,
              overdue=overdue, tls=tls, records=records, follower=follower,
              guard=Guard.over(store),
              health_port=health_port, _health_server=health_server)
    # Readiness stays NOT_SERVING until the routing kernel is compiled (or loaded from
    # numba's on-disk cache), so no request pays for compilation.
    await app.set_serving(False)
    await server.start()
    if health_server is not None:
        await health_server.start()
    await asyncio.to_thread(kernel.warm_up)
    await app.set_serving(True)
    await health_servicer.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
    if metrics.enabled(settings.metrics_port):
        try:
            _start_metrics(app)
        except ListenError:
            await app.stop(grace=0)
            raise
    if background:
        app.sweeper.start()
        app.recovery.start()  # type: ignore[union-attr]
        # Safety stock, breaker closing and their alerts (one replica per shard and period).
        app._tasks.append(asyncio.create_task(app.guard.run(), name="guard"))  # type: ignore[union-attr]
        app._tasks.append(asyncio.create_task(app._watch_health(), name="health"))
        if follower is not None and kept is not None:
            if settings.records_follower == "on":  # off: `reservation records follow`
                app._tasks.append(asyncio.create_task(follower.run(), name="records"))
            app._tasks.append(asyncio.create_task(Evictor(orders, kept).run(),
                                                  name="records-eviction"))
        # Overdue orders, evaluated by one replica per period.
        app._tasks.append(asyncio.create_task(overdue.run(), name="overdue"))
    return app


def _bind(server: grpc.aio.Server, settings: Settings,
          tls: CertificateFiles | None = None) -> int:
    address = f"{settings.host}:{settings.port}"
    if not settings.reuse_port:  # --workers share the port on purpose
        problem = listen_problem(settings.host, settings.port, "RESERVATION_PORT")
        if problem:
            raise ListenError(problem)
    try:
        port = (server.add_secure_port(address, tls.credentials()) if tls is not None
                else server.add_insecure_port(address))
    except RuntimeError:
        port = 0
    if port == 0:
        hint = "" if settings.reuse_port else " (taken? only --workers N shares a port)"
        raise ListenError(f"cannot listen on {address}{hint}")
    return port


def listen_problem(host: str, port: int, port_setting: str) -> str | None:
    """Why (host, port) cannot be listened on, as the OS tells it, before gRPC tries
    (gRPC says only that it failed, on a log line of its own); None when it can."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"RESERVATION_HOST={host} is not an address of this machine ({exc.strerror})"
    for family, kind, proto, _, sockaddr in found:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return (f"cannot listen on {host}:{port}: the port is taken ({port_setting};"
                            " only --workers N shares a port)")
                if exc.errno == errno.EADDRNOTAVAIL:
                    return f"RESERVATION_HOST={host} is not an address of this machine"
                return f"cannot listen on {host}:{port} ({port_setting}): {exc.strerror}"
    return None


class ListenError(StartupError):
    """The gRPC port cannot be bound: a one-line message for the operator."""


class TlsError(StartupError):
    """The TLS files cannot be read at start-up: a one-line message for the operator."""


def _health_only(settings: Settings, health_servicer: health.aio.HealthServicer
                 ) -> tuple[grpc.aio.Server | None, int]:
    """The plaintext health-only port (for kubelet probes when the main port is TLS)."""
    if not settings.health_port:
        return None, 0
    problem = listen_problem(settings.host, settings.health_port, "RESERVATION_HEALTH_PORT")
    if problem:
        raise ListenError(problem)
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    address = f"{settings.host}:{settings.health_port}"
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if port == 0:
        raise ListenError(f"cannot listen on {address} (RESERVATION_HEALTH_PORT)")
    return server, port


def _start_metrics(app: App) -> None:
    """Record RPCs, orders and pipelines; sample Redis; serve /metrics if a port is set."""
    metrics.recorder.on = True
    app.store.observe_pipelines(metrics.recorder.pipeline)
    sampler = GaugeSampler(app.store, app.inventory, WriteBack.over(app.store),
                           hot_skus=lambda: active_sale_skus(app.sales), guard=app.guard,
                           order_events=app.orders.events if app.orders else None,
                           records=app.follower, overdue=app.overdue)
    app._tasks.append(asyncio.create_task(sampler.run(), name="metrics"))
    if app.settings.metrics_port:
        try:
            app._metrics_server, app.metrics_port = metrics.serve(app.settings.host,
                                                                  app.settings.metrics_port)
        except OSError as exc:
            raise ListenError(f"cannot serve /metrics on {app.settings.host}:"
                              f"{app.settings.metrics_port} (RESERVATION_METRICS_PORT): "
                              f"{exc.strerror or exc}") from None


def sentinel_label(settings: Settings) -> str:
    """Where Redis is, under Sentinel, for messages: the master name and the sentinels."""
    return f"sentinel:{settings.redis_sentinel_master}@{settings.redis_sentinels}"


@contextlib.asynccontextmanager
async def redis_for(settings: Settings) -> AsyncIterator[str]:
    """The configured Redis URL (with sentinels: a label naming them), or a private
    redis-server started (and stopped) here."""
    if settings.redis_url:
        yield settings.redis_url
        return
    if settings.redis_sentinels:
        yield sentinel_label(settings)
        return
    data_dir = Path(settings.data_dir) / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = RedisProcess(data_dir=data_dir, appendonly=True, appendfsync="everysec")
    await asyncio.to_thread(proc.start)
    log.info("started private redis-server on %s (data in %s)", proc.url, data_dir)
    EMBEDDED_LOST.clear()
    watcher = asyncio.create_task(_keep_running(proc), name="embedded-redis")
    try:
        yield proc.url
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await asyncio.to_thread(proc.stop)
        log.info("stopped private redis-server")


EMBEDDED_CHECK_S = 1.0
EMBEDDED_RESTARTS = 3
"""Restarts of a private redis-server that died, in a row, before the server gives up."""


async def _keep_running(proc: RedisProcess) -> None:
    """The private redis-server, restarted with its AOF (same port and data) when it
    dies; if it will not come back, the server stops (exit code 1) so that whatever
    supervises it starts it afresh, instead of answering NOT_SERVING for ever."""
    failures = 0
    while True:
        await asyncio.sleep(EMBEDDED_CHECK_S)
        if proc.is_running:
            failures = 0
            continue
        log.error("private redis-server on %s died; restarting it with its AOF", proc.url)
        try:
            await asyncio.to_thread(proc.restart)
            log.warning("private redis-server on %s is back", proc.url)
        except (OSError, RuntimeError, ValueError) as exc:
            failures += 1
            log.error("private redis-server did not restart (%d of %d): %s", failures,
                      EMBEDDED_RESTARTS, exc)
            if failures >= EMBEDDED_RESTARTS:
                EMBEDDED_LOST.set()
                return


EMBEDDED_LOST = asyncio.Event()
"""Set when the private redis-server could not be restarted: serve stops, exit 1."""


def freeze_startup_objects() -> None:
    """Move what startup made (modules, protobuf descriptors, numba, SQLAlchemy metadata,
    the settings) out of the cyclic collector's reach. A full collection walked all of it
    and paused the process ~110 ms every few hundred calls: ListOrders' p99 was that pause
    (gc.disable() or this removed it: benchmarks/results/records-sql-list-gc.md). Objects
    made later are collected as before; these live as long as the process anyway."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings) -> None:
    """`reservation serve`: run until SIGTERM or SIGINT, then shut down gracefully."""
    tracing.start(settings.trace_background)  # before the Redis client and the server
    # exist: both are traced
    async with redis_for(settings) as url:
        app = await start_app(settings, url)
        log.info("serving on %s (redis %s)", app.target, url)
        freeze_startup_objects()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        lost = asyncio.ensure_future(EMBEDDED_LOST.wait())
        await asyncio.wait([asyncio.ensure_future(stopping.wait()), lost],
                           return_when=asyncio.FIRST_COMPLETED)
        log.info("shutting down: NOT_SERVING, %.1f s grace", settings.grace_period_s)
        await app.stop()
    tracing.stop()
    if lost.done():
        raise SystemExit("reservation serve: the private redis-server died and could not "
                         "be restarted (see its redis.log in RESERVATION_DATA_DIR)")

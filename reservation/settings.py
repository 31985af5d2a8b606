"""One frozen settings object, built from environment variables in one place."""

from __future__ import annotations

import difflib
import os
import urllib.parse
from dataclasses import dataclass, fields
from pathlib import Path


class ConfigError(ValueError):
    """A setting that cannot work; the message names the variable (one line for people)."""


def _default_data_dir() -> str:
    """`$XDG_DATA_HOME/reservation`, else `~/.local/share/reservation`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "reservation")


MIN_SECRET = 16
"""Characters a secret key must have when auth is on (the buyer hash key)."""

@dataclass(frozen=True)
class Settings:
    """Every knob of the service, RESERVATION_<FIELD> each. The docs' settings reference is
    generated from this class: every field needs a docstring (tests/docs checks it)."""

    redis_url: str | None = None
    """Redis to use; unset: start a private redis-server in data_dir (AOF on, appendfsync
    everysec)."""
    redis_cluster: bool = False
    """Talk Redis Cluster protocol to redis_url."""
    redis_sentinels: str = ""
    """Redis Sentinel instead of redis_url: the sentinels as host:port,host:port,...; the
    service asks them for the current primary of redis_sentinel_master and follows a
    failover (new connections go to the promoted replica)."""
    redis_sentinel_master: str = ""
    """The master name the sentinels monitor (their `sentinel monitor <name> ...`); goes
    with redis_sentinels."""
    redis_wait_replicas: int = 0
    """Acknowledge a write only when this many replicas have it (Redis WAIT after each
    coalesced pipeline of script calls; on Cluster, on every shard's primary). 0: answer
    once the primary has it; a failover may then lose the last writes (see the
    reliability page). When too few replicas confirm within redis_wait_timeout_ms the
    call is UNAVAILABLE (its write may be on the primary: retry it, every write is
    idempotent)."""
    redis_wait_timeout_ms: int = 1000
    """How long a write waits for redis_wait_replicas replicas; below redis_timeout_ms."""
    redis_functions: bool = True
    """Run the scripts as Redis Functions (one library loaded once) on Redis >= 7; false
    (or Redis 6.2, or Redis Cluster) keeps EVALSHA of each script with its libraries
    prepended."""
    redis_timeout_ms: int = 2000
    """Socket timeout towards Redis: a hung Redis becomes UNAVAILABLE, not a hung call."""
    redis_max_connections: int = 64
    """Connections per Redis node; callers beyond it wait (up to redis_timeout_ms)."""
    data_dir: str = _default_data_dir()
    """Where the embedded redis-server keeps its AOF."""
    host: str = "127.0.0.1"
    """Address the gRPC server listens on."""
    port: int = 50051
    """Port the gRPC server listens on (0: any free port, as the tests use)."""
    reuse_port: bool = False
    """Share the port with other processes (SO_REUSEPORT). `serve --workers N` sets it for
    its workers; otherwise a port already taken is an error, not a silent split."""
    shards: int = 64
    """Virtual shards; fixed for the life of the data (keys carry the shard)."""
    default_hold_ttl_ms: int = 15 * 60 * 1000
    """Hold TTL when neither request nor sale gives one."""
    max_hold_ttl_ms: int = 24 * 60 * 60 * 1000
    """Largest hold TTL a request or a flash sale may ask for."""
    retention_ms: int = 24 * 60 * 60 * 1000
    """How long finished orders stay readable (and idempotent)."""
    rejected_retention_ms: int = 60_000
    """How long a rejected order stays readable (and idempotent): a retry within this
    window gets the same REJECTED answer; after it the request is decided anew. Short, so
    a burst of rejected requests in a flash sale cannot fill Redis."""
    order_lease_ms: int = 10_000
    """A multi-shard reserve or confirm not finished this long after it began is completed
    or compensated by the recovery sweep of any replica (see reserving/recovery.py)."""
    max_sale_horizon_ms: int = 366 * 24 * 60 * 60 * 1000
    """A flash sale may start and end at most this far from now."""
    max_queue_deadline_ms: int = 24 * 60 * 60 * 1000
    """Largest queue deadline a flash sale may set."""
    expiry_grace_ms: int = 250
    """Expired holds are swept this long after expires_at (see confirm.lua)."""
    sweep_interval_ms: int = 200
    """Expiry sweeper and queue-deadline period."""
    queue_retry_interval_ms: int = 3000
    """Retry loop period: serves every non-empty queue."""
    queue_deadline_ms: int = 5 * 60 * 1000
    """A queued order waiting longer is dead-lettered (a sale may set its own)."""
    queue_bound: int = 10_000
    """Most orders waiting per SKU."""
    watch_poll_interval_ms: int = 100
    """How often a WatchReservation stream re-reads its order."""
    watch_max_ms: int = 15 * 60 * 1000
    """A watch ends after this long (the caller watches again)."""
    max_lines: int = 100
    """Most lines per order."""
    max_quantity: int = 1_000_000
    """Largest quantity per line or stock item."""
    max_batch: int = 1000
    """Most orders in one ReserveBatch request, items in one LoadStock or flash sale."""
    max_id_length: int = 128
    """Longest order or buyer id, in bytes."""
    grace_period_s: float = 5.0
    """Time in-flight calls get after SIGTERM."""
    auth_token: str | None = None
    """Development shortcut: every call must carry 'authorization: Bearer <token>', and
    that token is one principal with every role (a warning says so at start-up)."""
    auth_file: str | None = None
    """YAML file of principals (name, role, token hash, scope, limits); read again when
    it changes. See the docs' security page."""
    auth_reload_interval_ms: int = 1000
    """How often the auth file's modification time is looked at."""
    auth_failure_rate: float = 1.0
    """Failed authentications a second each peer address may make (token bucket); past
    it, calls without a token known to be right are refused RESOURCE_EXHAUSTED unchecked
    (no scrypt, no log record). 0: no budget."""
    auth_failure_burst: int = 10
    """Failed authentications a peer may make at once before auth_failure_rate applies."""
    tls_cert: str | None = None
    """PEM certificate chain the server presents; with tls_key, the port speaks TLS only.
    Both files are read again when they change (new connections get the new pair)."""
    tls_key: str | None = None
    """PEM private key of tls_cert."""
    tls_client_ca: str | None = None
    """PEM CA bundle; when set, clients must present a certificate it signed (mTLS), and
    the certificate's subject CN can name a principal (client_cert_cn)."""
    health_port: int = 0
    """A second, plaintext port serving only grpc.health.v1 (kubelet's gRPC probes cannot
    speak TLS); 0: none. Health is also on the main port."""
    max_in_flight: int = 1000
    """Calls in flight per server process beyond which new calls are shed with
    RESOURCE_EXHAUSTED (and retry-after-ms); 0: no cap."""
    max_pending: int = 0
    """Calls gRPC core has received but the server's event loop has not taken up yet,
    beyond which core starts refusing new calls at arrival (refusing some between this
    and twice it, all beyond twice it). Under a CPU-bound burst this is where calls wait:
    the in-flight cap counts only calls whose handler runs. Core's refusal carries no
    status of ours: clients see CANCELLED. 0: gRPC's defaults."""
    shed_retry_after_ms: int = 100
    """The retry delay a shed call is told to wait."""
    principal_rate: float = 0.0
    """Default calls per second per principal (token bucket); 0: no rate limit. A
    principal's `limits.rate` in the auth file wins."""
    principal_burst: int = 0
    """Default bucket size per principal; 0: one second of principal_rate."""
    principal_max_in_flight: int = 0
    """Default concurrent calls per principal; 0: no cap."""
    log_level: str = "INFO"
    """DEBUG, INFO, WARNING, ERROR or CRITICAL."""
    log_format: str = "text"
    """text (one human line per record) or json (one JSON object per line, for collectors)."""
    metrics_port: int = 0
    """Port of the Prometheus /metrics endpoint (on host); 0: no endpoint."""
    write_back_groups: str = "wms"
    """Comma-separated consumer groups a WMS may pull as (the first is the default). Fixed
    list, created at start: a group that nobody acknowledges holds back stream trimming
    for every group (up to write_back_stream_max, where it breaks); 'none' for no group
    (nothing pulls this service)."""
    write_back_visibility_timeout_ms: int = 30_000
    """Events of a batch not acknowledged this long are delivered again."""
    write_back_max_deliveries: int = 5
    """After this many deliveries an unacknowledged event goes to the dead letter."""
    write_back_max_batch: int = 1000
    """Most events in one PullBatch (max_events must be 1..this)."""
    write_back_max_wait_ms: int = 30_000
    """Longest long-poll a PullBatch may ask for."""
    write_back_dead_letter_max: int = 100_000
    """Dead letters kept per shard and group; the oldest beyond this are trimmed."""
    write_back_stream_max: int = 200_000
    """Entries a shard's write-back stream keeps at most (plus a slack of 1%, at most
    1,000), whatever its groups have read. Acknowledging trims it far below this; a
    group that lags past it loses entries and is marked broken (its pulls are refused
    until its bootstrap repairs it): docs/concepts/streams.md."""
    breaker_tick_ms: int = 1000
    """Period of the guard work in every replica: count confirmed sales, recompute
    safety stocks, close breakers whose SKU has stock again (one replica per period)."""
    breaker_hysteresis: float = 0.2
    """An OPEN breaker closes when available reaches threshold x (1 + this) ..."""
    breaker_margin: int = 1
    """... or threshold + this many units, whichever is more: no flapping at the line."""
    safety_days: int = 7
    """Safety stock: average daily confirmed sales over this many whole days before today ..."""
    safety_factor: float = 1.5
    """... times this factor ..."""
    safety_factor_hot: float = 2.3
    """... or this one while the SKU's flash sale is open or it is in live-stream mode."""
    write_back_batch_key: str = ""
    """Secret that signs batch ids (same on every replica); empty: a fixed key, which
    still refuses mangled ids but not forged ones, so it is required when auth is on."""
    trace_background: bool = False
    """With tracing on (OTEL_EXPORTER_OTLP_ENDPOINT): also trace the Redis commands of
    background work (sweeps, health checks, gauges, write-back trimming), which no call
    started. Off: only what a gRPC call does is traced, so an idle server exports
    nothing."""

    order_retention_ms: int = 90 * 24 * 60 * 60 * 1000
    """How long an order's record, history and stock hold stay in Redis after its last
    change (the audit store keeps them for good)."""
    order_hold_ttl_ms: int = 60 * 60 * 1000
    """How long an unpaid order's stock is held before it returns (paying later holds
    again if stock is left)."""
    order_buyer_hash_key: str = ""
    """Secret of the keyed hash of receiver phones (same on every replica); empty: a fixed
    key (the hash is still stable, but guessable by who knows the code), so with auth on
    one of at least 16 characters is required."""
    order_duplicate_window_ms: int = 2 * 60 * 60 * 1000
    """Orders with the same phone hash and address this close in time are flagged for
    review as suspected cross-channel duplicates (never merged)."""
    order_event_groups: str = "audit"
    """Consumer groups of the order event streams: 'audit' (the relational audit trail)
    and 'feed-<channel>' for each channel adapter that pulls its changes. Each group
    must be consumed: an unconsumed group holds back trimming (up to
    order_event_stream_max, where it breaks); 'none' for no group."""
    order_event_stream_max: int = 200_000
    """Entries a shard's order event stream keeps at most (near exactly), as
    write_back_stream_max: a group (or the records store) lagging past it is marked
    broken instead of holding memory without bound."""
    records_url: str = ""
    """The orders of record: an SQLAlchemy URL, sqlite:///path or
    postgresql://user@host/db (docs: concepts/records). Empty: with the embedded Redis, a
    SQLite file `records.sqlite3` in data_dir; with a Redis of your own, no records store
    (orders stay in Redis only, as before)."""
    records_follower_group: str = "0/1"
    """Which shards this process's records follower applies, as I/N: the shards s with
    s % N == I, under a lease of the group's own, so N followers on the N groups apply in
    parallel (docs: concepts/records). `serve --workers N` gives worker I the group I/N
    itself; set it per replica otherwise (e.g. from a StatefulSet's ordinal). "0/1": every
    shard, one follower at a time across the replicas."""
    records_follower: str = "on"
    """Whether `reservation serve` runs the records follower (with a records store): 'on',
    a background task of every replica and worker; 'off', none, so its CPU (about 340 us
    per order synced) does not share the hub's process: then run `reservation records
    follow` beside it (it ignores this setting), or the store falls behind (docs:
    concepts/records)."""
    order_hot_window_ms: int = 7 * 24 * 60 * 60 * 1000
    """With a records store: how long a closed order stays in Redis after it closed. Past
    it, once the records store has its every event, its record and history leave Redis
    (reads then answer from the store); the small keys that recognise a resent order
    stay for order_retention_ms."""
    order_sla: str = ""
    """On-time targets per channel, 'channel=route_ms/ship_ms,...'; unlisted channels
    use 2 h to route and 4 h to ship after payment."""
    order_delivery_ms: int = 72 * 60 * 60 * 1000
    """How long delivery takes after shipping, as the service desk quotes it
    (FindOrders' deliver_by: shipped, or due to ship, plus this)."""
    order_consistency_grace_ms: int = 30 * 60 * 1000
    """The order health's consistency: how long the hub's state and the channel's last
    report may disagree before it counts as an inconsistency (a report in flight, or a
    tracking number on its way back, is not one)."""
    order_late_route_ms: int = 15 * 60 * 1000
    """A paid order not routed this long after payment is listed as late."""
    order_overdue: str = "paid=15,printed=120,shipped=1440"
    """Overdue thresholds in minutes per node and channel, 'node[/channel]=minutes,...':
    an open order that has sat at a node (paid, routed, allocated, printed, shipped,
    on_hold, refund_requested) longer than its threshold is overdue; a channel's own
    threshold wins over the node's. The default: paid but not routed after 15 min, a
    label printed 2 h without shipping, shipped 24 h without delivery."""
    order_overdue_interval_ms: int = 30_000
    """How often one replica evaluates the overdue thresholds over the open orders."""
    order_overdue_lookback_ms: int = 14 * 24 * 60 * 60 * 1000
    """Orders created this long ago or less are evaluated (older ones are left out)."""
    order_future_skew_ms: int = 24 * 60 * 60 * 1000
    """How far in the future a channel's order times (modified, created, paid, shipped)
    may lie before they are refused: a typo (year 9999) must not freeze an order."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read RESERVATION_<FIELD> for every field; overrides win."""
        env = dict(os.environ if env is None else env)
        _refuse_unknown(env)
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"RESERVATION_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(raw, f.type, f.name)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        """Refuse values that cannot work, naming the variable, before anything starts."""
        # Level names are case-insensitive to people ("info"), not to logging.
        object.__setattr__(self, "log_level", self.log_level.upper())
        for name, low, high in _BOUNDS:
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigError(f"RESERVATION_{name.upper()}={value} is outside {low}..{high}")
        for name, allowed in _CHOICES:
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"RESERVATION_{name.upper()}={value!r} is not one of "
                                 f"{', '.join(allowed)}")

        if self.auth_enabled and not self.write_back_batch_key:
            raise ConfigError("RESERVATION_WRITE_BACK_BATCH_KEY is required when auth is on "
                              "(without it batch ids are signed with a public key and "
                              "anyone can forge an acknowledgement)")
        if self.auth_enabled and len(self.order_buyer_hash_key) < MIN_SECRET:
            raise ConfigError(f"RESERVATION_ORDER_BUYER_HASH_KEY of at least {MIN_SECRET} "
                              "characters is required when auth is on (the keyed hash of an "
                              "11-digit phone number with a known key is brute-forced in "
                              "seconds; e.g. $(openssl rand -hex 16))")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("RESERVATION_TLS_CERT and RESERVATION_TLS_KEY go together")
        parse_order_sla(self.order_sla)  # refuse a malformed one now, not at the first read
        parse_order_overdue(self.order_overdue)
        if self.redis_url:
            check_redis_url(self.redis_url)
        if self.records_url:
            check_records_url(self.records_url)
        parse_follower_group(self.records_follower_group)
        check_sentinels(self)
        if self.redis_wait_replicas and self.redis_wait_timeout_ms >= self.redis_timeout_ms:
            raise ConfigError(f"RESERVATION_REDIS_WAIT_TIMEOUT_MS={self.redis_wait_timeout_ms} "
                              "must be below RESERVATION_REDIS_TIMEOUT_MS="
                              f"{self.redis_timeout_ms} (the wait is inside one Redis call)")
        if self.tls_client_ca and not self.tls_cert:
            raise ConfigError("RESERVATION_TLS_CLIENT_CA needs RESERVATION_TLS_CERT and "
                              "RESERVATION_TLS_KEY (mTLS is TLS first)")

    @property
    def auth_enabled(self) -> bool:
        return bool(self.auth_token or self.auth_file)

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url and not self.redis_sentinels

    @property
    def records_database_url(self) -> str:
        """Where the orders of record are kept ('' when nowhere): records_url, else a
        SQLite file beside the embedded Redis's data. postgresql:// means the psycopg
        driver (the one the server's postgres extra installs)."""
        url = self.records_url
        if not url:
            if not self.embedded_redis:
                return ""
            return f"sqlite:///{Path(self.data_dir) / 'records.sqlite3'}"
        scheme, _, rest = url.partition("://")
        return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else url

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """RESERVATION_REDIS_SENTINELS as (host, port) pairs (checked at start)."""
        return [_host_port(item) for item in self.redis_sentinels.split(",") if item.strip()]

    @property
    def order_overdue_thresholds(self) -> dict[tuple[str, str], int]:
        """RESERVATION_ORDER_OVERDUE as (node, channel or "") -> threshold in ms."""
        return parse_order_overdue(self.order_overdue)

    @property
    def order_sla_targets(self) -> dict[str, tuple[int, int]]:
        """RESERVATION_ORDER_SLA as channel -> (route_ms, ship_ms)."""
        return parse_order_sla(self.order_sla)


def check_redis_url(url: str) -> None:
    """What can be told of RESERVATION_REDIS_URL without connecting (the rest, e.g. a
    database number the server does not have, is told at start-up)."""
    shape = "redis://[user:password@]host[:port][/db], rediss://... or unix:///path"
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # a ValueError when it is not a number in 0..65535
    except ValueError as exc:
        raise ConfigError(f"RESERVATION_REDIS_URL={redacted_url(url)!r}: {exc} ({shape})") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"RESERVATION_REDIS_URL={redacted_url(url)!r}: the scheme must be redis, "
                          f"rediss or unix ({shape})")
    if parts.scheme == "unix" and not parts.path:
        raise ConfigError(f"RESERVATION_REDIS_URL={redacted_url(url)!r}: no socket path ({shape})")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"RESERVATION_REDIS_URL={redacted_url(url)!r}: no host ({shape})")
    db = parts.path.strip("/") if parts.scheme != "unix" else ""
    if db and not db.isdigit():
        raise ConfigError(f"RESERVATION_REDIS_URL={redacted_url(url)!r}: the database must be a "
                          f"number, not {db!r} ({shape})")


RECORDS_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


def parse_follower_group(text: str) -> tuple[int, int]:
    """RESERVATION_RECORDS_FOLLOWER_GROUP ("I/N", 0 <= I < N) as (I, N)."""
    index, sep, groups = text.partition("/")
    try:
        group = (int(index), int(groups)) if sep else None
    except ValueError:
        group = None
    if group is None or not 0 <= group[0] < group[1]:
        raise ConfigError(f"RESERVATION_RECORDS_FOLLOWER_GROUP={text!r} is not I/N with "
                          "0 <= I < N (e.g. 0/2 and 1/2 for two followers)")
    return group


def check_records_url(url: str) -> None:
    """RESERVATION_RECORDS_URL's shape, without connecting (a database that is not
    there is told at start-up)."""
    shape = "sqlite:///path/to/records.sqlite3 or postgresql://user[:password]@host[:port]/db"
    name = f"RESERVATION_RECORDS_URL={redacted_url(url)!r}"
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in RECORDS_SCHEMES:
        raise ConfigError(f"{name}: the scheme must be sqlite or postgresql ({shape})")
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ConfigError(f"{name}: no database file ({shape})")
        return
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # a ValueError when it is not a number in 0..65535
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc} ({shape})") from None
    if not parts.path.strip("/"):
        raise ConfigError(f"{name}: no database name ({shape})")


def _host_port(item: str) -> tuple[str, int]:
    host, _, port = item.strip().rpartition(":")
    return host.strip("[]"), int(port)


def check_sentinels(settings: Settings) -> None:
    """RESERVATION_REDIS_SENTINELS and _SENTINEL_MASTER: both or neither, host:port each,
    not beside redis_url or Cluster (one way to find Redis)."""
    given, master = settings.redis_sentinels.strip(), settings.redis_sentinel_master
    if not given and not master:
        return
    name = "RESERVATION_REDIS_SENTINELS"
    if not given or not master:
        raise ConfigError(f"{name} and RESERVATION_REDIS_SENTINEL_MASTER go together "
                          "(the sentinels, and the master name they monitor)")
    if settings.redis_url or settings.redis_cluster:
        raise ConfigError(f"{name} is set: unset RESERVATION_REDIS_URL and "
                          "RESERVATION_REDIS_CLUSTER (the sentinels say where the primary is)")
    for item in given.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name}={given!r}: {item.strip()!r} is not host:port "
                              "(e.g. 10.0.0.5:26379,10.0.0.6:26379,10.0.0.7:26379)")


def redacted_url(url: str) -> str:
    """The URL without its password, for a message."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def parse_order_sla(text: str) -> dict[str, tuple[int, int]]:
    """'channel=route_ms/ship_ms,...' -> {channel: (route_ms, ship_ms)}."""
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        channel, _, pair = (part.strip() for part in item.partition("="))
        route, _, ship = pair.partition("/")
        try:
            times = (int(route), int(ship))
        except ValueError:
            raise ConfigError(f"RESERVATION_ORDER_SLA: {item!r} is not channel=route_ms/ship_ms "
                              "(e.g. jd=900000/14400000)") from None
        if not channel or min(times) <= 0:
            raise ConfigError(f"RESERVATION_ORDER_SLA: {item!r} needs a channel and two "
                              "positive times in ms")
        out[channel] = times
    return out


OVERDUE_NODES = ("paid", "routed", "allocated", "printed", "shipped", "on_hold",
                 "refund_requested")
"""Where an open order can sit too long: its state (ordersync/overdue.py maps each)."""


def parse_order_overdue(text: str) -> dict[tuple[str, str], int]:
    """'node[/channel]=minutes,...' -> {(node, channel or ""): ms}."""
    out: dict[tuple[str, str], int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        where, _, minutes = (part.strip() for part in item.partition("="))
        node, _, channel = (part.strip() for part in where.partition("/"))
        if node not in OVERDUE_NODES:
            raise ConfigError(f"RESERVATION_ORDER_OVERDUE: {item!r} names no node (one of "
                              f"{', '.join(OVERDUE_NODES)})")
        if not minutes.isdigit() or not 1 <= int(minutes) <= 30 * 24 * 60:
            raise ConfigError(f"RESERVATION_ORDER_OVERDUE: {item!r} needs whole minutes from "
                              "1 to 43200 (e.g. paid=15 or paid/jd=10)")
        if (node, channel) in out:
            raise ConfigError(f"RESERVATION_ORDER_OVERDUE: {where} is given twice")
        out[(node, channel)] = int(minutes) * 60_000
    return out


_DAY_MS = 24 * 3600 * 1000
_BOUNDS: tuple[tuple[str, float, float], ...] = (
    ("port", 0, 65535),
    # Keys carry the shard number; 16384 is Redis Cluster's slot count.
    ("shards", 1, 16384),
    ("redis_timeout_ms", 1, 600_000),
    ("redis_max_connections", 1, 100_000),
    ("redis_wait_replicas", 0, 100),
    ("redis_wait_timeout_ms", 1, 600_000),
    ("default_hold_ttl_ms", 100, 30 * _DAY_MS),
    ("max_hold_ttl_ms", 100, 30 * _DAY_MS),
    ("retention_ms", 1000, 365 * _DAY_MS),
    ("rejected_retention_ms", 1000, 365 * _DAY_MS),
    ("order_lease_ms", 100, 3_600_000),
    ("max_sale_horizon_ms", 1000, 10 * 365 * _DAY_MS),
    ("max_queue_deadline_ms", 1, 30 * _DAY_MS),
    ("expiry_grace_ms", 0, 60_000),
    ("sweep_interval_ms", 1, 60_000),
    ("queue_retry_interval_ms", 1, 3_600_000),
    ("queue_deadline_ms", 1, 30 * _DAY_MS),
    ("queue_bound", 1, 10_000_000),
    ("watch_poll_interval_ms", 1, 60_000),
    ("watch_max_ms", 1, _DAY_MS),
    ("max_lines", 1, 10_000),
    ("max_quantity", 1, 2**53),
    ("max_batch", 1, 100_000),
    ("max_id_length", 8, 1024),
    ("grace_period_s", 0, 3600),
    ("metrics_port", 0, 65535),
    ("order_retention_ms", 1000, 3650 * _DAY_MS),
    ("order_hold_ttl_ms", 100, 30 * _DAY_MS),
    ("order_hot_window_ms", 0, 3650 * _DAY_MS),
    ("write_back_stream_max", 100, 1_000_000_000),
    ("order_event_stream_max", 100, 1_000_000_000),
    ("order_duplicate_window_ms", 0, 30 * _DAY_MS),
    ("order_late_route_ms", 1, 30 * _DAY_MS),
    ("order_delivery_ms", 1, 60 * _DAY_MS),
    ("order_consistency_grace_ms", 1, 30 * _DAY_MS),
    ("order_overdue_interval_ms", 10, 600_000),
    ("order_overdue_lookback_ms", 60_000, 365 * _DAY_MS),
    ("order_future_skew_ms", 0, 365 * _DAY_MS),
    ("auth_reload_interval_ms", 0, 3_600_000),
    ("auth_failure_rate", 0, 1_000_000),
    ("auth_failure_burst", 1, 1_000_000),
    ("health_port", 0, 65535),
    ("max_in_flight", 0, 10_000_000),
    ("shed_retry_after_ms", 1, 600_000),
    ("max_pending", 0, 10_000_000),
    ("principal_rate", 0, 10_000_000),
    ("principal_burst", 0, 10_000_000),
    ("principal_max_in_flight", 0, 10_000_000),
    ("breaker_tick_ms", 10, 3_600_000),
    ("breaker_hysteresis", 0, 10),
    ("breaker_margin", 0, 2**53),
    ("safety_days", 1, 90),
    ("safety_factor", 0, 100),
    ("safety_factor_hot", 0, 100),
)
_CHOICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("log_level", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    ("log_format", ("text", "json")),
    ("records_follower", ("on", "off")),
)


# Read by the clients (reservation/api/connection.py), not the server; a server started
# from the same environment accepts and ignores them.
CLIENT_VARIABLES = frozenset({"RESERVATION_TLS_CA",
                              "RESERVATION_TLS_CLIENT_CERT", "RESERVATION_TLS_CLIENT_KEY",
                              "RESERVATION_TLS_SERVER_NAME"})


def _refuse_unknown(env: dict[str, str]) -> None:
    """A mistyped variable (RESERVATION_REDIS_CLSUTER) must not be silently ignored."""
    known = {f"RESERVATION_{f.name.upper()}" for f in fields(Settings)} | CLIENT_VARIABLES
    for name in env:
        if name.startswith("RESERVATION_") and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown setting {name}{hint}")


def _parse(raw: str, annotation: object, name: str) -> object:
    kind = str(annotation)
    try:
        if kind == "bool":
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"RESERVATION_{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw

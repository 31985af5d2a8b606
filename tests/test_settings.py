"""Settings.from_env: every field from RESERVATION_<FIELD>, typed, garbage refused by name."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from reservation.settings import ConfigError, Settings

FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
# Fields that take one of a few words: a valid one other than the default.
CHOICE_SAMPLES = {"log_level": ("debug", "DEBUG"), "log_format": ("json", "json"),
                  "records_follower": ("off", "off")}
# Strings with a shape of their own: a valid one.
SHAPED_SAMPLES = {"redis_url": ("redis://127.0.0.1:6380/2", "redis://127.0.0.1:6380/2"),
                  "order_sla": ("jd=900000/14400000", "jd=900000/14400000"),
                  "records_url": ("postgresql://postgres@127.0.0.1:5432/orders",
                                  "postgresql://postgres@127.0.0.1:5432/orders"),
                  "order_overdue": ("paid/jd=10", "paid/jd=10"),
                  "records_follower_group": ("1/2", "1/2"),
                  "order_overdue_lookback_ms": ("86400000", 86400000),
                  "redis_sentinels": ("10.0.0.5:26379,10.0.0.6:26379",
                                      "10.0.0.5:26379,10.0.0.6:26379")}
# Fields that only work together with others (the others are set too, then left out of
# the "only that field changes" comparison).
COMPANIONS = {
    "auth_token": {"write_back_batch_key": "k", "order_buyer_hash_key": "k" * 16},
    "auth_file": {"write_back_batch_key": "k", "order_buyer_hash_key": "k" * 16},
    "tls_cert": {"tls_key": "key.pem"},
    "tls_key": {"tls_cert": "cert.pem"},
    "tls_client_ca": {"tls_cert": "cert.pem", "tls_key": "key.pem"},
    "redis_sentinels": {"redis_sentinel_master": "mymaster"},
    "redis_sentinel_master": {"redis_sentinels": "10.0.0.5:26379"},
}


def env_name(field: str) -> str:
    return f"RESERVATION_{field.upper()}"


def sample(kind: str) -> tuple[str, Any]:
    """A valid raw value for a field of `kind` and what it must parse to."""
    return {
        "int": ("4242", 4242),
        "float": ("2.5", 2.5),
        "bool": ("true", True),
    }.get(kind, ("some-text", "some-text"))


def test_empty_environment_gives_the_defaults() -> None:
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_every_field_is_read_from_its_own_variable(name: str) -> None:
    raw, parsed = sample(str(FIELDS[name].type))
    if name == "max_id_length":  # 4242 is past its bound
        raw, parsed = "512", 512
    if name == "safety_days":  # at most 90 days of sales are averaged
        raw, parsed = "30", 30
    if name == "redis_wait_replicas":  # at most 100 replicas
        raw, parsed = "2", 2
    raw, parsed = CHOICE_SAMPLES.get(name, SHAPED_SAMPLES.get(name, (raw, parsed)))
    companions = COMPANIONS.get(name, {})
    settings = Settings.from_env({env_name(name): raw,
                                  **{env_name(k): v for k, v in companions.items()}})
    assert getattr(settings, name) == parsed
    # ...and only that field changes.
    others = {n: getattr(settings, n) for n in FIELDS if n != name and n not in companions}
    assert others == {n: getattr(Settings(), n) for n in FIELDS
                      if n != name and n not in companions}


def test_every_field_has_a_type_from_env_can_parse() -> None:
    # A new field of another type (list, Path...) would silently arrive as a str.
    kinds = {str(f.type) for f in FIELDS.values()}
    assert kinds <= {"int", "float", "bool", "str", "str | None"}


def test_int_fields_parse_to_int() -> None:
    settings = Settings.from_env({"RESERVATION_PORT": "6000", "RESERVATION_SHARDS": "16"})
    assert (settings.port, settings.shards) == (6000, 16)
    assert isinstance(settings.port, int)


def test_float_field_parses_to_float() -> None:
    settings = Settings.from_env({"RESERVATION_GRACE_PERIOD_S": "0.25"})
    assert settings.grace_period_s == 0.25


@pytest.mark.parametrize("raw, expected", [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), ("Yes", True),
    ("0", False), ("false", False), ("False", False), ("no", False), ("NO", False),
])
def test_bool_field_accepts_the_usual_spellings(raw: str, expected: bool) -> None:
    assert Settings.from_env({"RESERVATION_REDIS_CLUSTER": raw}).redis_cluster is expected


def test_optional_string_fields_keep_the_value_verbatim() -> None:
    url = "redis://user:p%40ss@127.0.0.1:7000/2?x=1"
    settings = Settings.from_env({"RESERVATION_REDIS_URL": url,
                                  "RESERVATION_AUTH_TOKEN": " spaced token ",
                                  "RESERVATION_WRITE_BACK_BATCH_KEY": "k",
                                  "RESERVATION_ORDER_BUYER_HASH_KEY": "k" * 16})
    assert settings.redis_url == url
    assert settings.auth_token == " spaced token "


def test_empty_value_counts_as_unset() -> None:
    settings = Settings.from_env({"RESERVATION_PORT": "", "RESERVATION_REDIS_URL": ""})
    assert settings.port == Settings().port
    assert settings.redis_url is None
    assert settings.embedded_redis


def test_variables_without_the_prefix_are_ignored() -> None:
    assert Settings.from_env({"PORT": "1", "REDIS_URL": "redis://127.0.0.1:1"}) == Settings()


@pytest.mark.parametrize("name, raw", [
    ("port", "fifty"),
    ("port", "50051.5"),
    ("redis_timeout_ms", "2s"),
    ("grace_period_s", "soon"),
    ("redis_cluster", "maybe"),
    ("redis_cluster", "on"),
])
def test_garbage_is_rejected_with_a_message_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ValueError) as info:
        Settings.from_env({env_name(name): raw})
    message = str(info.value)
    assert env_name(name) in message
    assert repr(raw) in message


def test_overrides_win_over_the_environment() -> None:
    env = {"RESERVATION_PORT": "6000", "RESERVATION_HOST": "0.0.0.0"}
    settings = Settings.from_env(env, port=0, redis_url="redis://127.0.0.1:7001/0")
    assert settings.port == 0
    assert settings.host == "0.0.0.0"  # not overridden: from env
    assert settings.redis_url == "redis://127.0.0.1:7001/0"


def test_override_replaces_the_value_parsed_from_the_same_fields_variable() -> None:
    settings = Settings.from_env({"RESERVATION_SHARDS": "8"}, shards=4)
    assert settings.shards == 4


def test_without_an_env_argument_the_process_environment_is_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESERVATION_MAX_LINES", "7")
    assert Settings.from_env().max_lines == 7


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]


@pytest.mark.parametrize("variable, value", [
    ("RESERVATION_SHARDS", "0"), ("RESERVATION_PORT", "-5"), ("RESERVATION_PORT", "70000"),
    ("RESERVATION_QUEUE_BOUND", "0"), ("RESERVATION_RETENTION_MS", "5"),
])
def test_a_value_that_cannot_work_is_refused_naming_the_variable(variable, value) -> None:
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: value})


def test_a_mistyped_variable_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ValueError, match="did you mean RESERVATION_REDIS_CLUSTER"):
        Settings.from_env({"RESERVATION_REDIS_CLSUTER": "true"})


@pytest.mark.parametrize(("name", "raw"), [("RESERVATION_LOG_LEVEL", "LOUD"),
                                           ("RESERVATION_LOG_FORMAT", "xml")])
def test_a_word_outside_the_choices_is_refused_by_name(name: str, raw: str) -> None:
    with pytest.raises(ValueError, match=f"{name}='{raw}' is not one of"):
        Settings.from_env({name: raw})


def test_the_metrics_port_is_bounded() -> None:
    with pytest.raises(ValueError, match="RESERVATION_METRICS_PORT=70000 is outside"):
        Settings.from_env({"RESERVATION_METRICS_PORT": "70000"})


@pytest.mark.parametrize(("value", "says"), [
    ("jd=abc", "RESERVATION_ORDER_SLA: 'jd=abc' is not channel=route_ms/ship_ms"),
    ("=1/2", "RESERVATION_ORDER_SLA: '=1/2' needs a channel and two positive times"),
    ("jd=0/5", "RESERVATION_ORDER_SLA: 'jd=0/5' needs a channel and two positive times"),
])
def test_a_malformed_order_sla_is_refused_naming_the_variable(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(says)):
        Settings.from_env({"RESERVATION_ORDER_SLA": value})


def test_the_order_sla_is_read_per_channel() -> None:
    settings = Settings.from_env(
        {"RESERVATION_ORDER_SLA": "jd=900000/14400000, pdd = 60000/120000"})
    assert settings.order_sla_targets == {"jd": (900000, 14400000), "pdd": (60000, 120000)}


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379", "rediss://h:6380/3",
                                 "redis://user:pw@[::1]:6379/0", "unix:///run/redis.sock"])
def test_a_well_formed_redis_url_is_accepted(url: str) -> None:
    assert Settings.from_env({"RESERVATION_REDIS_URL": url}).redis_url == url


@pytest.mark.parametrize(("url", "says"), [
    ("127.0.0.1:6379", "the scheme must be redis, rediss or unix"),
    ("redis://h:port", "Port could not be cast to integer value"),
    ("redis:///0", "no host"),
    ("unix://", "no socket path"),
    ("redis://h/zero", "the database must be a number"),
])
def test_a_malformed_redis_url_is_refused_naming_the_variable(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match="^RESERVATION_REDIS_URL=.*" + re.escape(says)):
        Settings.from_env({"RESERVATION_REDIS_URL": url})


@pytest.mark.parametrize("url", ["sqlite:////var/lib/reservation/records.sqlite3",
                                 "sqlite:///records.sqlite3",
                                 "postgresql://postgres@127.0.0.1:5432/orders",
                                 "postgresql+psycopg://u:pw@[::1]/orders"])
def test_a_well_formed_records_url_is_accepted(url: str) -> None:
    assert Settings.from_env({"RESERVATION_RECORDS_URL": url}).records_url == url


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://h/db", "the scheme must be sqlite or postgresql"),
    ("records.sqlite3", "the scheme must be sqlite or postgresql"),
    ("sqlite://", "no database file"),
    ("postgresql://h:port/db", "Port could not be cast to integer value"),
    ("postgresql://u:secret@h:5432", "no database name"),
])
def test_a_malformed_records_url_is_refused_naming_the_variable(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match="^RESERVATION_RECORDS_URL=.*" + re.escape(says)) as e:
        Settings.from_env({"RESERVATION_RECORDS_URL": url})
    assert "secret" not in str(e.value)


def test_the_records_store_defaults_to_a_sqlite_file_beside_the_embedded_redis() -> None:
    embedded = Settings(data_dir="/srv/reservation")
    assert embedded.records_database_url == "sqlite:////srv/reservation/records.sqlite3"
    # A Redis of one's own and no records URL: no records store (nothing to put it beside).
    assert Settings(redis_url="redis://127.0.0.1:6379").records_database_url == ""
    # postgresql:// is the psycopg driver, the one the postgres extra installs.
    given = Settings(records_url="postgresql://postgres@127.0.0.1:5432/orders")
    assert given.records_database_url == "postgresql+psycopg://postgres@127.0.0.1:5432/orders"


@pytest.mark.parametrize("group", ["2/2", "-1/2", "1", "a/b", "0/0", "1/2/3", ""])
def test_a_records_follower_group_that_is_no_group_is_refused_naming_the_variable(
        group: str) -> None:
    with pytest.raises(ConfigError, match="^RESERVATION_RECORDS_FOLLOWER_GROUP=.*0 <= I < N"):
        Settings(records_follower_group=group)

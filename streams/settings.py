"""Configuration: read once, at the entry point, into one frozen object that is passed down.

Every setting comes from an environment variable named ``SENTINEL_<FIELD>``. Nothing else in the
project reads ``os.environ``; code that needs a setting takes a :class:`Settings` argument. (The
local stack's own ports are ``SENTINEL_STACK_*``, read by ``workbench/stack/ports.py``.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from streams.words import Language

ENV_PREFIX = "SENTINEL_"
STACK_PREFIX = "SENTINEL_STACK_"  # the local stack's ports: workbench/stack/ports.py

_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")

LogLevel = Literal["crit", "error", "warn", "info", "debug"]


class ConfigError(Exception):
    """A setting is wrong. The message says which variable, what is wrong and how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port...]"
    )
    kafka_security: Literal["sasl_ssl", "plaintext"] = Field(
        "sasl_ssl",
        description="Kafka clients: sasl_ssl (SCRAM-SHA-512 over TLS) or plaintext (a laptop's "
        "broker only: anyone who reaches it reads and writes everything)",
    )
    kafka_user: str = Field(
        "worker",
        pattern=r"^[A-Za-z0-9._\-]+$",
        description="Kafka clients: the SCRAM user (the local stack has admin, worker, gate, lab, "
        "operator)",
    )
    kafka_password: SecretStr = Field(
        SecretStr(""),
        description="Kafka clients: the user's password; empty: the local stack's, from "
        "<state_dir>/secrets/kafka-<user>",
    )
    kafka_ca_file: str = Field(
        "",
        description="Kafka clients: the CA certificate (PEM) that signed the broker's; empty: the "
        "local stack's, <state_dir>/tls/ca.pem",
    )
    clickhouse_url: str = Field(
        "clickhouse://worker@127.0.0.1:9000/sentinel",
        description="clickhouse://user@host:port/database (native protocol; clickhouses:// for "
        "TLS): the worker's user, which inserts and reads but changes no table",
    )
    clickhouse_password: SecretStr = Field(
        SecretStr(""),
        description="ClickHouse: the URL user's password; empty: the local stack's, from "
        "<state_dir>/secrets/clickhouse-<user>",
    )
    clickhouse_admin_user: str = Field(
        "default",
        pattern=r"^[A-Za-z0-9._\-]+$",
        description="ClickHouse: the user `sentinel migrate` makes and changes tables as",
    )
    clickhouse_admin_password: SecretStr = Field(
        SecretStr(""),
        description="ClickHouse: the admin user's password; empty: the local stack's",
    )
    clickhouse_cluster: str = Field(
        "",
        pattern=r"^([A-Za-z][A-Za-z0-9_]*)?$",
        description="ClickHouse: the cluster (remote_servers) our tables are replicated over, "
        "Replicated* tables behind Distributed ones, DDL ON CLUSTER; empty: one server",
    )
    namespace: str = Field(
        "",
        pattern=r"^([a-z0-9][a-z0-9-]{0,30})?$",
        description="run apart (history, a trial): appends '<namespace>.' to the topic prefix, "
        "'-<namespace>' to the app id, '_<namespace>' to the database",
    )
    topic_prefix: str = Field(
        "", pattern=r"^[A-Za-z0-9._\-]*$", description="prefix for every topic name"
    )
    partitions: int = Field(
        32, ge=1, le=1024, description="partitions of every partitioned topic (more than workers)"
    )
    replication_factor: int = Field(
        1,
        ge=1,
        le=7,
        description="copies of every topic we make, Faust's included (needs that many brokers: "
        "`sentinel stack up --brokers 3`)",
    )
    min_insync_replicas: int = Field(
        1,
        ge=1,
        le=7,
        description="copies a write needs before it counts (acks=all): at most the replication "
        "factor, e.g. 2 of 3",
    )
    app_id: str = Field(
        "gate-sentinel",
        pattern=r"^[A-Za-z0-9._\-]+$",
        description="consumer groups: <id> (decide), <id>.sink, <id>.dispatch (Faust)",
    )
    state_dir: Path = Field(
        Path(".local"),
        description="local data: the worker's (its state's snapshot at a clean stop, in "
        "<state_dir>/store), and the local stack's jars, data, logs and pid files (the "
        "workbench: the checkout's .local)",
    )
    log_level: LogLevel = Field(
        "info", description="crit, error, warn, info or debug (critical, warning accepted)"
    )
    pseudonym_key: SecretStr = Field(
        SecretStr(""),
        description="HMAC key for person pseudonyms (keep it secret, at least 32 characters); "
        "empty: the local stack's, from <state_dir>/secrets/pseudonym-key",
    )
    environment: Literal["production", "development"] = Field(
        "production",
        description="development: a worker accepts the public development pseudonym key",
    )
    max_message_bytes: int = Field(
        262_144, ge=1024, description="ingestion: larger messages go to the dead-letter topic"
    )
    future_tolerance_seconds: float = Field(
        300, ge=0, description="ingestion: how far ahead of the clock an event time may be"
    )
    dlq_window: int = Field(
        200, ge=10, description="DLQ limit: how many recent messages per partition to judge"
    )
    dlq_max_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="DLQ limit: above this share of bad ones, a raw partition is quarantined",
    )
    evidence_lag_max: int = Field(
        50_000,
        ge=1,
        description="rules: above this many unread lab reports or positives, absence is 'pending'",
    )
    source_idle_seconds: float = Field(
        5.0,
        gt=0,
        description="watermark: an input partition with nothing new for this long stops holding "
        "its park's clock back",
    )
    # Measured (docs/benchmarks.md): batches of ~60 events at 0.02 s, ~1,350 at 0.25 s, and
    # 1.6x the throughput; a quarter second is nothing at a gate.
    decide_batch: int = Field(
        5000, ge=1, description="decide stage: raw events per batch (per changelog write), at most"
    )
    decide_wait_seconds: float = Field(
        0.25, gt=0, description="decide stage: how long a batch may wait to fill"
    )
    sink_batch_rows: int = Field(5000, ge=1, description="ClickHouse sink: rows per batch, at most")
    sink_flush_seconds: float = Field(
        1.0, gt=0, description="ClickHouse sink: seconds a row may wait in a batch"
    )
    http_host: str = Field(
        "127.0.0.1", description="worker HTTP server (gate board, /metrics): the address to bind"
    )
    http_port: int = Field(
        9464, ge=0, le=65535, description="worker HTTP server: the port; 0 picks a free one"
    )
    http_password: SecretStr = Field(
        SecretStr(""),
        description="worker HTTP server: the password of user 'operator' for the board and "
        "/metrics (HTTP basic); required to bind beyond loopback",
    )
    metrics_token: SecretStr = Field(
        SecretStr(""),
        description="worker HTTP server: a bearer token /metrics also takes (for Prometheus)",
    )
    alertmanager_url: str = Field(
        "", description="Alertmanager to page, e.g. http://127.0.0.1:9093; empty: do not page"
    )
    stop_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="worker: after SIGTERM, how long a graceful stop may take before it exits",
    )
    page_max_age_seconds: float = Field(
        86_400,
        gt=0,
        description="paging: alerts learnt longer ago than this (a replay) are not paged",
    )
    language: Language = Field(
        "en",
        description="the park's language for the gate board, the alerts' summaries and pages: "
        "zh (Simplified Chinese; the jinshan story's demo and replay use it) or en",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings() maps SENTINEL_* variables to fields itself (so that it can refuse
        # misspelt ones and read a given mapping); the class takes only what it is handed.
        return (init_settings,)

    @field_validator("log_level", mode="before")
    @classmethod
    def _common_spellings(cls, value: Any) -> Any:
        spelled = {"critical": "crit", "fatal": "crit", "warning": "warn", "err": "error"}
        return spelled.get(str(value).lower(), str(value).lower()) if value is not None else value

    @model_validator(mode="after")
    def _replicas_fit(self) -> Settings:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"SENTINEL_MIN_INSYNC_REPLICAS={self.min_insync_replicas} is more than "
                f"SENTINEL_REPLICATION_FACTOR={self.replication_factor}: no write could ever "
                "count; make it at most the replication factor (2 of 3, say)"
            )
        return self

    @model_validator(mode="after")
    def _namespaced(self) -> Settings:
        """A namespace derives its names from the others; each stays settable on its own."""
        if not self.namespace or self.topic_prefix.endswith(f"{self.namespace}."):
            return self
        parts = urlsplit(self.clickhouse_url)
        database = f"{parts.path.strip('/')}_{self.namespace.replace('-', '_')}"
        derived = {
            "topic_prefix": f"{self.topic_prefix}{self.namespace}.",
            "app_id": f"{self.app_id}-{self.namespace}",
            "clickhouse_url": urlunsplit(parts._replace(path=f"/{database}")),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)
        return self

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            if not _HOST_PORT.match(server.strip()):
                raise ValueError(f"{server!r} is not host:port, e.g. 127.0.0.1:9092")
        return value

    @field_validator("alertmanager_url")
    @classmethod
    def _check_alertmanager_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("expected http://host:port, e.g. http://127.0.0.1:9093 (or empty)")
        return value

    @field_validator("clickhouse_url")
    @classmethod
    def _check_clickhouse_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("clickhouse", "clickhouses") or not parts.hostname:
            raise ValueError(
                "expected clickhouse://user@host:port/database (clickhouses:// for TLS)"
            )
        if not parts.path.strip("/") or not re.fullmatch(r"\w+", parts.path.strip("/")):
            raise ValueError("the URL must end in a database name made of letters, digits and _")
        try:
            parts.port  # noqa: B018 - urlsplit validates the port lazily
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        return value

    @property
    def kafka_port(self) -> int:
        """Port of the first bootstrap server: the one the local stack runs."""
        return int(self.kafka_bootstrap.split(",")[0].rsplit(":", 1)[1])

    @property
    def clickhouse_port(self) -> int:
        return urlsplit(self.clickhouse_url).port or 9000

    @property
    def clickhouse_database(self) -> str:
        return urlsplit(self.clickhouse_url).path.strip("/")

    def clickhouse_url_in(self, database: str) -> str:
        """The ClickHouse URL with another database (its server, user and options kept)."""
        return urlunsplit(urlsplit(self.clickhouse_url)._replace(path=f"/{database}"))

    def topic(self, base: str) -> str:
        """The full name of a catalogue topic, with this deployment's prefix."""
        return f"{self.topic_prefix}{base}"

    def as_env(self, **overrides: str) -> dict[str, str]:
        """The ``SENTINEL_*`` variables that give a subprocess these settings (secrets in clear),
        plus overrides by field name: ``as_env(kafka_user="worker")``."""
        env = {}
        for name, value in self.model_dump().items():
            text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            env[f"{ENV_PREFIX}{name.upper()}"] = text
        env.update({f"{ENV_PREFIX}{k.upper()}": v for k, v in overrides.items()})
        return env


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from ``SENTINEL_*`` variables, or raise :class:`ConfigError`.

    A misspelt variable (``SENTINEL_KAFKA_BOOTSRAP``) is an error rather than silently ignored.
    """
    env = os.environ if environ is None else environ
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(
        k
        for k in env
        if k.startswith(ENV_PREFIX) and k not in known and not k.startswith(STACK_PREFIX)
    )
    if unknown:
        hints = []
        for name in unknown:
            close = get_close_matches(name, known, n=1, cutoff=0.75)
            hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
        raise ConfigError(
            f"unknown setting {', '.join(hints)}; the settings are listed in README.md "
            "(Settings) and by `sentinel --help`"
        )
    values: dict[str, Any] = {k[len(ENV_PREFIX) :].lower(): v for k, v in env.items() if k in known}
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            var = f"{ENV_PREFIX}{field.upper()}"
            info = Settings.model_fields.get(field)
            description = info.description if info else ""
            problems.append(
                f"{var}={env.get(var, '')!r}: {err['msg']}"
                + (f" (expected: {description})" if description else "")
            )
        raise ConfigError("bad setting: " + "; ".join(problems)) from None

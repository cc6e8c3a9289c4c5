"""The secrets a process needs: the pseudonym key (:func:`pseudonym_key`), and who our clients are
to Kafka and how they reach it: a SCRAM-SHA-512 user over TLS (the default), or nobody in
particular over plaintext (``SENTINEL_KAFKA_SECURITY=plaintext``, for a laptop's broker).

The local stack (``workbench/stack/secrets.py``) makes the users' passwords and the pseudonym key,
kept in ``<state_dir>/secrets`` (mode 0600), and the CA that signed the broker's certificate,
``<state_dir>/tls/ca.pem``; a deployment gives ``SENTINEL_KAFKA_PASSWORD`` and
``SENTINEL_KAFKA_CA_FILE`` instead. What each user may do is granted with the topics
(``streams/topics.py``, :func:`grants`).
"""

from __future__ import annotations

import base64
import hmac
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

from pydantic import SecretStr

from streams.settings import ConfigError, Settings

MECHANISM = "SCRAM-SHA-512"
# ClickHouse's users in the local stack: default (the admin: migrations), worker (inserts and
# reads; allow_ddl=0), analyst (reads, within limits and a quota): deploy/clickhouse/users.xml.
CLICKHOUSE_USERS = ("default", "worker", "analyst")
# The Kafka users of the local stack: admin (the super user: the stack, topics, grants, the
# workbench playing gates and labs), worker (the pipeline, and `sentinel dlq`: only it reads raw
# bytes), gate and lab (each writes its own raw topics, nothing else), operator (the officers' and
# operators' other commands: what each needs, no raw topic, no dead letter).
USERS = ("admin", "worker", "gate", "lab", "operator")


# Printed in this repository (tests, examples): whoever knows a pseudonym key reverses every
# pseudonym by trying all valid ID numbers, so a worker takes it only in development.
PUBLIC_PSEUDONYM_KEY = "dev-only-change-me"


def pseudonym_key(settings: Settings) -> bytes:
    """The key pseudonyms are made with; refused when it is the public one, outside development."""
    key = settings.pseudonym_key.get_secret_value()
    if not key:
        key = _stack_secret(
            pseudonym_key_file(settings),
            "SENTINEL_PSEUDONYM_KEY is not set: give the park's secret key (32 random characters "
            "or more, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)",
        )
    if key == PUBLIC_PSEUDONYM_KEY and settings.environment != "development":
        raise ConfigError(
            "SENTINEL_PSEUDONYM_KEY is the public development key printed in this repository: "
            "anyone who knows it reverses every pseudonym; set a secret one (32 random "
            "characters or more), or SENTINEL_ENVIRONMENT=development for a trial"
        )
    return key.encode()


HTTP_USER = "operator"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def check_http_exposure(settings: Settings) -> None:
    """The board shows plates and decisions, /metrics the pipeline: beyond this machine only
    behind a password."""
    if settings.http_host in _LOOPBACK or settings.http_password.get_secret_value():
        return
    raise ConfigError(
        f"SENTINEL_HTTP_HOST={settings.http_host} serves the gate board and /metrics beyond this "
        "machine: set SENTINEL_HTTP_PASSWORD (and SENTINEL_METRICS_TOKEN for Prometheus), or "
        "bind 127.0.0.1"
    )


def http_allowed(settings: Settings, path: str, authorization: str | None) -> bool:
    """Whether a request to read the worker's HTTP server may be answered: anything when no
    password is set (loopback only, :func:`check_http_exposure`); else basic auth as
    ``operator``, or on /metrics the bearer token. An action needs more:
    :func:`http_act_allowed`."""
    password = settings.http_password.get_secret_value()
    if not password:
        return True
    given = authorization or ""
    token = settings.metrics_token.get_secret_value()
    if path == "/metrics" and token and hmac.compare_digest(given, f"Bearer {token}"):
        return True
    return _basic_matches(given, password)


def http_act_allowed(password: str, authorization: str | None) -> bool:
    """Whether an action on the board (an officer's resolution, an acknowledgement) may be
    taken: always with the operator's credential, on loopback too (a shared host's other users
    are not trusted); with no password known (:func:`board_password`), never."""
    return bool(password) and _basic_matches(authorization or "", password)


def board_password(settings: Settings) -> str:
    """The operator's password for the board's actions: ``SENTINEL_HTTP_PASSWORD``, else the one
    the local stack made (``<state_dir>/secrets/http-operator``); empty when there is neither,
    and then the board takes no action."""
    given = settings.http_password.get_secret_value()
    if given:
        return given
    try:
        return board_password_file(settings).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def board_password_file(settings: Settings) -> Path:
    return secrets_dir(settings) / f"http-{HTTP_USER}"


def _basic_matches(given: str, password: str) -> bool:
    expected = base64.b64encode(f"{HTTP_USER}:{password}".encode()).decode()
    return hmac.compare_digest(given.encode(), f"Basic {expected}".encode())


def pseudonym_key_file(settings: Settings) -> Path:
    return secrets_dir(settings) / "pseudonym-key"


def secrets_dir(settings: Settings) -> Path:
    return settings.state_dir / "secrets"


def password_file(settings: Settings, user: str) -> Path:
    return secrets_dir(settings) / f"kafka-{user}"


def ca_file(settings: Settings) -> Path:
    return Path(settings.kafka_ca_file) if settings.kafka_ca_file else tls_dir(settings) / "ca.pem"


def tls_dir(settings: Settings) -> Path:
    return settings.state_dir / "tls"


def as_user(settings: Settings, user: str) -> Settings:
    """The same settings, as another Kafka user (with the local stack's password for it)."""
    return settings.model_copy(update={"kafka_user": user, "kafka_password": SecretStr("")})


def password(settings: Settings) -> str:
    return settings.kafka_password.get_secret_value() or _stack_secret(
        password_file(settings, settings.kafka_user),
        f"no Kafka password for user {settings.kafka_user!r}: set SENTINEL_KAFKA_PASSWORD",
    )


def _stack_secret(path: Path, missing: str) -> str:
    """A secret the local stack made; when there is none, ``missing`` and where it would be."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        raise ConfigError(
            f"{missing}, or start the local stack (`sentinel stack up` writes {path})"
        ) from None


def clickhouse_url(settings: Settings) -> str:
    """The ClickHouse URL to connect with, as the URL's user (the worker's: it inserts and reads,
    and changes no table), its password filled in."""
    parts = urlsplit(settings.clickhouse_url)
    return _with_user(parts, parts.username or "default", clickhouse_password(settings))


def clickhouse_admin_url(settings: Settings, database: str | None = None) -> str:
    """The same server and database (or ``database``) as the admin user, who makes and changes
    tables: migrations, a test's or a bench run's database dropped."""
    parts = urlsplit(settings.clickhouse_url)
    if database is not None:
        parts = parts._replace(path=f"/{database}")
    return _with_user(parts, settings.clickhouse_admin_user, clickhouse_admin_password(settings))


def clickhouse_password(settings: Settings) -> str:
    """The URL user's password: the setting, the URL's own, or the local stack's."""
    parts = urlsplit(settings.clickhouse_url)
    given = settings.clickhouse_password.get_secret_value() or unquote(parts.password or "")
    return given or _clickhouse_stack_password(
        settings, parts.username or "default", "SENTINEL_CLICKHOUSE_PASSWORD"
    )


def clickhouse_admin_password(settings: Settings) -> str:
    given = settings.clickhouse_admin_password.get_secret_value()
    return given or _clickhouse_stack_password(
        settings, settings.clickhouse_admin_user, "SENTINEL_CLICKHOUSE_ADMIN_PASSWORD"
    )


def clickhouse_password_file(settings: Settings, user: str) -> Path:
    return secrets_dir(settings) / f"clickhouse-{user}"


def _clickhouse_stack_password(settings: Settings, user: str, setting: str) -> str:
    return _stack_secret(
        clickhouse_password_file(settings, user),
        f"no ClickHouse password for user {user!r}: set {setting}",
    )


def _with_user(parts: SplitResult, user: str, password: str) -> str:
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def kafka_python(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's clients."""
    if settings.kafka_security == "plaintext":
        return {"bootstrap_servers": settings.kafka_bootstrap}
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": MECHANISM,
        "sasl_plain_username": settings.kafka_user,
        "sasl_plain_password": password(settings),
        "ssl_context": ssl_context(settings),
    }


PRODUCER_CLOSE_SECONDS = 30.0
"""How long closing a kafka-python producer may take: an idempotent one that never got its
producer id (nothing sent, or no broker reached) waits for it forever in kafka-python 2.3."""


def kafka_producer(settings: Settings, *, idempotent: bool = True) -> dict[str, Any]:
    """Keyword arguments for kafka-python's producers: written by every in-sync replica (acks=all,
    ``SENTINEL_MIN_INSYNC_REPLICAS`` of them at least), and, ``idempotent``, once only, in order,
    when a send is retried. Close them with ``close(timeout=PRODUCER_CLOSE_SECONDS)``.

    The operators' commands (``resolve``, ``rules publish``, ``dlq``, ``quarantine``) send a
    few records and wait for each: not idempotent, since an idle idempotent producer waits its
    close timeout out, and a record they retried is one their readers count once by its id."""
    return kafka_python(settings) | {"acks": "all", "enable_idempotence": idempotent}


def librdkafka(settings: Settings) -> dict[str, str]:
    """The same, in librdkafka's names (Quix Streams' ``ConnectionConfig``, in the bench)."""
    if settings.kafka_security == "plaintext":
        return {"bootstrap_servers": settings.kafka_bootstrap}
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": MECHANISM,
        "sasl_username": settings.kafka_user,
        "sasl_password": password(settings),
        "ssl_ca_location": str(_existing_ca(settings).resolve()),
    }


def pinned(settings: Settings) -> Settings:
    """The same settings with the local stack's secrets written in (the users' passwords, the CA
    by absolute path, the pseudonym key): for a process whose state directory is elsewhere."""
    update: dict[str, Any] = {
        "pseudonym_key": SecretStr(pseudonym_key(settings).decode()),
        "clickhouse_password": SecretStr(clickhouse_password(settings)),
        "clickhouse_admin_password": SecretStr(clickhouse_admin_password(settings)),
    }
    if settings.kafka_security == "sasl_ssl":
        update["kafka_password"] = SecretStr(password(settings))
        update["kafka_ca_file"] = str(_existing_ca(settings).resolve())
    return settings.model_copy(update=update)


def aiokafka(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's clients: the same names as kafka-python's."""
    return kafka_python(settings)


def faust_credentials(settings: Settings) -> Any:
    """Faust's ``broker_credentials`` (None: plaintext)."""
    if settings.kafka_security == "plaintext":
        return None
    from faust import SASLCredentials

    return SASLCredentials(
        username=settings.kafka_user,
        password=password(settings),
        ssl_context=ssl_context(settings),
        mechanism=MECHANISM,
    )


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """Trusts only our CA, checks the broker's name."""
    return ssl.create_default_context(cafile=str(_existing_ca(settings)))


def _existing_ca(settings: Settings) -> Path:
    path = ca_file(settings)
    if not path.is_file():
        raise ConfigError(
            f"no CA certificate at {path}: set SENTINEL_KAFKA_CA_FILE to the PEM file of the CA "
            "that signed the broker's certificate, or start the local stack (`sentinel stack up`)"
        )
    return path

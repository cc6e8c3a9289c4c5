"""The local stack's own ports: what `sentinel stack up` listens on besides the addresses the
product reaches Kafka and ClickHouse by (``SENTINEL_KAFKA_BOOTSTRAP``, ``SENTINEL_CLICKHOUSE_URL``).
A deployment's brokers and servers have ports of their own, so these are not the product's
settings: they are ``SENTINEL_STACK_*`` variables, read here and only by the stack."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.settings import ConfigError

PREFIX = "SENTINEL_STACK_"


class StackPorts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka_controller_port: int = Field(
        9093, ge=1, le=65535, description="KRaft controller port of the local broker"
    )
    clickhouse_http_port: int = Field(
        8123, ge=1, le=65535, description="HTTP port of the local ClickHouse"
    )
    clickhouse_tls_port: int = Field(
        9440,
        ge=1,
        le=65535,
        description="native protocol over TLS of the local ClickHouse (a clickhouses:// URL; "
        "the stack's CA, <state_dir>/tls/ca.pem, signs its certificate)",
    )
    clickhouse_interserver_port: int = Field(
        9009,
        ge=1,
        le=65535,
        description="interserver HTTP port of the local ClickHouse (replicas fetch parts on it)",
    )
    zookeeper_port: int = Field(
        2181,
        ge=1,
        le=65535,
        description="client port of the local ZooKeeper (a replicated ClickHouse's coordinator)",
    )


def variable(field: str) -> str:
    return f"{PREFIX}{field.upper()}"


def load_ports(environ: Mapping[str, str] | None = None) -> StackPorts:
    """The ports from ``SENTINEL_STACK_*`` variables, or :class:`ConfigError` naming the one
    that is wrong (a misspelt one included)."""
    env = os.environ if environ is None else environ
    known = {variable(name): name for name in StackPorts.model_fields}
    unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known)
    if unknown:
        raise ConfigError(
            f"unknown setting {', '.join(unknown)}; the local stack's ports are "
            f"{', '.join(sorted(known))} (README.md, Settings)"
        )
    try:
        return StackPorts(**{name: env[var] for var, name in known.items() if var in env})
    except ValidationError as exc:
        problems = [
            f"{variable(str(err['loc'][0]))}={env.get(variable(str(err['loc'][0])), '')!r}: "
            f"{err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError("bad setting: " + "; ".join(problems)) from None

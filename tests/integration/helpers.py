"""Small clients for integration tests: real kafka-python and clickhouse-driver, no mocks."""

from __future__ import annotations

import os
import time
from typing import Any

from clickhouse_driver import Client
from kafka import KafkaConsumer, KafkaProducer

from streams.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a subprocess these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    for name, value in settings.model_dump().items():
        text = settings.pseudonym_key.get_secret_value() if name == "pseudonym_key" else str(value)
        env[f"SENTINEL_{name.upper()}"] = text
    return env


def produce(settings: Settings, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        for key, value in messages:
            producer.send(settings.topic(topic), key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()


def consume_all(settings: Settings, topic: str, *, until: int, timeout: float = 60) -> list[Any]:
    """Read ``topic`` from the beginning until ``until`` records have arrived or time is up."""
    consumer = KafkaConsumer(
        settings.topic(topic),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=500,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < until and time.monotonic() < deadline:
            records.extend(consumer)
    finally:
        consumer.close()
    return records


def query(settings: Settings, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    client = Client.from_url(settings.clickhouse_url)
    try:
        return list(client.execute(sql, params))
    finally:
        client.disconnect()


def poll_query(
    settings: Settings, sql: str, params: dict[str, Any], *, rows: int, timeout: float = 60
) -> list[Any]:
    """Repeat ``sql`` until it returns ``rows`` rows (or time is up); return the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = query(settings, sql, params)
        if len(result) >= rows or time.monotonic() > deadline:
            return result
        time.sleep(0.3)

"""Small clients for integration tests: real kafka-python, clickhouse-driver and worker
processes, no mocks."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clickhouse_driver import Client
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from streams.agents.web import BOARD_URL_MARKER
from streams.migrate import migrate
from streams.settings import Settings
from streams.simulator.playback import envelope
from streams.simulator.playback import produce as produce_events
from streams.topics import RAW_TO_CANONICAL, create_topics, spec
from streams.worker import READY_MARKER, wait_for_ready


@contextlib.contextmanager
def isolated(stack_settings: Settings) -> Iterator[Settings]:
    """Fresh topics, consumer group and database on the running stack; removed afterwards."""
    run = uuid.uuid4().hex[:10]
    database = f"it_{run}"
    settings = stack_settings.model_copy(
        update={
            "topic_prefix": f"it-{run}.",
            "app_id": f"it-{run}",
            "clickhouse_url": stack_settings.clickhouse_url.rsplit("/", 1)[0] + f"/{database}",
        }
    )
    create_topics(settings)
    migrate(settings.clickhouse_url, database)
    try:
        yield settings
    finally:
        server = settings.model_copy(
            update={"clickhouse_url": settings.clickhouse_url.rsplit("/", 1)[0] + "/default"}
        )
        query(server, f"DROP DATABASE IF EXISTS {database}")
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            ours = [
                t
                for t in admin.list_topics()
                if t.startswith((settings.topic_prefix, settings.app_id + "-"))
            ]
            if ours:
                admin.delete_topics(ours)
        finally:
            admin.close()


def settings_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment that gives a subprocess these settings (plus SENTINEL_<NAME> overrides)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    for name, value in settings.model_dump().items():
        text = settings.pseudonym_key.get_secret_value() if name == "pseudonym_key" else str(value)
        env[f"SENTINEL_{name.upper()}"] = text
    env.update({f"SENTINEL_{k.upper()}": v for k, v in overrides.items()})
    return env


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_file: Path

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def readies(self) -> list[str]:
        """Its "worker ready" lines, one per rebalance, with how many partitions it holds."""
        return [line for line in self.log().splitlines() if READY_MARKER in line]

    def wait_rebalanced(self, before: int, timeout: float = 60) -> None:
        """Wait until it has logged more than ``before`` ready lines: a rebalance, its tables
        restored."""
        deadline = time.monotonic() + timeout
        while len(self.readies()) <= before:
            assert time.monotonic() < deadline, f"no rebalance in {timeout:.0f}s"
            time.sleep(0.5)

    def board_url(self, timeout: float = 30) -> str:
        """The URL its HTTP server logged (gate board at /, metrics at /metrics)."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(rf"{BOARD_URL_MARKER} (http://\S+/)", self.log())
            if found:
                return found.group(1)
            assert time.monotonic() < deadline, "the worker logged no board URL"
            time.sleep(0.2)


@contextlib.contextmanager
def running_worker(
    settings: Settings, directory: Path, ready_timeout: float = 90, **overrides: str
) -> Iterator[Worker]:
    """A `sentinel worker` subprocess, ready (partitions assigned); stopped on exit. Its HTTP
    server takes a free port unless ``http_port`` is given (see ``Worker.board_url``)."""
    log_file = directory / f"worker-{uuid.uuid4().hex[:6]}.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=settings_env(settings, **{"http_port": "0", **overrides}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_ready(log_file, 0, timeout=ready_timeout, is_alive=lambda: process.poll() is None)
        yield Worker(process, log_file)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def produce(settings: Settings, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    try:
        for key, value in messages:
            producer.send(settings.topic(topic), key=key, value=value)
        producer.flush(timeout=60)
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


class Tail:
    """Follows a topic from its beginning; ``wait`` returns once a predicate holds."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.records: list[Any] = []
        self._consumer = KafkaConsumer(
            settings.topic(topic),
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            consumer_timeout_ms=300,
        )

    def wait(self, predicate: Any, timeout: float = 60, what: str = "") -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            self.records.extend(self._consumer)
            matching = [r for r in self.records if predicate(r)]
            if matching:
                return matching
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or 'a record'}")

    def close(self) -> None:
        self._consumer.close()


# The topics the worker's consumer group reads (its lag is what is left to process); every
# worker reads the compacted reference topics whole, outside the group.
GROUP_TOPICS = (
    *RAW_TO_CANONICAL,
    *(t for t in RAW_TO_CANONICAL.values() if not spec(t).compacted),
    "sentinel.person-checks", "sentinel.person-verdicts", "sentinel.decisions", "sentinel.alerts",
)  # fmt: skip


def group_lag(settings: Settings) -> int:
    """Messages the worker group has not committed yet, over every topic it reads."""
    return group_lag_of(settings, *GROUP_TOPICS)


def group_lag_of(settings: Settings, *topics: str) -> int:
    """Messages the worker group has not committed yet on ``topics`` (catalogue names)."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        committed = admin.list_consumer_group_offsets(settings.app_id)
        partitions = [
            TopicPartition(settings.topic(t), p) for t in topics for p in range(spec(t).partitions)
        ]
        ends = consumer.end_offsets(partitions)
        return sum(
            end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items()
        )
    finally:
        consumer.close()
        admin.close()


def send_events(settings: Settings, events: list[tuple[str, Any]], label: str) -> None:
    """Raw events, (topic, event) pairs, to their topics in this order, with progress."""
    produce_events(
        settings, [envelope(topic, event) for topic, event in events], len(events), label=label
    )


def drained(settings: Settings, timeout: float = 180) -> None:
    """Wait until the worker group has processed and committed everything sent."""
    deadline = time.monotonic() + timeout
    while group_lag(settings):
        assert time.monotonic() < deadline, f"lag {group_lag(settings)} after {timeout:.0f}s"
        time.sleep(1)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MiB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")

"""Small clients for integration tests: real kafka-python, clickhouse-driver and worker
processes, no mocks."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clickhouse_driver import Client
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from streams import access
from streams.agents.board import BOARD_URL_MARKER
from streams.agents.decide import RAW_TOPICS
from streams.agents.local import LocalStore
from streams.jsonl import envelope
from streams.migrate import drop_database as drop
from streams.migrate import migrate
from streams.progress import busy, wait_while_moving
from streams.settings import Settings
from streams.sink.rows import MAPPERS
from streams.status import group_lag as lag_of
from streams.topics import CATALOGUE, create_topics, spec
from streams.worker import READY_MARKER, wait_for_ready
from workbench.playback import produce as produce_events


@contextlib.contextmanager
def isolated(stack_settings: Settings) -> Iterator[Settings]:
    """Fresh topics, consumer group and database on the running stack; removed afterwards."""
    run = uuid.uuid4().hex[:10]
    database = f"it_{run}"
    settings = stack_settings.model_copy(
        update={
            "topic_prefix": f"it-{run}.",
            "app_id": f"it-{run}",
            "clickhouse_url": stack_settings.clickhouse_url_in(database),
        }
    )
    create_topics(settings)
    migrate(access.clickhouse_admin_url(settings), database, settings.clickhouse_cluster)
    try:
        yield settings
    finally:
        LocalStore.of(settings).remove()
        drop_database(settings)
        admin = KafkaAdminClient(**access.kafka_python(settings))
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
    return env | settings.as_env(**overrides)


# How long a wait in these tests lets nothing move (no offset, no row, no log line, no CPU)
# before it fails: waits follow progress, never a time sized for one machine.
STALL = 120.0


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_file: Path

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def readies(self) -> list[str]:
        """Its "worker ready" lines, one per rebalance, with how many partitions it holds."""
        return [line for line in self.log().splitlines() if READY_MARKER in line]

    def signs(self) -> tuple[int, int]:
        """Signs that it is doing something: its log growing, CPU spent."""
        return self.log_file.stat().st_size, busy(self.process.pid)()

    def metric(self, name: str) -> float:
        """The value of a metric without labels on its /metrics."""
        with urllib.request.urlopen(f"{self.board_url()}metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(f"{name} "):
                    return float(line.split()[1])
        raise AssertionError(f"no metric {name}")

    def metric_of(self, name: str, **labels: str) -> float | None:
        """The value of a metric's sample with these labels on its /metrics (None: none)."""
        wanted = {f'{k}="{v}"' for k, v in labels.items()}
        with urllib.request.urlopen(f"{self.board_url()}metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(f"{name}{{"):
                    sample, value = line.rsplit(" ", 1)
                    if set(sample[len(name) + 1 : -1].split(",")) >= wanted:
                        return float(value)
        return None

    def metric_sum(self, name: str) -> float:
        """The sum of a metric's samples over all its labels (0 when it has none yet)."""
        with urllib.request.urlopen(f"{self.board_url()}metrics", timeout=10) as response:
            lines = response.read().decode().splitlines()
        return sum(float(line.split()[-1]) for line in lines if re.match(rf"{name}[{{ ]", line))

    def wait_rebalanced(self, before: int) -> None:
        """Wait until it has logged more than ``before`` ready lines: a rebalance, its tables
        restored."""
        wait_while_moving(
            lambda: len(self.readies()) > before, self.signs, what="a rebalance", stall=STALL
        )

    def board_url(self) -> str:
        """The URL its HTTP server logged (gate board at /, metrics at /metrics)."""
        found = wait_while_moving(
            lambda: re.search(rf"{BOARD_URL_MARKER} (http://\S+/)", self.log()),
            self.signs,
            what="the board's URL in the worker log",
            stall=STALL,
        )
        return found.group(1)


@contextlib.contextmanager
def running_worker(settings: Settings, directory: Path, **overrides: str) -> Iterator[Worker]:
    """A `sentinel worker` subprocess, ready (partitions assigned); stopped on exit. Its HTTP
    server takes a free port unless ``http_port`` is given (see ``Worker.board_url``)."""
    log_file = directory / f"worker-{uuid.uuid4().hex[:6]}.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=settings_env(settings, **{"http_port": "0", "kafka_user": "worker", **overrides}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_ready(log_file, 0, process.pid, is_alive=lambda: process.poll() is None)
        yield Worker(process, log_file)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def produce(settings: Settings, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(**access.kafka_python(settings), acks="all", linger_ms=5)
    try:
        for key, value in messages:
            producer.send(settings.topic(topic), key=key, value=value)
        producer.flush(timeout=60)
    finally:
        producer.close()


def read_all(settings: Settings, topic: str) -> list[Any]:
    """Every record of ``topic`` (a catalogue name), from its beginning to the end it has now."""
    consumer = KafkaConsumer(**access.kafka_python(settings), group_id=None)
    try:
        partitions = [
            TopicPartition(settings.topic(topic), p)
            for p in range(spec(topic).partitions(settings))
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        records: list[Any] = []
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for batch in consumer.poll(timeout_ms=1000).values():
                records += batch
        return records
    finally:
        consumer.close()


def consume_until(settings: Settings, topic: str, count: int) -> list[Any]:
    """Read ``topic`` from its beginning until it holds ``count`` records, for as long as the
    namespace moves (see :class:`Activity`)."""
    if count <= 0:
        return read_all(settings, topic)
    activity = Activity(settings)
    try:
        return wait_while_moving(
            lambda: records if len(records := read_all(settings, topic)) >= count else None,
            activity,
            what=f"{count} records on {topic}",
            stall=STALL,
        )
    finally:
        activity.close()


def drop_database(settings: Settings, database: str | None = None) -> None:
    """Drop the settings' database (or ``database``), as the admin: the worker's user changes no
    table."""
    drop(
        access.clickhouse_admin_url(settings),
        database or settings.clickhouse_database,
        settings.clickhouse_cluster,
    )


def query(settings: Settings, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    client = Client.from_url(access.clickhouse_url(settings))
    try:
        return list(client.execute(sql, params))
    finally:
        client.disconnect()


def poll_query(settings: Settings, sql: str, params: dict[str, Any], *, rows: int) -> list[Any]:
    """Repeat ``sql`` until it returns ``rows`` rows, for as long as the namespace moves."""
    activity = Activity(settings)
    try:
        return wait_while_moving(
            lambda: result if len(result := query(settings, sql, params)) >= rows else None,
            activity,
            what=f"{rows} rows from {sql[:60]}...",
            stall=STALL,
        )
    finally:
        activity.close()


def admin_client(settings: Settings) -> KafkaAdminClient:
    """An admin client, even just after a broker of a cluster was lost: kafka-python's asks the
    broker named as controller for its version at once, and KRaft names one at random, which
    was the dead one in a failover test. Asked again, for up to ``STALL`` seconds, until the
    metadata names a live one."""
    from kafka.errors import NodeNotReadyError

    deadline = time.monotonic() + STALL
    while True:
        try:
            return KafkaAdminClient(**access.kafka_python(settings))
        except NodeNotReadyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


class Activity:
    """Signs that a namespace's pipeline is moving, for :func:`wait_while_moving`: the end
    offsets of its topics (something was sent) and its worker group's committed offsets
    (something was processed)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._admin = admin_client(settings)
        self._consumer = KafkaConsumer(**access.kafka_python(settings))
        self._partitions = [
            TopicPartition(settings.topic(t.name), p)
            for t in CATALOGUE
            for p in range(t.partitions(settings))
        ]

    def __call__(self) -> tuple[int, int]:
        ends = sum(self._consumer.end_offsets(self._partitions).values())
        committed = self._admin.list_consumer_group_offsets(self._settings.app_id)
        return ends, sum(o.offset for o in committed.values())

    def close(self) -> None:
        self._consumer.close()
        self._admin.close()


class Tail:
    """Follows a topic from its beginning; ``wait`` returns once a predicate holds."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.records: list[Any] = []
        self._activity = Activity(settings)
        self._consumer = KafkaConsumer(
            settings.topic(topic),
            **access.kafka_python(settings),
            group_id=None,
            auto_offset_reset="earliest",
            consumer_timeout_ms=300,
        )

    def wait(self, predicate: Any, what: str = "a record") -> list[Any]:
        """The records that satisfy ``predicate``, once there is one: for as long as the
        namespace moves."""

        def matching() -> list[Any]:
            self.records.extend(self._consumer)
            return [r for r in self.records if predicate(r)]

        return wait_while_moving(matching, self._activity, what=what, stall=STALL, interval=0)

    def matching(self, predicate: Any) -> list[Any]:
        """The records read so far, and those arrived since, that satisfy ``predicate``."""
        self.records.extend(self._consumer)
        return [r for r in self.records if predicate(r)]

    def close(self) -> None:
        self._consumer.close()
        self._activity.close()


# What a worker's groups read: the decide stage's (``<app id>``) the raw topics, the sink's
# (``<app id>.sink``) what goes to ClickHouse, the dispatcher's (``<app id>.dispatch``, Faust's)
# the alerts. Their lag is what is left to do.
GROUP_TOPICS = RAW_TOPICS
SINK_TOPICS = tuple(MAPPERS)
DISPATCH_TOPICS = ("sentinel.alerts",)


def group_of(settings: Settings, topic: str) -> str:
    """The worker's consumer group that commits ``topic`` (a raw topic or an alert's)."""
    return f"{settings.app_id}.dispatch" if topic in DISPATCH_TOPICS else settings.app_id


def group_lag(settings: Settings) -> int:
    """Messages not processed and committed yet: by the decide stage, and by the sink."""
    return group_lag_of(settings, *GROUP_TOPICS) + group_lag_of(
        settings, *SINK_TOPICS, group=f"{settings.app_id}.sink"
    )


def group_lag_of(settings: Settings, *topics: str, group: str | None = None) -> int:
    """Messages a group (the worker's by default) has not committed yet on ``topics``."""
    admin = admin_client(settings)
    consumer = KafkaConsumer(**access.kafka_python(settings))
    try:
        return lag_of(admin, consumer, settings, group or settings.app_id, topics)
    finally:
        consumer.close()
        admin.close()


def send_events(settings: Settings, events: list[tuple[str, Any]], label: str) -> None:
    """Raw events, (topic, event) pairs, to their topics in this order, with progress."""
    produce_events(
        settings, [envelope(topic, event) for topic, event in events], len(events), label=label
    )


def drained(settings: Settings, *topics: str) -> None:
    """Wait until the worker group has processed and committed everything sent (on ``topics``,
    catalogue names; all it reads by default), for as long as the namespace moves."""
    activity = Activity(settings)
    try:
        wait_while_moving(
            lambda: (
                (
                    sum(group_lag_of(settings, t, group=group_of(settings, t)) for t in topics)
                    if topics
                    else group_lag(settings)
                )
                == 0
            ),
            activity,
            what="the worker group to commit everything sent",
            stall=STALL,
            interval=1,
        )
    finally:
        activity.close()


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MiB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def sentinel_cli(settings: Settings, *args: str) -> str:
    """``sentinel ARGS`` for this namespace, as the worker user (the operators' commands run as
    it); its output. A failure fails the test, with stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=settings_env(settings, kafka_user="worker"),
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hung command, not a wait
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def on_screen(chrome: Any, selector: str, signs: Callable[[], Any], what: str) -> Any:
    """The first element of the page ``selector`` finds, once there, for as long as ``signs``
    (a worker's) move."""
    from selenium.webdriver.common.by import By

    return wait_while_moving(
        lambda: next(iter(chrome.find_elements(By.CSS_SELECTOR, selector)), None),
        signs,
        what=what,
        stall=STALL,
        interval=0.3,
    )


def off_screen(chrome: Any, selector: str, signs: Callable[[], Any], what: str) -> None:
    """Until the page has no element ``selector`` finds, for as long as ``signs`` move."""
    from selenium.webdriver.common.by import By

    wait_while_moving(
        lambda: not chrome.find_elements(By.CSS_SELECTOR, selector),
        signs,
        what=what,
        stall=STALL,
        interval=0.3,
    )

"""The broker's doors on the real local stack (issue 18): SCRAM-SHA-512 over TLS, every user
granted what it needs and nothing more (``streams/topics.py``, ``grants``)."""

from __future__ import annotations

import base64
import contextlib
import ssl
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, NoBrokersAvailable, TopicAuthorizationFailedError
from pydantic import SecretStr

from streams import access
from streams.settings import Settings
from streams.topics import spec
from tests.integration.helpers import (
    consume_until,
    produce,
    read_all,
    running_worker,
    settings_env,
)


def _producer(settings: Settings, **options: object) -> KafkaProducer:
    return KafkaProducer(**(access.kafka_python(settings) | options), acks="all", max_block_ms=8000)


def _try_to_read(settings: Settings, topic: str) -> list[bytes]:
    """What ``settings``' user gets of ``topic``: refused, nothing, whether the client says so
    at once or only in its log."""
    consumer = KafkaConsumer(**access.kafka_python(settings), group_id=None)
    got: list[bytes] = []
    try:
        count = spec(topic).partitions(settings)
        consumer.assign([TopicPartition(settings.topic(topic), p) for p in range(count)])
        consumer.seek_to_beginning()
        for _ in range(5):
            with contextlib.suppress(TopicAuthorizationFailedError):
                for records in consumer.poll(timeout_ms=1000).values():
                    got += [r.value for r in records]
    finally:
        consumer.close()
    return got


def _refused(settings: Settings, **options: object) -> None:
    """A client that cannot even fetch metadata: the broker would not have it."""
    with pytest.raises((NoBrokersAvailable, KafkaError, ssl.SSLError, OSError)):
        _producer(settings, **options).send(settings.topic("gate.entries"), b"x").get(timeout=8)


def test_the_broker_refuses_whoever_cannot_prove_who_they_are(
    settings: Settings, tmp_path: Path
) -> None:
    gate = access.as_user(settings, "gate")
    _refused(settings.model_copy(update={"kafka_security": "plaintext"}))  # no TLS, no user
    _refused(gate.model_copy(update={"kafka_password": SecretStr("not-the-password")}))
    # A TLS client that trusts another CA (the system's) does not take the broker's certificate.
    _refused(gate, ssl_context=ssl.create_default_context())
    # The control: the same user with its password and our CA is let in.
    _producer(gate).send(settings.topic("gate.entries"), b"fine").get(timeout=30)


def test_a_gate_writes_its_own_raw_topics_and_nothing_else(settings: Settings) -> None:
    gate = access.as_user(settings, "gate")
    producer = _producer(gate)
    producer.send(settings.topic("gate.exits"), key=b"p", value=b"an exit").get(timeout=30)
    with pytest.raises(TopicAuthorizationFailedError):
        producer.send(settings.topic("canonical.entries"), b"forged").get(timeout=30)
    produce(settings, "sentinel.dlq", [(b"gate.exits", b"a dead letter")])
    for topic in ("gate.exits", "sentinel.dlq"):  # each holds one record, which it never gets
        assert _try_to_read(gate, topic) == [], topic
    admin = KafkaAdminClient(**access.kafka_python(gate))
    try:
        with pytest.raises(KafkaError, match="Authorization"):
            admin.create_topics([NewTopic(settings.topic("gate.mine"), 1, 1)])
    finally:
        admin.close()
    # A lab may not write a gate's topic either; what the gate wrote arrived, and nothing else.
    with pytest.raises(TopicAuthorizationFailedError):
        _producer(access.as_user(settings, "lab")).send(settings.topic("gate.exits"), b"x").get(30)
    assert [r.value for r in read_all(settings, "gate.exits")] == [b"an exit"]
    assert read_all(settings, "canonical.entries") == []


def test_the_secrets_are_private_and_a_worker_prints_none(
    settings: Settings, tmp_path: Path
) -> None:
    secrets = [access.password(access.as_user(settings, user)) for user in access.USERS]
    for user in access.USERS:
        mode = access.password_file(settings, user).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600, user
    with running_worker(settings, tmp_path, log_level="debug") as worker:
        _producer(access.as_user(settings, "gate")).send(
            settings.topic("gate.entries"), key=b"p", value=b"{}"
        ).get(timeout=30)
        consume_until(settings, "sentinel.dlq", 1)  # the worker, let in, read it
        log = worker.log()
    assert not [s for s in secrets if s in log]


def _status(url: str, authorization: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": authorization or ""})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_the_board_beyond_loopback_asks_for_the_password_and_prometheus_uses_its_token(
    settings: Settings, tmp_path: Path
) -> None:
    guarded = {"http_host": "0.0.0.0", "http_password": "pw-9", "metrics_token": "tok-9"}
    with running_worker(settings, tmp_path, **guarded) as worker:
        url = worker.board_url().replace("0.0.0.0", "127.0.0.1")
        basic = "Basic " + base64.b64encode(b"operator:pw-9").decode()
        assert [_status(url), _status(url + "api/board"), _status(url + "metrics")] == [401] * 3
        assert _status(url + "api/board", basic) == 200
        assert _status(url + "metrics", "Bearer tok-9") == 200
        assert _status(url + "api/board", "Bearer tok-9") == 401
    # Without a password, a worker will not bind beyond loopback: it says so and stops.
    log = tmp_path / "open.log"
    with log.open("wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=settings_env(settings, kafka_user="worker", http_host="0.0.0.0"),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,  # a guard: it refuses before connecting to anything
        )
    assert done.returncode == 2 and "SENTINEL_HTTP_PASSWORD" in log.read_text()

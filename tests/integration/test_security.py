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
from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError
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
from workbench.stack.kafka import KafkaBroker
from workbench.stack.ports import load_ports


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


def test_an_operator_runs_its_commands_and_reads_no_raw_topic_or_dead_letter(
    settings: Settings,
) -> None:
    operator = access.as_user(settings, "operator")
    as_operator = settings_env(access.pinned(operator))
    produce(settings, "gate.entries", [(b"p", b"an entry with an ID number")])
    produce(settings, "sentinel.dlq", [(b"gate.exits", b"a dead letter")])
    commands = (
        ["rules", "publish", "streams/rules/default.yaml"],
        ["quarantine", "list"],
        ["status"],
    )
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", *command],
            env=as_operator,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (command, done.stderr)
    # `sentinel resolve`: the officer's resolution goes in, the workers' answers come back.
    _producer(operator).send(settings.topic("gate.resolutions"), b"{}").get(timeout=30)
    produce(settings, "canonical.resolutions", [(b"p", b"an answer")])
    assert _try_to_read(operator, "canonical.resolutions") == [b"an answer"]
    # What only the workers read (each holds a record), and what only they write.
    for topic in ("gate.entries", "sentinel.dlq"):
        assert _try_to_read(operator, topic) == [], topic
    with pytest.raises(TopicAuthorizationFailedError):
        _producer(operator).send(settings.topic("canonical.entries"), b"forged").get(30)


def test_clickhouse_speaks_tls_to_a_client_that_trusts_our_ca(settings: Settings) -> None:
    """The native TLS port of the local server, as a deployment's ``clickhouses://`` URL uses it:
    the driver checks the server's certificate against the stack's CA."""
    ca = access.ca_file(settings)
    host = f"127.0.0.1:{load_ports().clickhouse_tls_port}/{settings.clickhouse_database}"

    def select_one(query: str) -> object:
        url = f"clickhouses://worker@{host}?{query}"
        client = Client.from_url(
            access.clickhouse_url(settings.model_copy(update={"clickhouse_url": url}))
        )
        try:
            return client.execute("SELECT 1")
        finally:
            client.disconnect()

    assert select_one(f"ca_certs={ca}&verify=true") == [(1,)]
    with pytest.raises((ClickHouseError, ssl.SSLError, OSError)):
        select_one("verify=true")  # the system's CAs do not know ours: refused
    with pytest.raises((ClickHouseError, OSError, EOFError)):  # TLS spoken to the plain port
        Client.from_url(
            access.clickhouse_url(settings).replace("clickhouse://", "clickhouses://", 1)
            + f"?ca_certs={ca}&connect_timeout=5&send_receive_timeout=5"
        ).execute("SELECT 1")


def test_a_stack_made_before_a_user_existed_gets_it_at_the_next_stack_up(
    settings: Settings,
) -> None:
    """The storage tool makes users only when it formats the storage; a user the project adds
    later (as `operator` was) is made by `sentinel stack up` on the running broker."""
    broker = KafkaBroker(settings)
    made = broker.data / ".scram-users"
    before = made.read_text()
    operator = access.as_user(settings, "operator")
    try:
        broker.alter_user("operator", None)  # as a stack formatted before the user existed
        made.write_text(" ".join(u for u in before.split() if u != "operator"))
        _refused(operator)
        said: list[str] = []
        broker.up(said.append)  # running already: only what is missing
        assert said == ["adding Kafka users operator (this stack was made before them)"]
        assert made.read_text().split() == before.split()
        _producer(operator).send(settings.topic("gate.resolutions"), b"{}").get(timeout=30)
    finally:
        if made.read_text() != before:
            made.write_text(before.replace("operator", "").strip())
            broker.up(lambda _: None)


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

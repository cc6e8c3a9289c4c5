"""Fixtures for tests against the real Kafka broker and ClickHouse server.

`make test` starts them (`sentinel stack up`). Each session gets its own topic prefix, consumer
group and ClickHouse database, so runs never see each other's data. With CI=true a missing
service fails the run; on a developer's machine it skips with the command to run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver import Client

from streams.migrate import migrate
from streams.settings import Settings, load_settings
from streams.stack.clickhouse import ClickHouseServer
from streams.stack.kafka import KafkaBroker
from streams.topics import create_topics
from streams.worker import wait_for_ready
from tests.integration.helpers import settings_env

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    """The settings of the stack that `sentinel stack up` started."""
    return load_settings()


@pytest.fixture(scope="session")
def services(stack_settings: Settings) -> None:
    missing = []
    if not KafkaBroker(stack_settings).answers_metadata():
        missing.append(f"Kafka at {stack_settings.kafka_bootstrap}")
    if not ClickHouseServer(stack_settings).answers_select():
        missing.append(f"ClickHouse at 127.0.0.1:{stack_settings.clickhouse_port}")
    if missing:
        message = f"{' and '.join(missing)} not answering; start them with `sentinel stack up`"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def settings(stack_settings: Settings, services: None) -> Iterator[Settings]:
    """Settings isolated to this session: own topics, consumer group and database."""
    run = uuid.uuid4().hex[:10]
    database = f"it_{run}"
    isolated = stack_settings.model_copy(
        update={
            "topic_prefix": f"it-{run}.",
            "app_id": f"it-{run}",
            "clickhouse_url": stack_settings.clickhouse_url.rsplit("/", 1)[0] + f"/{database}",
        }
    )
    create_topics(isolated)
    migrate(isolated.clickhouse_url, database)
    yield isolated
    client = Client.from_url(stack_settings.clickhouse_url)
    try:
        client.execute(f"DROP DATABASE IF EXISTS {database}")
    finally:
        client.disconnect()
    _delete_topics(isolated)


def _delete_topics(settings: Settings) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        existing = set(admin.list_topics())
        ours = [t for t in existing if t.startswith(settings.topic_prefix)]
        ours += [t for t in existing if t.startswith(settings.app_id + "-")]  # Faust's own
        if ours:
            admin.delete_topics(ours)
    finally:
        admin.close()


@pytest.fixture(scope="module")
def worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real `sentinel worker` process on this session's topics; yields its log file."""
    log_file = tmp_path_factory.mktemp("worker") / "worker.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=settings_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_ready(log_file, 0, timeout=90, is_alive=lambda: process.poll() is None)
        yield log_file
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

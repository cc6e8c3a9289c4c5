"""The local ClickHouse server's users (deploy/clickhouse/users.xml): every one has a password; the
`analyst` reads within limits; the `worker` inserts and reads but changes no table; only the
admin (`default`) migrates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException

from streams import access
from streams.settings import Settings


@pytest.fixture
def analyst(settings: Settings) -> Iterator[Client]:
    client = Client(
        host="127.0.0.1",
        port=settings.clickhouse_port,
        user="analyst",
        password=access.clickhouse_password_file(settings, "analyst").read_text().strip(),
        database=settings.clickhouse_database,
    )
    yield client
    client.disconnect()


@pytest.fixture
def worker_user(settings: Settings) -> Iterator[Client]:
    client = Client.from_url(access.clickhouse_url(settings))
    yield client
    client.disconnect()


def test_the_analyst_can_select(analyst: Client) -> None:
    assert analyst.execute("SELECT count() FROM decisions") == [(0,)]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO decisions (decision_id, entry_id) SELECT 'x:0', 'x'",
        "ALTER TABLE decisions DELETE WHERE 1",
        "DROP TABLE decisions",
        "CREATE TABLE scratch (x UInt8) ENGINE = Memory",
    ],
)
def test_the_analyst_cannot_write_or_change_anything(analyst: Client, statement: str) -> None:
    with pytest.raises(ServerException, match="readonly"):
        analyst.execute(statement)
    assert analyst.execute("SELECT count() FROM decisions") == [(0,)]


def test_the_analyst_cannot_pull_more_than_a_million_rows_at_once(analyst: Client) -> None:
    assert len(analyst.execute("SELECT number FROM system.numbers LIMIT 1000000")) == 1_000_000
    with pytest.raises(ServerException, match="Limit for result exceeded"):
        analyst.execute("SELECT number FROM system.numbers LIMIT 1000001")


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE decisions",
        "ALTER TABLE decisions DELETE WHERE 1",
        "CREATE TABLE scratch (x UInt8) ENGINE = Memory",
        "DROP DATABASE {database}",
    ],
)
def test_the_workers_user_inserts_but_changes_no_table(
    worker_user: Client, settings: Settings, statement: str
) -> None:
    assert settings.clickhouse_url.startswith("clickhouse://worker@")
    worker_user.execute("INSERT INTO rulesets (version) SELECT 'inserted-by-the-worker'")
    with pytest.raises(ServerException, match="DDL queries are prohibited"):
        worker_user.execute(statement.format(database=settings.clickhouse_database))
    assert worker_user.execute("SELECT count() FROM rulesets WHERE version LIKE 'inserted%'")[0][0]
    worker_user.execute("SELECT count() FROM decisions")


@pytest.mark.parametrize("user", ["default", "worker", "analyst"])
def test_every_user_needs_its_password(settings: Settings, user: str) -> None:
    for password in ("", "wrong"):
        client = Client(
            host="127.0.0.1", port=settings.clickhouse_port, user=user, password=password
        )
        with pytest.raises(ServerException, match="[Pp]assword"):
            client.execute("SELECT 1")
        client.disconnect()

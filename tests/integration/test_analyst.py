"""The read-only `analyst` ClickHouse user of the local stack (deploy/clickhouse/users.xml)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException

from streams.settings import Settings


@pytest.fixture
def analyst(settings: Settings) -> Iterator[Client]:
    client = Client(
        host="127.0.0.1",
        port=settings.clickhouse_port,
        user="analyst",
        database=settings.clickhouse_database,
    )
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

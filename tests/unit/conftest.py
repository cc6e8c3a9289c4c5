"""Unit tests run with no services: any TCP connection attempt fails the test at once."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from chdb import session as chdb_session

from streams.migrate import apply_migrations, load_migrations
from tests.simulated_tables import Output, pipeline_output, tables, values_sql


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(address: object) -> None:
        if isinstance(address, tuple):
            raise RuntimeError(
                f"unit tests must not open network connections (tried {address}); "
                "put the test under tests/integration"
            )

    def connect(self: socket.socket, address: object) -> None:
        guard(address)
        real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        guard(address)
        return real_connect_ex(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield


@pytest.fixture(scope="session")
def simulated_output() -> Output:
    return pipeline_output()


@pytest.fixture(scope="session")
def simulated_chdb(
    tmp_path_factory: pytest.TempPathFactory, simulated_output: Output
) -> Iterator[Any]:
    """A current ClickHouse (chdb, in-process) holding tests/simulated_tables.py's tables.

    chdb runs one embedded server per process, on one path: once this session is open, a test
    that opens chdb on another path fails ("EmbeddedServer already initialized"). Tests that
    need their own chdb run in a subprocess (test_grafana_analyst.py) or sort before the first
    user of this fixture (test_migrations.py before test_report_sql.py)."""
    session = chdb_session.Session(str(tmp_path_factory.mktemp("chdb")))
    session.query("CREATE DATABASE IF NOT EXISTS sentinel")
    session.query("USE sentinel")

    def execute(sql: str) -> list[tuple[str, ...]]:
        text = session.query(sql, "TabSeparated").bytes().decode()
        return [tuple(line.split("\t")) for line in text.splitlines() if line]

    apply_migrations(execute, "sentinel", load_migrations())
    for table, (columns, rows) in tables(simulated_output).items():
        for start in range(0, len(rows), 2000):
            values = values_sql(rows[start : start + 2000])
            execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")
    yield execute
    session.close()

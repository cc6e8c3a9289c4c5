"""``sentinel migrate``: apply deploy/clickhouse/migrations/NNNN_*.sql in order, once each.

Applied migrations are recorded in ``schema_migrations`` with a checksum; a migration edited after
it was applied is an error (write a new one instead). Tables are never created by a sink.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIGRATIONS_DIR = Path(__file__).parent / "sink" / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime DEFAULT now()
)
ENGINE = MergeTree()
ORDER BY version
"""


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self) -> list[str]:
        return split_statements(self.sql)


def split_statements(sql: str) -> list[str]:
    """Split on ``;`` at the end of a line; drop ``--`` comment lines. No ``;`` inside strings."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(
                f"{path.name}: migration files are named NNNN_lower_snake.sql, e.g. 0002_alerts.sql"
            )
        migrations.append(Migration(int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number in {directory}: {versions}")
    return migrations


Execute = Callable[[str], list[tuple[Any, ...]]]


def apply_migrations(execute: Execute, database: str, migrations: Iterable[Migration]) -> list[str]:
    """Apply what is missing, in order, through ``execute`` (any ClickHouse session).

    ``execute`` runs one statement in ``database`` (which exists) and returns its rows.
    Returns the names of the migrations applied now.
    """
    execute(LEDGER_DDL)
    applied = {
        int(version): checksum
        for version, checksum in execute("SELECT version, checksum FROM schema_migrations")
    }
    done = []
    for migration in migrations:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.name} was changed after it was applied to {database}; "
                    "migrations are append-only: revert the edit and add a new migration"
                )
            continue
        for statement in migration.statements():
            execute(statement)
        execute(
            # INSERT ... SELECT: a VALUES insert would make clickhouse-driver wait for a data block.
            "INSERT INTO schema_migrations (version, name, checksum) "
            f"SELECT {migration.version}, '{migration.name}', '{migration.checksum}'"
        )
        done.append(migration.name)
    return done


def migrate(clickhouse_url: str, database: str) -> list[str]:
    """Apply the repository's migrations to the ClickHouse server at ``clickhouse_url``."""
    from clickhouse_driver import Client

    bootstrap = Client.from_url(clickhouse_url.rsplit("/", 1)[0] + "/default")
    try:
        bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    finally:
        bootstrap.disconnect()
    client = Client.from_url(clickhouse_url)
    try:
        return apply_migrations(lambda sql: list(client.execute(sql)), database, load_migrations())
    finally:
        client.disconnect()

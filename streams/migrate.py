"""``sentinel migrate``: apply streams/sink/migrations/NNNN_*.sql in order, once each.

Applied migrations are recorded in ``schema_migrations`` with a checksum; a migration edited after
it was applied is an error (write a new one instead). Tables are never created by a sink.

The migrations are written once, for one server. On a cluster (``SENTINEL_CLICKHOUSE_CLUSTER``)
each statement is rewritten (:func:`clustered`): a table ``t`` becomes ``t_local``, a
``Replicated*MergeTree`` on every replica (``ON CLUSTER``), behind ``t``, a ``Distributed``
table over the cluster, so that every reader and writer keeps the name ``t``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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


LOCAL = "_local"  # a clustered table's suffix for its replicated part behind the Distributed one
_CREATE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*)\)\s*ENGINE\s*=\s*(\w*MergeTree)\((.*?)\)(.*)$",
    re.DOTALL,
)
_ALTER = re.compile(r"^ALTER TABLE (\w+)\s+(.*)$", re.DOTALL)


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


def clustered(statements: list[str], database: str, cluster: str) -> list[str]:
    """A migration's ``statements``, written for one server, as statements for every replica of
    ``cluster``: a ``CREATE TABLE t ... ENGINE = XMergeTree(args)`` makes ``t_local``
    (``ReplicatedXMergeTree``, its ZooKeeper path named by database and table) and ``t``
    (``Distributed`` over it); an ``ALTER TABLE t`` alters ``t_local`` (replicated: one replica
    runs it, the others follow), and ``t`` is made again over the new columns at the end
    (ClickHouse 18.16 alters no Distributed table ``ON CLUSTER`` in a replicated shard)."""
    here = f"ON CLUSTER {cluster}"
    out: list[str] = []
    altered: list[str] = []
    for statement in statements:
        if created := _CREATE.match(statement.strip()):
            table, columns, engine, args, rest = created.groups()
            path = f"'/clickhouse/tables/{{shard}}/{database}/{table}', '{{replica}}'"
            engine_args = f"{path}, {args.strip()}" if args.strip() else path
            out += [
                f"CREATE TABLE IF NOT EXISTS {database}.{table}{LOCAL} {here}\n({columns})\n"
                f"ENGINE = Replicated{engine}({engine_args}){rest}",
                _distributed(table, database, cluster),
            ]
        elif altered_table := _ALTER.match(statement.strip()):
            table, change = altered_table.groups()
            out.append(f"ALTER TABLE {database}.{table}{LOCAL} {here} {change}")
            altered += [] if table in altered else [table]
        else:
            raise MigrationError(
                "this statement cannot be applied to a cluster yet (streams/migrate.py, "
                "clustered(): CREATE TABLE IF NOT EXISTS and ALTER TABLE can): "
                f"{statement.strip()[:120]}"
            )
    for table in altered:
        out += [
            f"DROP TABLE IF EXISTS {database}.{table} {here}",
            _distributed(table, database, cluster),
        ]
    return out


def _distributed(table: str, database: str, cluster: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.{table} ON CLUSTER {cluster} "
        f"AS {database}.{table}{LOCAL} "
        f"ENGINE = Distributed({cluster}, {database}, {table}{LOCAL}, rand())"
    )


def ledger_ddl(database: str, cluster: str) -> str:
    """The ledger of applied migrations; on a cluster, replicated (and no Distributed table: the
    replica ``sentinel migrate`` talks to has every row)."""
    if not cluster:
        return LEDGER_DDL
    path = f"'/clickhouse/tables/{{shard}}/{database}/schema_migrations', '{{replica}}'"
    return LEDGER_DDL.replace(
        "schema_migrations", f"{database}.schema_migrations ON CLUSTER {cluster}"
    ).replace("ENGINE = MergeTree()", f"ENGINE = ReplicatedMergeTree({path})")


Execute = Callable[[str], list[tuple[Any, ...]]]


def apply_migrations(
    execute: Execute, database: str, migrations: Iterable[Migration], cluster: str = ""
) -> list[str]:
    """Apply what is missing, in order, through ``execute`` (any ClickHouse session).

    ``execute`` runs one statement in ``database`` (which exists) and returns its rows; with
    ``cluster``, each statement goes to every replica (:func:`clustered`).
    Returns the names of the migrations applied now.
    """
    execute(ledger_ddl(database, cluster))
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
        statements = migration.statements()
        for statement in clustered(statements, database, cluster) if cluster else statements:
            execute(statement)
        execute(
            # INSERT ... SELECT: a VALUES insert would make clickhouse-driver wait for a data block.
            "INSERT INTO schema_migrations (version, name, checksum) "
            f"SELECT {migration.version}, '{migration.name}', '{migration.checksum}'"
        )
        done.append(migration.name)
    return done


def migrate(clickhouse_url: str, database: str, cluster: str = "") -> list[str]:
    """Apply the repository's migrations to the ClickHouse server at ``clickhouse_url``, or with
    ``cluster`` (the server one of its replicas) to every replica of it."""
    from clickhouse_driver import Client

    parts = urlsplit(clickhouse_url)
    bootstrap = Client.from_url(urlunsplit(parts._replace(path="/default")))
    try:
        replica = bootstrap.execute("SELECT count() FROM system.macros WHERE macro = 'replica'")
        if replica[0][0] and not cluster:
            raise MigrationError(
                "this ClickHouse server is a replica of a cluster, and tables made on it alone "
                "would not be replicated: set SENTINEL_CLICKHOUSE_CLUSTER to the cluster's name"
            )
        on_cluster = f" ON CLUSTER {cluster}" if cluster else ""
        bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS {database}{on_cluster}")
    finally:
        bootstrap.disconnect()
    client = Client.from_url(clickhouse_url)
    try:
        return apply_migrations(
            lambda sql: list(client.execute(sql)), database, load_migrations(), cluster
        )
    finally:
        client.disconnect()


def drop_database(admin_url: str, database: str, cluster: str = "") -> None:
    """Drop ``database`` (a test's, a bench run's), on every replica of ``cluster``."""
    from clickhouse_driver import Client

    client = Client.from_url(urlunsplit(urlsplit(admin_url)._replace(path="/default")))
    try:
        on_cluster = f" ON CLUSTER {cluster}" if cluster else ""
        client.execute(f"DROP DATABASE IF EXISTS {database}{on_cluster}")
    finally:
        client.disconnect()

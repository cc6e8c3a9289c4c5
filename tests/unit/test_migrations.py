"""Migrations on a current ClickHouse engine (chdb, in-process); the 18.16 server runs them in
tests/integration. The row mapper is checked against the real DDL by inserting its rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from chdb import session as chdb_session

from schemas import Alert, Decision, RuleResult
from schemas.resolution import ResolutionOutcome
from schemas.trace import Contact, ContactTrace
from streams.engine import FAR_FUTURE
from streams.ingest import Accepted, Ingestor
from streams.migrate import (
    MigrationError,
    apply_migrations,
    clustered,
    ledger_ddl,
    load_migrations,
    split_statements,
)
from streams.pseudonym import Pseudonymiser
from streams.rules import DEFAULT_RULESET
from streams.sink.rows import COLUMNS, MAPPERS, Row, decision_row
from tests.simulated_tables import values_sql
from workbench.simulator.jinshan import Params, generate


@pytest.fixture
def chdb(tmp_path: Path) -> Iterator[object]:
    session = chdb_session.Session(str(tmp_path / "chdb"))
    session.query("CREATE DATABASE IF NOT EXISTS sentinel")
    session.query("USE sentinel")
    yield session
    session.close()


def executor(session: object):  # type: ignore[no-untyped-def]
    def execute(sql: str) -> list[tuple[object, ...]]:
        result = session.query(sql, "TabSeparated")  # type: ignore[attr-defined]
        text = result.bytes().decode()
        return [tuple(line.split("\t")) for line in text.splitlines() if line]

    return execute


def test_split_statements_ignores_comments_and_trailing_semicolons() -> None:
    sql = "-- a comment; with a semicolon\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\nSELECT 1;\n"
    assert split_statements(sql) == ["CREATE TABLE a (x UInt8) ENGINE = Memory", "SELECT 1"]


def test_migration_files_are_numbered_in_order() -> None:
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(versions) and versions[0] == 1
    assert versions == list(range(1, len(versions) + 1)), "no gaps in migration numbers"


def test_badly_named_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "2_oops.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="NNNN_lower_snake.sql"):
        load_migrations(tmp_path)


def test_on_a_cluster_a_table_is_replicated_behind_a_distributed_one_of_its_name() -> None:
    made = clustered(load_migrations()[0].statements(), "db", "c")
    assert len(made) == 2
    local, distributed = made
    assert local.startswith("CREATE TABLE IF NOT EXISTS db.decisions_local ON CLUSTER c\n(")
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/decisions', "
        "'{replica}')\nPARTITION BY toYYYYMM(event_date)\nORDER BY (entry_id, revision)" in local
    )
    assert "outcome         Enum8('release' = 0, 'hold' = 1, 'deny' = 2)," in local
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS db.decisions ON CLUSTER c AS db.decisions_local "
        "ENGINE = Distributed(c, db, decisions_local, rand())"
    )
    rollups = clustered(load_migrations()[3].statements(), "db", "c")
    assert (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/rollup_gate_hourly', "
        "'{replica}', version)" in rollups[0]
    )
    assert "ReplicatedMergeTree('/clickhouse/tables/{shard}/db/schema_migrations'" in ledger_ddl(
        "db", "c"
    )
    assert ledger_ddl("db", "") == ledger_ddl("other", "")  # one server: unchanged


def test_on_a_cluster_an_altered_table_gets_its_distributed_table_again_once() -> None:
    made = clustered(
        ["ALTER TABLE decisions ADD COLUMN a String", "ALTER TABLE decisions ADD COLUMN b UInt8"],
        "db",
        "c",
    )
    assert made == [
        "ALTER TABLE db.decisions_local ON CLUSTER c ADD COLUMN a String",
        "ALTER TABLE db.decisions_local ON CLUSTER c ADD COLUMN b UInt8",
        "DROP TABLE IF EXISTS db.decisions ON CLUSTER c",
        "CREATE TABLE IF NOT EXISTS db.decisions ON CLUSTER c AS db.decisions_local "
        "ENGINE = Distributed(c, db, decisions_local, rand())",
    ]


def test_every_migration_can_be_applied_to_a_cluster_and_a_new_kind_of_statement_is_refused() -> (
    None
):
    for migration in load_migrations():
        statements = migration.statements()
        made = clustered(statements, "db", "c")
        assert all(" ON CLUSTER c" in sql for sql in made), migration.name
        assert len(made) >= len(statements)
    with pytest.raises(MigrationError, match="cannot be applied to a cluster yet"):
        clustered(["CREATE VIEW v AS SELECT 1"], "db", "c")


def test_migrations_apply_once_on_current_clickhouse(chdb: object) -> None:
    execute = executor(chdb)
    first = apply_migrations(execute, "sentinel", load_migrations())
    assert first == [m.name for m in load_migrations()]
    assert apply_migrations(execute, "sentinel", load_migrations()) == []
    assert execute("SELECT count() FROM schema_migrations") == [(str(len(first)),)]


def test_an_edited_migration_is_refused(chdb: object, tmp_path: Path) -> None:
    (tmp_path / "0001_t.sql").write_text("CREATE TABLE t (x UInt8) ENGINE = Memory;")
    execute = executor(chdb)
    apply_migrations(execute, "sentinel", load_migrations(tmp_path))
    (tmp_path / "0001_t.sql").write_text("CREATE TABLE t (x UInt16) ENGINE = Memory;")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        apply_migrations(execute, "sentinel", load_migrations(tmp_path))


def test_decision_rows_fit_the_decisions_table(chdb: object) -> None:
    execute = executor(chdb)
    apply_migrations(execute, "sentinel", load_migrations())
    decision = Decision(
        event_id="e-1:0",
        event_time=datetime(2022, 4, 30, 17, 0, tzinfo=UTC),  # 01:00 on 1 May in Shanghai
        entry_id="e-1",
        park="tangu",
        gate="g1",
        plate="沪A12345",
        outcome="hold",
        rules=(RuleResult(rule="nat_48h", status="fail", outcome="hold", reason="expired"),),
        ruleset_version="skeleton-1",
    )
    insert(execute, "decisions", [decision_row(decision)])
    assert execute(
        "SELECT entry_id, outcome, failed_rules, event_date, toString(event_time) FROM decisions"
    ) == [("e-1", "hold", "['nat_48h']", "2022-05-01", "2022-05-01 01:00:00")]


def test_every_mapper_fits_its_table(chdb: object) -> None:
    """One record of every topic the sink writes, through its mapper and into the real DDL; the
    row counts come back per table."""
    execute = executor(chdb)
    apply_migrations(execute, "sentinel", load_migrations())
    ingestor = Ingestor(
        Pseudonymiser(b"k" * 32), max_message_bytes=1 << 20, future_tolerance=timedelta(0)
    )
    samples: dict[str, bytes] = {}
    for topic, event in generate(Params(seed=3)).events:
        accepted = ingestor.ingest(topic, event.model_dump_json().encode(), now=FAR_FUTURE)
        assert isinstance(accepted, Accepted)
        if accepted.topic is not None:
            samples.setdefault(accepted.topic, accepted.value)
    at = datetime(2022, 4, 2, tzinfo=UTC)
    alert = Alert(
        event_id="a-1",
        event_time=at,
        severity="warning",
        rule="health_visits",
        subject="p_" + "0" * 32,
        dedup_key="visits-overdue:e-1:p",
        park="tangu",
        enterprise="ent-1",
        message="enterprise ent-1: 1 of 2 health visits made",
        detected_at=at,
    )
    samples["sentinel.alerts"] = alert.model_dump_json().encode()
    closed = alert.model_copy(update={"resolved_at": at + timedelta(hours=1)})
    trace = ContactTrace(
        event_id="trace:ag-1:tangu",
        event_time=at,
        park="tangu",
        person="p_" + "1" * 32,
        positive_event_id="ag-1",
        entries=("e-1",),
        contacts=(
            Contact(
                kind="co-occupant",
                entry_id="e-1",
                plate="沪A12345",
                gate="g1",
                time=at,
                person="p_" + "2" * 32,
                via="e-1",
            ),
            Contact(
                kind="same-gate", entry_id="e-2", plate="沪B12345", gate="g1", time=at, via="e-1"
            ),
        ),
    )
    samples["sentinel.traces"] = trace.model_dump_json().encode()
    samples["canonical.resolutions"] = (
        ResolutionOutcome(
            event_id="r-1",
            event_time=at,
            park="tangu",
            entry_id="e-1",
            officer="officer-7",
            action="released_after_check",
            reason="papers checked",
            accepted=True,
            gate="g1",
            plate="沪A12345",
            superseded_revision=1,
            revision=2,
        )
        .model_dump_json()
        .encode()
    )
    samples["sentinel.rulesets"] = DEFAULT_RULESET.read_bytes()
    expected: dict[str, int] = {}
    for topic, mapper in MAPPERS.items():
        if topic == "sentinel.decisions":
            continue  # above
        by_table: dict[str, list[Row]] = {}
        values = [samples[topic]] + (
            [closed.model_dump_json().encode()] if topic == "sentinel.alerts" else []
        )
        for value in values:
            for table, row in mapper(value, 1_650_000_000_000):
                by_table.setdefault(table, []).append(row)
        for table, rows in by_table.items():
            insert(execute, table, rows)
            expected[table] = len(rows)
    counted = {t: int(execute(f"SELECT count() FROM {t}")[0][0]) for t in expected}
    assert counted == expected
    assert set(expected) == set(COLUMNS) - {"decisions"}


def insert(execute: Callable[[str], object], table: str, rows: list[Row]) -> None:
    for row in rows:
        assert len(row) == len(COLUMNS[table]), table
    execute(f"INSERT INTO {table} ({', '.join(COLUMNS[table])}) VALUES {values_sql(rows)}")

"""The report's and the reconciliation's SQL on a current ClickHouse (chdb), over a few
simulated days run through the in-process engine: every rollup built by the pure core agrees
with the raw tables, a tampered rollup is caught, and every query of docs/analysts.md runs.
tests/integration/test_sql_on_clickhouse_18.py runs the same SQL on the 18.16 server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from chdb import session as chdb_session

from streams.migrate import apply_migrations, load_migrations
from streams.report import build_report, reconcile
from tests.simulated_tables import FIRST, Output, guide_queries, pipeline_output, tables


@pytest.fixture(scope="module")
def output() -> Output:
    return pipeline_output()


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory: pytest.TempPathFactory, output: Output) -> Iterator[Any]:
    session = chdb_session.Session(str(tmp_path_factory.mktemp("chdb")))
    session.query("CREATE DATABASE IF NOT EXISTS sentinel")
    session.query("USE sentinel")

    def execute(sql: str) -> list[tuple[str, ...]]:
        text = session.query(sql, "TabSeparated").bytes().decode()
        return [tuple(line.split("\t")) for line in text.splitlines() if line]

    apply_migrations(execute, "sentinel", load_migrations())
    for table, (columns, rows) in tables(output).items():
        for start in range(0, len(rows), 2000):
            values = ", ".join(
                "(" + ", ".join(_literal(v) for v in row) + ")"
                for row in rows[start : start + 2000]
            )
            execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")
    yield execute
    session.close()


def test_every_rollup_agrees_with_the_raw_tables(clickhouse: Any) -> None:
    compared, mismatches = reconcile(clickhouse)
    assert mismatches == []
    assert compared > 100


def test_a_tampered_rollup_is_caught(clickhouse: Any) -> None:
    def rewrite(change: int, version_step: int) -> None:
        clickhouse(
            "INSERT INTO rollup_gate_hourly SELECT park, gate, day, hour, shard, "
            f"version + {version_step}, entries + {change}, held_on_arrival "
            "FROM rollup_gate_hourly FINAL ORDER BY day, hour, gate, shard LIMIT 1"
        )

    rewrite(+1, 1)  # a newer snapshot that counts one entry too many
    _, mismatches = reconcile(clickhouse)
    assert [m.check for m in mismatches] == ["entries per gate and hour"]
    rewrite(-1, 1)  # and a newer one still, with the right count, for the other tests
    assert reconcile(clickhouse)[1] == []


def test_the_report_reads_the_rollups(clickhouse: Any, output: Output) -> None:
    report = build_report(clickhouse)
    entries = len(output["canonical.entries"])
    assert report.total_entries == entries == sum(report.entries_by_day.values())
    assert report.peak_entries == max(report.entries_by_day.values())
    assert report.decided == entries and report.released + report.held + report.denied == entries
    assert report.holds_by_rule.get("nat_48h", 0) > 0
    assert report.visit_obligations > report.overdue_visits > 0
    assert report.exits > 0 and report.longest_dwell_hours is not None
    one_day = FIRST + timedelta(days=2)
    assert (
        build_report(clickhouse, one_day, one_day).total_entries
        == report.entries_by_day[str(one_day)]
    )


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, datetime):
        return str(int(value.timestamp()))
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_the_analyst_guide_has_ten_queries_or_more() -> None:
    assert len(guide_queries()) >= 10


@pytest.mark.parametrize("number", range(len(guide_queries())))
def test_each_analyst_query_runs_and_finds_rows(clickhouse: Any, number: int) -> None:
    rows = clickhouse(guide_queries()[number])
    assert rows, f"query {number + 1} of docs/analysts.md returned nothing"

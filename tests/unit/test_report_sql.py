"""The report's and the reconciliation's SQL on a current ClickHouse (chdb), over a few
simulated days run through the in-process engine: every rollup built by the pure core agrees
with the raw tables, a tampered rollup is caught, and every query of docs/analysts.md runs.
tests/integration/test_sql_on_clickhouse_18.py runs the same SQL on the 18.16 server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from streams.board import held_sql, inside_sql
from streams.report import build_report, reconcile
from tests.simulated_tables import (
    FIRST,
    HELD_CASES,
    HELD_COLUMNS,
    Output,
    dashboard_targets,
    expand_grafana_macros,
    guide_queries,
    held_by_hand,
    held_cases_rows,
    inside_by_hand,
    panels_against_the_report,
    values_sql,
)


def test_every_rollup_agrees_with_the_raw_tables(simulated_chdb: Any) -> None:
    compared, mismatches = reconcile(simulated_chdb)
    assert mismatches == []
    assert compared > 100


def test_a_tampered_rollup_is_caught(simulated_chdb: Any) -> None:
    def rewrite(change: int, version_step: int) -> None:
        simulated_chdb(
            "INSERT INTO rollup_gate_hourly SELECT park, gate, day, hour, shard, "
            f"version + {version_step}, entries + {change}, held_on_arrival "
            "FROM rollup_gate_hourly FINAL ORDER BY day, hour, gate, shard LIMIT 1"
        )

    rewrite(+1, 1)  # a newer snapshot that counts one entry too many
    _, mismatches = reconcile(simulated_chdb)
    assert [m.check for m in mismatches] == ["entries per gate and hour"]
    rewrite(-1, 1)  # and a newer one still, with the right count, for the other tests
    assert reconcile(simulated_chdb)[1] == []


def test_the_report_reads_the_rollups(simulated_chdb: Any, simulated_output: Output) -> None:
    report = build_report(simulated_chdb)
    entries = len(simulated_output["canonical.entries"])
    assert report.total_entries == entries == sum(report.entries_by_day.values())
    assert report.peak_entries == max(report.entries_by_day.values())
    assert report.decided == entries and report.released + report.held + report.denied == entries
    assert report.holds_by_rule.get("nat_48h", 0) > 0
    assert report.visit_obligations > report.overdue_visits > 0
    assert report.exits > 0 and report.longest_dwell_hours is not None
    one_day = FIRST + timedelta(days=2)
    assert (
        build_report(simulated_chdb, one_day, one_day).total_entries
        == report.entries_by_day[str(one_day)]
    )


def test_the_analyst_guide_has_ten_queries_or_more() -> None:
    assert len(guide_queries()) >= 10


@pytest.mark.parametrize("number", range(len(guide_queries())))
def test_each_analyst_query_runs_and_finds_rows(simulated_chdb: Any, number: int) -> None:
    rows = simulated_chdb(guide_queries()[number])
    assert rows, f"query {number + 1} of docs/analysts.md returned nothing"


@pytest.mark.parametrize(
    ("dashboard", "title", "sql"), dashboard_targets("grafana-clickhouse-datasource")
)
def test_each_dashboard_panel_query_runs(
    simulated_chdb: Any, dashboard: str, title: str, sql: str
) -> None:
    rows = simulated_chdb(expand_grafana_macros(sql))
    assert rows, f"{dashboard}: panel {title!r} returned nothing"


def test_each_panel_figure_the_report_also_computes_is_the_same(simulated_chdb: Any) -> None:
    assert panels_against_the_report(simulated_chdb) == []


def test_the_held_query_gives_the_current_holds_on_a_current_clickhouse(
    simulated_chdb: Any,
) -> None:
    table = "held_check"
    simulated_chdb(f"CREATE TABLE {table} AS decisions")
    try:
        simulated_chdb(
            f"INSERT INTO {table} ({HELD_COLUMNS}) VALUES {values_sql(held_cases_rows())}"
        )
        ids = [row[0] for row in simulated_chdb(f"SELECT entry_id FROM {table}")]
        assert len(ids) == len(HELD_CASES)
        want = held_by_hand(simulated_chdb, date(2022, 5, 9), table)
        assert want == {"held", "held-later"}
        # chdb answers in text: the query's entry ids, its first column, are compared.
        assert {row[0] for row in simulated_chdb(held_sql(date(2022, 5, 9), table))} == want
    finally:
        simulated_chdb(f"DROP TABLE {table}")


def test_the_inside_query_gives_the_vehicles_let_in_with_no_exit_on_a_current_clickhouse(
    simulated_chdb: Any,
) -> None:
    at = datetime(2022, 4, 13, 4, tzinfo=UTC)  # noon in the simulated story's park
    want = inside_by_hand(simulated_chdb, at)
    assert len(want) > 10, "few vehicles inside at noon: the check would prove little"
    rows = simulated_chdb(inside_sql(at))  # chdb answers in text
    assert {(str(r[0]), str(r[4]) == "1") for r in rows} == want

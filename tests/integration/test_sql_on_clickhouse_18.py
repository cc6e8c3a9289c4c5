"""The SQL of the report, the reconciliation, docs/analysts.md and the Grafana panels on Debian's
ClickHouse 18.16 server, over the same simulated tables the unit tests load into a current
ClickHouse (chdb)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from clickhouse_driver import Client

from streams import access
from streams.board import read_held, read_inside
from streams.report import build_report, reconcile
from streams.settings import Settings
from tests.simulated_tables import (
    HELD_COLUMNS,
    dashboard_targets,
    expand_grafana_macros,
    guide_queries,
    held_by_hand,
    held_cases_rows,
    inside_by_hand,
    panels_against_the_report,
    pipeline_output,
    tables,
)


@pytest.fixture(scope="module")
def loaded(settings: Settings) -> Settings:
    client = Client.from_url(access.clickhouse_url(settings))
    try:
        for table, (columns, rows) in tables(pipeline_output()).items():
            client.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", rows)
    finally:
        client.disconnect()
    return settings


def execute_on(settings: Settings) -> Any:
    def execute(sql: str) -> list[tuple[Any, ...]]:
        client = Client.from_url(access.clickhouse_url(settings))
        try:
            return list(client.execute(sql))
        finally:
            client.disconnect()

    return execute


def test_rollups_reconcile_and_the_report_reads_them(loaded: Settings) -> None:
    execute = execute_on(loaded)
    compared, mismatches = reconcile(execute)
    assert mismatches == [] and compared > 100
    report = build_report(execute)
    assert report.total_entries == execute("SELECT count() FROM entries FINAL")[0][0] > 0
    assert report.denials_by_rule and report.positives == 1


def test_the_boards_held_queue_query_gives_the_current_holds_on_18_16(loaded: Settings) -> None:
    admin = Client.from_url(access.clickhouse_admin_url(loaded))
    table = "held_check"
    admin.execute(f"CREATE TABLE {table} AS decisions")
    try:
        admin.execute(f"INSERT INTO {table} ({HELD_COLUMNS}) VALUES", held_cases_rows())
        execute = execute_on(loaded)
        held = read_held(execute, date(2022, 5, 9), table)
        assert {h.entry_id for h in held} == held_by_hand(execute, date(2022, 5, 9), table)
        assert {h.entry_id for h in held} == {"held", "held-later"}
        assert all(h.since.tzinfo is not None and h.failed_rules == ("nat_48h",) for h in held)
    finally:
        admin.execute(f"DROP TABLE {table}")
        admin.disconnect()


def test_the_boards_inside_query_gives_the_vehicles_let_in_with_no_exit_on_18_16(
    loaded: Settings,
) -> None:
    execute = execute_on(loaded)
    at = datetime(2022, 4, 13, 4, tzinfo=UTC)  # noon in the simulated story's park
    inside = read_inside(execute, at)
    want = inside_by_hand(execute, at)
    assert len(want) > 10 and {(v.entry_id, v.hazmat) for v in inside} == want
    assert all(v.entered.tzinfo is not None for v in inside)


@pytest.mark.parametrize("number", range(len(guide_queries())))
def test_each_analyst_query_runs_on_18_16(loaded: Settings, number: int) -> None:
    assert execute_on(loaded)(guide_queries()[number]), f"query {number + 1} returned nothing"


@pytest.mark.parametrize(
    ("dashboard", "title", "sql"), dashboard_targets("grafana-clickhouse-datasource")
)
def test_each_dashboard_panel_query_runs_on_18_16(
    loaded: Settings, dashboard: str, title: str, sql: str
) -> None:
    rows = execute_on(loaded)(expand_grafana_macros(sql))
    assert rows, f"{dashboard}: panel {title!r} returned nothing"


def test_each_panel_figure_the_report_also_computes_is_the_same_on_18_16(
    loaded: Settings,
) -> None:
    assert panels_against_the_report(execute_on(loaded)) == []

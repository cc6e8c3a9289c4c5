"""The report's and the reconciliation's SQL on a current ClickHouse (chdb), over a few
simulated days run through the in-process engine: every rollup built by the pure core agrees
with the raw tables, and a tampered rollup is caught. tests/integration runs the same SQL on the
18.16 server, over the live pipeline's output."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from chdb import session as chdb_session

from streams.backtest import FAR_FUTURE
from streams.ingest import Accepted, Ingestor
from streams.migrate import apply_migrations, load_migrations
from streams.pseudonym import Pseudonymiser
from streams.report import build_report, reconcile
from streams.rollups import TABLES, Fact, Rollups, fold_message
from streams.rules import DEFAULT_RULESET, Engine, load_ruleset
from streams.rules.person import PersonCheckOrObligation
from streams.simulator.jinshan import Params, generate
from streams.simulator.traffic import FIRST_DAY
from streams.sink.rows import COLUMNS, MAPPERS
from streams.topics import spec

DAYS = 6


@pytest.fixture(scope="module")
def pipeline_output() -> dict[str, list[tuple[str, bytes]]]:
    """(topic, value) per topic, as the live pipeline would write them, for DAYS days."""
    ingestor = Ingestor(Pseudonymiser(b"k" * 32), max_message_bytes=1 << 20,
                        future_tolerance=timedelta(0))  # fmt: skip
    cutoff = FIRST_DAY + timedelta(days=DAYS)
    engine = Engine(load_ruleset(DEFAULT_RULESET))
    out: dict[str, list[tuple[str, bytes]]] = {}
    for topic, event in generate(Params(seed=1)).events:
        if event.event_time.date() >= cutoff:  # type: ignore[attr-defined]
            break
        accepted = ingestor.ingest(topic, event.model_dump_json().encode(), now=FAR_FUTURE)
        assert isinstance(accepted, Accepted)
        out.setdefault(accepted.topic, []).append((accepted.topic, accepted.value))
        model = spec(accepted.topic).model
        assert model is not None
        engine.feed(model.model_validate_json(accepted.value))
    engine.advance(FAR_FUTURE)
    out["sentinel.decisions"] = [("sentinel.decisions", d.model_dump_json().encode())
                                 for d in engine.decisions]  # fmt: skip
    out["sentinel.alerts"] = [("sentinel.alerts", a.model_dump_json().encode())
                              for a in engine.alerts]  # fmt: skip
    out["sentinel.person-checks"] = [
        ("sentinel.person-checks", PersonCheckOrObligation.obligation(o))
        for o in engine.obligations
    ]
    return out


@pytest.fixture
def clickhouse(
    tmp_path: Path, pipeline_output: dict[str, list[tuple[str, bytes]]]
) -> Iterator[Any]:
    session = chdb_session.Session(str(tmp_path / "chdb"))
    session.query("CREATE DATABASE IF NOT EXISTS sentinel")
    session.query("USE sentinel")

    def execute(sql: str) -> list[tuple[str, ...]]:
        text = session.query(sql, "TabSeparated").bytes().decode()
        return [tuple(line.split("\t")) for line in text.splitlines() if line]

    apply_migrations(execute, "sentinel", load_migrations())
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for topic, values in pipeline_output.items():
        if topic in MAPPERS:
            for _, value in values:
                for table, row in MAPPERS[topic](value):
                    rows.setdefault(table, []).append(row)
    rollups = Rollups()
    facts: dict[str, Fact] = {}
    for topic in ("canonical.entries", "canonical.exits", "canonical.antigen", "canonical.nat",
                  "sentinel.decisions", "sentinel.alerts", "sentinel.person-checks"):  # fmt: skip
        for _, value in pipeline_output.get(topic, []):
            for key, fact in fold_message(topic, value, facts.get):
                facts[key] = fact
                rollups.put(zlib.crc32(key.encode()) % 4, key, fact)
    for table, snapshot in rollups.flush(range(4), version=1).items():
        rows[table] = snapshot
    for table, table_rows in rows.items():
        columns = COLUMNS.get(table) or TABLES[table].columns
        for start in range(0, len(table_rows), 2000):
            values = ", ".join(
                "(" + ", ".join(_literal(v) for v in row) + ")"
                for row in table_rows[start : start + 2000]
            )
            execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")
    yield execute
    session.close()


def test_every_rollup_agrees_with_the_raw_tables(clickhouse: Any) -> None:
    compared, mismatches = reconcile(clickhouse)
    assert mismatches == []
    assert compared > 100


def test_a_tampered_rollup_is_caught(clickhouse: Any) -> None:
    clickhouse(
        "INSERT INTO rollup_gate_hourly SELECT park, gate, day, hour, shard, version + 1, "
        "entries + 1, held_on_arrival FROM rollup_gate_hourly FINAL ORDER BY day, hour LIMIT 1"
    )
    _, mismatches = reconcile(clickhouse)
    assert [m.check for m in mismatches] == ["entries per gate and hour"]


def test_the_report_reads_the_rollups(
    clickhouse: Any, pipeline_output: dict[str, list[tuple[str, bytes]]]
) -> None:
    report = build_report(clickhouse)
    entries = len(pipeline_output["canonical.entries"])
    assert report.total_entries == entries == sum(report.entries_by_day.values())
    assert report.peak_entries == max(report.entries_by_day.values())
    assert report.decided == entries and report.released + report.held + report.denied == entries
    assert report.holds_by_rule.get("nat_48h", 0) > 0
    assert report.visit_obligations > report.overdue_visits > 0
    assert report.exits > 0 and report.longest_dwell_hours is not None
    one_day = FIRST_DAY + timedelta(days=2)
    assert build_report(clickhouse, one_day, one_day).total_entries == report.entries_by_day[
        str(one_day)
    ]


def _literal(value: object) -> str:
    from datetime import date, datetime

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

"""Tables as the live pipeline would fill them, without Kafka: a few simulated days through
ingestion, the in-process rule engine, the row mappers and the pure rollups. The unit tests load
them into chdb (a current ClickHouse), the integration tests into the 18.16 server, and run the
same SQL on both."""

from __future__ import annotations

import json
import re
import zlib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from streams.backtest import FAR_FUTURE
from streams.ingest import Accepted, Ingestor
from streams.parktime import PARK_TZ
from streams.pseudonym import Pseudonymiser
from streams.rollups import INPUTS, TABLES, Fact, Rollups, fold_message
from streams.rules import DEFAULT_RULESET, Engine, load_ruleset
from streams.rules.person import PersonCheckOrObligation
from streams.simulator.jinshan import Params, generate
from streams.simulator.traffic import FIRST_DAY
from streams.sink.rows import COLUMNS, MAPPERS
from streams.topics import spec

# Six days around the 27-passenger car (14 April): denials, a positive, evasion, overdue visits.
FIRST, LAST = FIRST_DAY + timedelta(days=9), FIRST_DAY + timedelta(days=14)
DUE = LAST + timedelta(days=8)  # the last visit deadline of the simulated days
ANALYST_GUIDE = Path(__file__).parents[1] / "docs" / "analysts.md"

Output = dict[str, list[bytes]]  # topic -> values
Tables = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]  # table -> (columns, rows)


def pipeline_output(first: date = FIRST, last: date = LAST) -> Output:
    """The values each topic would carry for the simulated events of ``first`` to ``last``."""
    ingestor = Ingestor(Pseudonymiser(b"k" * 32), max_message_bytes=1 << 20,
                        future_tolerance=timedelta(0))  # fmt: skip
    engine = Engine(load_ruleset(DEFAULT_RULESET))
    out: Output = {}
    for topic, event in generate(Params(seed=1)).events:
        if not first <= event.event_time.date() <= last:  # type: ignore[attr-defined]
            continue
        accepted = ingestor.ingest(topic, event.model_dump_json().encode(), now=FAR_FUTURE)
        assert isinstance(accepted, Accepted)
        out.setdefault(accepted.topic, []).append(accepted.value)
        model = spec(accepted.topic).model
        assert model is not None
        engine.feed(model.model_validate_json(accepted.value))
    engine.advance(FAR_FUTURE)
    out["sentinel.decisions"] = [d.model_dump_json().encode() for d in engine.decisions]
    out["sentinel.alerts"] = [a.model_dump_json().encode() for a in engine.alerts]
    out["sentinel.person-checks"] = [
        PersonCheckOrObligation.obligation(o) for o in engine.obligations
    ]
    return out


def tables(output: Output) -> Tables:
    """Every table's rows: the sink's, and the rollups' snapshots (facts spread over 4 shards)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for topic, values in output.items():
        for value in values if topic in MAPPERS else ():
            for table, row in MAPPERS[topic](value):
                rows.setdefault(table, []).append(row)
    rollups = Rollups()
    facts: dict[str, Fact] = {}
    for topic in INPUTS:
        for value in output.get(topic, []):
            for key, fact in fold_message(topic, value, facts.get):
                facts[key] = fact
                rollups.put(zlib.crc32(key.encode()) % 4, key, fact)
    rows.update(rollups.flush(range(4), version=1))
    return {t: (COLUMNS.get(t) or TABLES[t].columns, r) for t, r in rows.items()}


def guide_queries() -> list[str]:
    """The SQL blocks of docs/analysts.md."""
    return re.findall(r"```sql\n(.*?)```", ANALYST_GUIDE.read_text(), flags=re.S)


DASHBOARDS = Path(__file__).parents[1] / "dashboards" / "json"


def dashboard_targets(datasource: str) -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, query) of every panel target on ``datasource`` (a Grafana
    datasource type): rawSql for ClickHouse, expr for Prometheus."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                if target.get("datasource", panel.get("datasource", {}))["type"] == datasource:
                    query = target.get("rawSql") or target.get("expr")
                    found.append((path.name, panel["title"], query))
    return found


def expand_grafana_macros(sql: str, first: date = FIRST, last: date = DUE) -> str:
    """What the ClickHouse datasource does to its macros, for the time range ``first`` to
    ``last`` (park-local days; by default the simulated days and the visit deadlines after)."""
    start = datetime.combine(first, datetime.min.time(), PARK_TZ)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), PARK_TZ)
    from_time, to_time = (
        f"toDateTime({int(start.timestamp())})",
        f"toDateTime({int(end.timestamp())})",
    )
    sql = re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 >= {from_time} AND \1 <= {to_time}", sql)
    sql = re.sub(
        r"\$__dateFilter\((\w+)\)",
        rf"\1 >= toDate('{first.isoformat()}') AND \1 <= toDate('{last.isoformat()}')",
        sql,
    )
    sql = sql.replace("$__fromTime", from_time).replace("$__toTime", to_time)
    assert "$" not in sql, f"a macro is left: {sql}"
    return sql


def values_sql(rows: list[tuple[Any, ...]]) -> str:
    """Rows as the literal list of an ``INSERT ... VALUES`` statement (chdb takes no parameters)."""
    return ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)


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

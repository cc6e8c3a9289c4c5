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

from schemas.resolution import Resolution
from streams.engine import FAR_FUTURE, Engine
from streams.ingest import Ingestor
from streams.parktime import PARK_TZ
from streams.processor import Processor, Raw
from streams.pseudonym import Pseudonymiser
from streams.rollups import TABLES, Rollups
from streams.rules import DEFAULT_RULESET, load_ruleset
from streams.sink.rows import COLUMNS, MAPPERS
from workbench.simulator.jinshan import Params, generate
from workbench.simulator.traffic import FIRST_DAY

# Six days around the 27-passenger car (14 April): denials, a positive, evasion, overdue visits.
FIRST, LAST = FIRST_DAY + timedelta(days=9), FIRST_DAY + timedelta(days=14)
DUE = LAST + timedelta(days=8)  # the last visit deadline of the simulated days
ANALYST_GUIDE = Path(__file__).parents[1] / "docs" / "analysts.md"

Output = dict[str, list[bytes]]  # topic -> values
Tables = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]  # table -> (columns, rows)
SHARDS = 4


class Spread(Rollups):
    """Rollups whose facts land on shards by event id, not by park: the story has one park, and
    the SQL must add up a group's rows over shards all the same."""

    def fold(self, shard: int, item: Any) -> None:
        super().fold(zlib.crc32(getattr(item, "event_id", repr(item)).encode()) % SHARDS, item)


def pipeline_output(first: date = FIRST, last: date = LAST) -> Output:
    """The values each topic would carry for the simulated events of ``first`` to ``last``, and
    the rollup rows the decide stage would flush (under ``rollups``, as JSON rows): the events
    through the decide stage's batch processor, as it reads them."""
    process = Processor(
        Engine(load_ruleset(DEFAULT_RULESET), record=False),
        Ingestor(
            Pseudonymiser(b"k" * 32), max_message_bytes=1 << 20, future_tolerance=timedelta(0)
        ),
        Spread(),
        wall=lambda: FAR_FUTURE,
    )
    out: Output = {}

    def collect() -> None:
        for send in process.take().outputs:
            assert send.topic != "sentinel.dlq", send
            out.setdefault(send.topic, []).append(send.value or b"")

    for topic, event in generate(Params(seed=1)).events:
        if first <= event.event_time.date() <= last:  # type: ignore[attr-defined]
            process.read(Raw(topic, event.model_dump_json().encode()))
            collect()
    for resolution in officer_ends_a_hold(process.engine):  # the officer's audit has a row
        process.read(Raw("gate.resolutions", resolution.model_dump_json().encode()))
        collect()
    process.advance(FAR_FUTURE)
    collect()
    out["sentinel.rulesets"] = [DEFAULT_RULESET.read_bytes()]
    out["rollups"] = [
        json.dumps([table, row], default=str).encode()
        for table, rows in process.rollups.flush(range(SHARDS), version=1).items()
        for row in rows
    ]
    return out


def officer_ends_a_hold(engine: Engine) -> list[Resolution]:
    """A duty officer turning away the last truck still stopped at a gate."""
    stopped = [
        t for park in engine.parks.values() for t in park.entries.values() if t.outcome == "deny"
    ]
    last = max(stopped, key=lambda t: t.entry.event_time)
    return [
        Resolution(
            event_id=f"resolution-{last.entry.event_id}",
            event_time=last.entry.event_time + timedelta(minutes=20),
            park=last.entry.park,
            entry_id=last.entry.event_id,
            officer="wang-3",
            action="turned_away",
            reason="sent back to the expressway",
        )
    ]


def tables(output: Output) -> Tables:
    """Every table's rows: the sink's, and the rollups' snapshots (facts spread over shards)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for topic, values in output.items():
        for value in values if topic in MAPPERS else ():
            for table, row in MAPPERS[topic](value, 0):
                rows.setdefault(table, []).append(row)
    for value in output.get("rollups", []):
        table, row = json.loads(value)
        keys = TABLES[table].keys
        values = [
            date.fromisoformat(v) if k == "day" else v
            for k, v in zip(keys, row[: len(keys)], strict=True)
        ]
        row = values + row[len(keys) :]
        rows.setdefault(table, []).append(tuple(row))
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


# Decision rows for the board's queue of held entries: (entry, revision, outcome, day).
HELD_CASES = (
    ("released-later", 0, "hold", "2022-05-08"),
    ("released-later", 1, "release", "2022-05-08"),
    ("held", 0, "hold", "2022-05-08"),
    ("held-later", 0, "release", "2022-05-09"),
    ("held-later", 1, "hold", "2022-05-09"),
    ("held-long-ago", 0, "hold", "2022-04-20"),
)


HELD_COLUMNS = (
    "decision_id, entry_id, revision, park, gate, plate, outcome, failed_rules, ruleset_version, "
    "event_time, event_date"
)


def held_cases_rows() -> list[tuple[Any, ...]]:
    """:data:`HELD_CASES` as rows of ``HELD_COLUMNS``."""
    return [
        (
            f"{entry}:{revision}",
            entry,
            revision,
            "jinshan",
            "g2",
            f"沪A{revision}",
            outcome,
            ["nat_48h"],
            "v1",
            datetime.fromisoformat(f"{day}T10:00:00+08:00"),
            date.fromisoformat(day),
        )
        for entry, revision, outcome, day in HELD_CASES
    ]


def held_by_hand(execute: Any, today: date, table: str = "decisions") -> set[str]:
    """The entries whose latest decision revision is a hold, entered in the 7 days to ``today``:
    computed here from every decision row, to check the board's query against."""
    latest: dict[str, tuple[int, str]] = {}
    for entry, revision, outcome, day in execute(
        f"SELECT entry_id, revision, toString(outcome), event_date FROM {table}"
    ):
        day, revision = date.fromisoformat(str(day)), int(revision)  # chdb gives text
        if day >= today - timedelta(days=7) and revision >= latest.get(entry, (-1, ""))[0]:
            latest[entry] = (revision, outcome)
    return {entry for entry, (_, outcome) in latest.items() if outcome == "hold"}


def inside_by_hand(execute: Any, at: datetime) -> set[tuple[str, bool]]:
    """The entries let in (latest decision revision a release) in the 30 days to ``at``, with
    no exit by then, each with whether it is hazmat: computed here from every row, to check the
    board's query against."""
    since = at - timedelta(days=30)
    latest: dict[str, tuple[int, str]] = {}
    for entry, revision, outcome, entered in execute(
        "SELECT entry_id, revision, toString(outcome), toUInt32(event_time) FROM decisions"
    ):
        revision = int(revision)
        if (
            since.timestamp() <= int(entered) <= at.timestamp()
            and revision >= latest.get(entry, (-1, ""))[0]
        ):
            latest[entry] = (revision, outcome)
    gone = {
        str(entry)
        for entry, left in execute("SELECT entry_id, toUInt32(event_time) FROM exits")
        if int(left) <= at.timestamp()
    }
    hazmat = {str(e): int(h) == 1 for e, h in execute("SELECT event_id, hazmat FROM entries")}
    return {
        (entry, hazmat.get(entry, False))
        for entry, (_, outcome) in latest.items()
        if outcome == "release" and entry not in gone
    }


def panel_rows(execute: Any, title: str, first: date, last: date) -> list[tuple[Any, ...]]:
    """The rows of the ClickHouse panel called ``title``, for the range ``first`` to ``last``."""
    (sql,) = [q for _, t, q in dashboard_targets("grafana-clickhouse-datasource") if t == title]
    return list(execute(expand_grafana_macros(sql, first, last)))


def panels_against_the_report(execute: Any, first: date = FIRST, last: date = DUE) -> list[str]:
    """Each figure a dashboard panel shows that the report also computes, panel against report
    over the same days: what differs, one line each (empty: they agree)."""
    from streams.report import build_report

    report = build_report(execute, first, last)
    wrong: list[str] = []

    def check(what: str, panel: object, said: object) -> None:
        if panel != said:
            wrong.append(f"{what}: the panel shows {panel!r}, the report {said!r}")

    def rows(title: str) -> list[tuple[Any, ...]]:
        return panel_rows(execute, title, first, last)

    ((_, peak),) = rows("Today against the peak")
    check("the peak", int(peak), report.peak_entries)
    ((released, held, denied),) = rows("Current outcomes (entries in range)")
    check(
        "outcomes",
        (int(released), int(held), int(denied)),
        (report.released, report.held, report.denied),
    )
    ((positives,),) = rows("Positives")
    check("positives", int(positives), report.positives)
    ((overdue, obligations),) = rows("Overdue health visits")
    check(
        "visits",
        (int(overdue), int(obligations)),
        (report.overdue_visits, report.visit_obligations),
    )
    per_day = {str(day): int(n) for day, n in rows("Entries per day") if int(n)}
    check("entries per day", per_day, report.entries_by_day)
    by_rule = {str(rule): (int(h), int(d)) for rule, h, d in rows("Holds and denials by rule")}
    check(
        "holds and denials by rule",
        {rule: counts for rule, counts in by_rule.items() if any(counts)},
        {
            rule: (report.holds_by_rule.get(rule, 0), report.denials_by_rule.get(rule, 0))
            for rule in report.holds_by_rule.keys() | report.denials_by_rule.keys()
            if report.holds_by_rule.get(rule, 0) or report.denials_by_rule.get(rule, 0)
        },
    )
    queue = rows("The queue: arrivals and entries held on arrival, by hour of day")
    check("arrivals", sum(int(arrivals) for _, arrivals, _ in queue), report.total_entries)
    worst = rows("Health-visit compliance by enterprise (worst first)")
    check(
        "visit compliance by enterprise",
        {str(e): (int(owed), int(missed)) for e, owed, missed, _ in worst},
        {
            e: (v["obligations"], v["overdue"])
            for e, v in report.visits_by_enterprise.items()
            if e in {str(row[0]) for row in worst}
        },
    )
    if not worst or not per_day or not by_rule:
        wrong.append("a panel compared had no rows: nothing was compared")
    return wrong

"""``sentinel report`` and ``sentinel reconcile``: reading the rollups, and checking them.

Every query here runs on ClickHouse 18.16 and on a current ClickHouse (tests/unit run them on
chdb, tests/integration on the server). Rollups are read with FINAL and summed over shards
(streams/rollups.py). Queries go through ``execute``, any function that runs one statement
and returns rows; values are normalised here (chdb returns text).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

Execute = Callable[[str], list[tuple[Any, ...]]]


def _between(column: str, first: date | None, last: date | None) -> str:
    """A WHERE clause on a Date column; the bounds are dates, so the SQL is safe to format."""
    parts = ["1"]
    if first is not None:
        parts.append(f"{column} >= toDate('{first.isoformat()}')")
    if last is not None:
        parts.append(f"{column} <= toDate('{last.isoformat()}')")
    return " AND ".join(parts)


@dataclass
class Report:
    first_day: str | None
    last_day: str | None
    total_entries: int
    peak_date: str | None
    peak_entries: int
    entries_by_day: dict[str, int]
    decided: int
    released: int
    held: int
    denied: int
    positives: int
    holds_by_rule: dict[str, int]
    denials_by_rule: dict[str, int]
    visit_obligations: int
    overdue_visits: int
    visit_compliance: float | None  # share of obligations not overdue; None without any
    visits_by_enterprise: dict[str, dict[str, int]] = field(default_factory=dict)
    exits: int = 0
    mean_dwell_hours: float | None = None
    longest_dwell_hours: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    def to_text(self) -> str:
        period = f"{self.first_day or 'start'} .. {self.last_day or 'now'}"
        lines = [
            f"Gate Sentinel report, {period} (park-local days)",
            f"  entries           {self.total_entries:>8,}",
            f"  daily peak        {self.peak_entries:>8,}  on {self.peak_date or '-'}",
            f"  decided           {self.decided:>8,}  released {self.released:,}, "
            f"held {self.held:,}, denied {self.denied:,} (current decisions)",
            f"  positives         {self.positives:>8,}",
            "  holds by rule     " + _counts(self.holds_by_rule),
            "  denials by rule   " + _counts(self.denials_by_rule),
            f"  visit obligations {self.visit_obligations:>8,}  overdue {self.overdue_visits:,}"
            + (
                f", compliance {self.visit_compliance:.1%}"
                if self.visit_compliance is not None
                else ""
            ),
        ]
        if self.mean_dwell_hours is not None and self.longest_dwell_hours is not None:
            lines.append(
                f"  time on site      {self.exits:>8,} exits, mean {self.mean_dwell_hours:.1f} h,"
                f" longest {self.longest_dwell_hours:.1f} h"
            )
        return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{rule} {n:,}" for rule, n in counts.items()) or "none"


def build_report(execute: Execute, first: date | None = None, last: date | None = None) -> Report:
    where = _between("day", first, last)
    by_day = {
        str(day): int(n)
        for day, n in execute(
            f"SELECT day, sum(entries) FROM rollup_gate_hourly FINAL WHERE {where} "
            "GROUP BY day ORDER BY day"
        )
        if int(n) > 0
    }
    peak = max(sorted(by_day.items()), key=lambda kv: kv[1], default=None)  # ties: earliest
    ((decided, released, held, denied),) = execute(
        "SELECT sum(decided), sum(released), sum(held), sum(denied) "
        f"FROM rollup_outcomes_daily FINAL WHERE {where}"
    )
    ((positives,),) = execute(
        f"SELECT sum(positives) FROM rollup_positives_daily FINAL WHERE {where}"
    )
    rules = execute(
        f"SELECT rule, sum(holds), sum(denials) FROM rollup_rules_daily FINAL WHERE {where} "
        "GROUP BY rule ORDER BY rule"
    )
    visits = {
        str(enterprise): {"obligations": int(o), "overdue": int(d)}
        for enterprise, o, d in execute(
            "SELECT enterprise, sum(obligations), sum(overdue) FROM rollup_visits_daily FINAL "
            f"WHERE {where} GROUP BY enterprise ORDER BY enterprise"
        )
    }
    obligations = sum(v["obligations"] for v in visits.values())
    overdue = sum(v["overdue"] for v in visits.values())
    ((exits, dwell, longest),) = execute(
        "SELECT sum(exits), sum(dwell_seconds), max(longest_seconds) "
        f"FROM rollup_dwell_daily FINAL WHERE {where}"
    )
    return Report(
        first_day=first.isoformat() if first else None,
        last_day=last.isoformat() if last else None,
        total_entries=sum(by_day.values()),
        peak_date=peak[0] if peak else None,
        peak_entries=peak[1] if peak else 0,
        entries_by_day=by_day,
        decided=int(decided),
        released=int(released),
        held=int(held),
        denied=int(denied),
        positives=int(positives),
        holds_by_rule={str(r): int(h) for r, h, _ in rules if int(h) > 0},
        denials_by_rule={str(r): int(d) for r, _, d in rules if int(d) > 0},
        visit_obligations=obligations,
        overdue_visits=overdue,
        visit_compliance=1 - overdue / obligations if obligations else None,
        visits_by_enterprise=visits,
        exits=int(exits),
        mean_dwell_hours=int(dwell) / int(exits) / 3600 if int(exits) else None,
        longest_dwell_hours=int(longest) / 3600 if int(exits) else None,
    )


# -- reconciliation: each rollup against the raw tables ------------------------------------


@dataclass(frozen=True)
class Check:
    """A rollup query and a raw-table query that must agree: both return ``keys`` group columns
    and then the values, in the same order."""

    what: str
    keys: int
    rollup_sql: str
    raw_sql: str


CHECKS: tuple[Check, ...] = (
    Check(
        "entries per gate and hour",
        4,
        "SELECT park, gate, day, hour, sum(entries) FROM rollup_gate_hourly FINAL "
        "GROUP BY park, gate, day, hour",
        "SELECT park, gate, event_date, event_hour, count() FROM entries FINAL "
        "GROUP BY park, gate, event_date, event_hour",
    ),
    Check(
        "held on arrival per gate and hour",
        4,
        "SELECT park, gate, day, hour, sum(held_on_arrival) FROM rollup_gate_hourly FINAL "
        "GROUP BY park, gate, day, hour",
        "SELECT park, gate, event_date, toHour(event_time), countIf(outcome != 'release') "
        "FROM decisions FINAL WHERE revision = 0 "
        "GROUP BY park, gate, event_date, toHour(event_time)",
    ),
    Check(
        "current outcomes per day",
        2,
        "SELECT park, day, sum(decided), sum(released), sum(held), sum(denied) "
        "FROM rollup_outcomes_daily FINAL GROUP BY park, day",
        "SELECT park, event_date, count(), countIf(o = 'release'), countIf(o = 'hold'), "
        "countIf(o = 'deny') FROM (SELECT entry_id, any(park) AS park, any(event_date) AS "
        "event_date, argMax(outcome, revision) AS o FROM decisions GROUP BY entry_id) "
        "GROUP BY park, event_date",
    ),
    Check(
        "holds and denials per rule and day",
        3,
        "SELECT park, day, rule, sum(holds), sum(denials) FROM rollup_rules_daily FINAL "
        "GROUP BY park, day, rule",
        "SELECT park, event_date, rule, countIf(o != 'deny'), countIf(o = 'deny') FROM ("
        "SELECT entry_id, any(park) AS park, any(event_date) AS event_date, "
        "argMax(outcome, revision) AS o, argMax(failed_rules, revision) AS failed "
        "FROM decisions GROUP BY entry_id) ARRAY JOIN failed AS rule "
        "GROUP BY park, event_date, rule",
    ),
    Check(
        "antigen positives per day",
        1,
        "SELECT day, sum(positives) FROM rollup_positives_daily FINAL WHERE kind = 'antigen' "
        "GROUP BY day",
        "SELECT event_date, count() FROM antigen_tests FINAL WHERE result = 'positive' "
        "GROUP BY event_date",
    ),
    Check(
        "NAT positives per day",
        1,
        "SELECT day, sum(positives) FROM rollup_positives_daily FINAL WHERE kind = 'nat' "
        "GROUP BY day",
        "SELECT event_date, count() FROM nat_reports FINAL WHERE result = 'positive' "
        "GROUP BY event_date",
    ),
    Check(
        "overdue visits per enterprise and day",
        3,
        "SELECT park, enterprise, day, sum(overdue) FROM rollup_visits_daily FINAL "
        "GROUP BY park, enterprise, day",
        "SELECT park, enterprise, event_date, count() FROM alerts FINAL "
        "WHERE dedup_key LIKE 'visits-overdue:%' GROUP BY park, enterprise, event_date",
    ),
    Check(
        "exits and time on site per day",
        2,
        "SELECT park, day, sum(exits), sum(dwell_seconds), max(longest_seconds) "
        "FROM rollup_dwell_daily FINAL GROUP BY park, day",
        "SELECT park, day, count(), sum(dwell), max(dwell) FROM ("
        "SELECT park, day, exited - entered AS dwell FROM ("
        "SELECT event_id AS entry_id, park, event_date AS day, toUInt32(event_time) AS entered "
        "FROM entries FINAL) AS e ANY INNER JOIN ("
        "SELECT entry_id, min(toUInt32(event_time)) AS exited FROM exits FINAL "
        "WHERE entry_id != '' GROUP BY entry_id) AS x USING entry_id WHERE exited >= entered) "
        "GROUP BY park, day",
    ),
)


@dataclass
class Mismatch:
    check: str
    group: tuple[str, ...]
    rollup: tuple[int, ...]
    raw: tuple[int, ...]


def reconcile(execute: Execute) -> tuple[int, list[Mismatch]]:
    """Compare every rollup with the raw tables. Returns (groups compared, mismatches); a group
    missing on one side counts as zeros there."""
    compared = 0
    mismatches = []
    for check in CHECKS:
        rollup = _groups(execute(check.rollup_sql), check.keys)
        raw = _groups(execute(check.raw_sql), check.keys)
        for group in sorted(set(rollup) | set(raw)):
            width = len(rollup.get(group) or raw[group])
            ours, theirs = rollup.get(group, (0,) * width), raw.get(group, (0,) * width)
            compared += 1
            if ours != theirs:
                mismatches.append(Mismatch(check.what, group, ours, theirs))
    return compared, mismatches


def _groups(rows: list[tuple[Any, ...]], keys: int) -> dict[tuple[str, ...], tuple[int, ...]]:
    return {tuple(str(v) for v in row[:keys]): tuple(int(v) for v in row[keys:]) for row in rows}

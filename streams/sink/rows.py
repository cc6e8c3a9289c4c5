"""Row mappers: a topic's record in, rows of ClickHouse tables out, column for column with
``streams/sink/migrations``. Pure; the sink stage (``streams/agents/sink.py``) does the I/O.

A mapper takes the record's value and its Kafka timestamp (ms) and returns (table, row) pairs.
The values were validated when they entered the pipeline; a mapper that raises marks its record
as one ClickHouse cannot hold (dead-lettered by the sink).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from schemas import Alert, AntigenTest, Decision, HealthVisit, NatReport, VehicleEntry, VehicleExit
from schemas.resolution import ResolutionOutcome
from schemas.trace import ContactTrace
from streams.parktime import PARK_TZ, local_day
from streams.rules.ruleset import content_hash, parse_ruleset

Row = tuple[Any, ...]
Rows = list[tuple[str, Row]]

COLUMNS: dict[str, tuple[str, ...]] = {
    "entries": (
        "event_id",
        "park",
        "gate",
        "gate_class",
        "plate",
        "vehicle_class",
        "hazmat",
        "un_number",
        "hazard_class",
        "quantity_kg",
        "consignee",
        "origin_region",
        "occupants",
        "event_time",
        "event_date",
        "event_hour",
    ),
    "occupants": (
        "entry_id",
        "person",
        "role",
        "nat_sample_time",
        "nat_result",
        "code_colour",
        "on_roster",
        "roster_checked",
        "park",
        "gate",
        "event_time",
        "event_date",
    ),
    "antigen_tests": (
        "event_id",
        "person",
        "park",
        "site",
        "result",
        "event_time",
        "event_date",
    ),
    "nat_reports": (
        "event_id",
        "person",
        "lab",
        "result",
        "sample_time",
        "event_time",
        "event_date",
    ),
    "health_visits": (
        "event_id",
        "person",
        "park",
        "enterprise",
        "entry_id",
        "visit_number",
        "temperature_c",
        "symptoms",
        "outcome",
        "event_time",
        "event_date",
    ),
    "exits": ("event_id", "park", "gate", "plate", "entry_id", "event_time", "event_date"),
    "decisions": (
        "decision_id",
        "entry_id",
        "revision",
        "supersedes",
        "park",
        "gate",
        "plate",
        "outcome",
        "failed_rules",
        "ruleset_version",
        "ruleset_hash",
        "rule_names",
        "rule_subjects",
        "rule_statuses",
        "rule_outcomes",
        "rule_reasons",
        "rule_evidence",
        "officer",
        "resolution_action",
        "resolution_reason",
        "event_time",
        "event_date",
    ),
    "alerts": (
        "event_id",
        "dedup_key",
        "severity",
        "rule",
        "subject",
        "park",
        "gate",
        "entry_id",
        "enterprise",
        "message",
        "event_time",
        "detected_at",
        "event_date",
    ),
    "alert_resolutions": ("dedup_key", "resolved_at", "event_date"),
    "resolutions": (
        "event_id",
        "park",
        "gate",
        "plate",
        "entry_id",
        "officer",
        "action",
        "reason",
        "accepted",
        "refusal",
        "superseded_revision",
        "revision",
        "event_time",
        "event_date",
    ),
    "contacts": (
        "trace_id",
        "positive_event_id",
        "park",
        "person",
        "kind",
        "entry_id",
        "plate",
        "gate",
        "contact_person",
        "contact_time",
        "via_entry_id",
        "event_time",
        "event_date",
    ),
    "rulesets": ("version", "content_hash", "text", "published_at"),
}


def _row(table: str, source: Any, **values: Any) -> tuple[str, Row]:
    """A row of ``table``: each column from ``values`` when given, else the source's attribute
    of the same name (a boolean as 0 or 1); ``event_date`` is the park-local day of the source's
    ``event_time``."""
    row = []
    for column in COLUMNS[table]:
        if column in values:
            value = values[column]
        elif column == "event_date":
            value = local_day(source.event_time)
        else:
            value = getattr(source, column)
        row.append(int(value) if isinstance(value, bool) else value)
    return table, tuple(row)


def entry_rows(raw: bytes, _: int) -> Rows:
    e = VehicleEntry.model_validate_json(raw)
    local = e.event_time.astimezone(PARK_TZ)
    cargo = e.cargo
    rows: Rows = [
        _row(
            "entries",
            e,
            un_number=cargo.un_number if cargo else "",
            hazard_class=cargo.hazard_class if cargo else "",
            quantity_kg=cargo.quantity_kg if cargo else 0.0,
            consignee=e.consignee or "",
            occupants=len(e.occupants),
            event_date=local.date(),
            event_hour=local.hour,
        )
    ]
    for o in e.occupants:
        rows.append(
            _row(
                "occupants",
                o,
                entry_id=e.event_id,
                nat_result=o.nat_result or "",
                code_colour=o.code_colour or "",
                on_roster=bool(o.on_roster),
                roster_checked=o.on_roster is not None,
                park=e.park,
                gate=e.gate,
                event_time=e.event_time,
                event_date=local.date(),
            )
        )
    return rows


def exit_rows(raw: bytes, _: int) -> Rows:
    x = VehicleExit.model_validate_json(raw)
    return [_row("exits", x, entry_id=x.entry_id or "")]


def antigen_rows(raw: bytes, _: int) -> Rows:
    return [_row("antigen_tests", AntigenTest.model_validate_json(raw))]


def nat_rows(raw: bytes, _: int) -> Rows:
    return [_row("nat_reports", NatReport.model_validate_json(raw))]


def visit_rows(raw: bytes, _: int) -> Rows:
    v = HealthVisit.model_validate_json(raw)
    return [_row("health_visits", v, entry_id=v.entry_id or "")]


def decision_row(d: Decision) -> Row:
    resolution = d.resolution
    return _row(
        "decisions",
        d,
        decision_id=d.event_id,
        supersedes=d.supersedes or "",
        failed_rules=list(d.failed_rules),
        rule_names=[r.rule for r in d.rules],
        rule_subjects=[r.subject or "" for r in d.rules],
        rule_statuses=[r.status for r in d.rules],
        rule_outcomes=[r.outcome for r in d.rules],
        rule_reasons=[r.reason for r in d.rules],
        rule_evidence=["; ".join(_ref(e) for e in r.evidence) for r in d.rules],
        officer=resolution.officer if resolution else "",
        resolution_action=resolution.action if resolution else "",
        resolution_reason=resolution.reason if resolution else "",
    )[1]


def _ref(ref: Any) -> str:
    where = f"{ref.topic}/{ref.partition}" + (f"/{ref.offset}" if ref.offset is not None else "")
    return f"{ref.event_id} {where}"


def decision_rows(raw: bytes, _: int) -> Rows:
    return [("decisions", decision_row(Decision.model_validate_json(raw)))]


def alert_rows(raw: bytes, _: int) -> Rows:
    a = Alert.model_validate_json(raw)
    if a.resolved_at is not None:
        return [_row("alert_resolutions", a)]
    return [
        _row(
            "alerts", a, gate=a.gate or "", entry_id=a.entry_id or "", enterprise=a.enterprise or ""
        )
    ]


def resolution_rows(raw: bytes, _: int) -> Rows:
    return [_row("resolutions", ResolutionOutcome.model_validate_json(raw))]


def trace_rows(raw: bytes, _: int) -> Rows:
    t = ContactTrace.model_validate_json(raw)
    return [
        _row(
            "contacts",
            t,
            trace_id=t.event_id,
            kind=c.kind,
            entry_id=c.entry_id,
            plate=c.plate,
            gate=c.gate,
            contact_person=c.person or "",
            contact_time=c.time,
            via_entry_id=c.via,
        )
        for c in t.contacts
    ]


def ruleset_rows(raw: bytes, timestamp_ms: int) -> Rows:
    text = raw.decode()
    rules = parse_ruleset(text, "sentinel.rulesets")
    published = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).replace(microsecond=0)
    return [("rulesets", (rules.version, content_hash(text), text, published))]


# What the sink writes: each topic's mapper (catalogue names).
MAPPERS: dict[str, Callable[[bytes, int], Rows]] = {
    "canonical.entries": entry_rows,
    "canonical.exits": exit_rows,
    "canonical.antigen": antigen_rows,
    "canonical.nat": nat_rows,
    "canonical.visits": visit_rows,
    "canonical.resolutions": resolution_rows,
    "sentinel.decisions": decision_rows,
    "sentinel.alerts": alert_rows,
    "sentinel.traces": trace_rows,
    "sentinel.rulesets": ruleset_rows,
}

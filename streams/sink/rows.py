"""Row mappers: a topic's message in, rows of ClickHouse tables out, column for column with
deploy/clickhouse/migrations. Pure; the sink agent (streams/agents/write.py) does the I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas import Alert, AntigenTest, Decision, HealthVisit, NatReport, VehicleEntry, VehicleExit
from streams.parktime import PARK_TZ, local_day

Row = tuple[Any, ...]

COLUMNS: dict[str, tuple[str, ...]] = {
    "entries": (
        "event_id", "park", "gate", "gate_class", "plate", "vehicle_class", "hazmat",
        "un_number", "hazard_class", "quantity_kg", "consignee", "origin_region", "occupants",
        "event_time", "event_date", "event_hour",
    ),
    "occupants": (
        "entry_id", "person", "role", "nat_sample_time", "nat_result", "code_colour",
        "on_roster", "park", "gate", "event_time", "event_date",
    ),
    "antigen_tests": (
        "event_id", "person", "park", "site", "result", "event_time", "event_date",
    ),
    "nat_reports": (
        "event_id", "person", "lab", "result", "sample_time", "event_time", "event_date",
    ),
    "health_visits": (
        "event_id", "person", "enterprise", "entry_id", "visit_number", "temperature_c",
        "symptoms", "outcome", "event_time", "event_date",
    ),
    "exits": ("event_id", "park", "gate", "plate", "entry_id", "event_time", "event_date"),
    "decisions": (
        "decision_id", "entry_id", "revision", "park", "gate", "plate", "outcome",
        "failed_rules", "ruleset_version", "event_time", "event_date",
    ),
    "alerts": (
        "event_id", "dedup_key", "severity", "rule", "subject", "park", "gate", "entry_id",
        "enterprise", "message", "event_time", "event_date",
    ),
}  # fmt: skip


def entry_rows(raw: bytes) -> list[tuple[str, Row]]:
    e = VehicleEntry.model_validate_json(raw)
    local = e.event_time.astimezone(PARK_TZ)
    cargo = e.cargo
    rows: list[tuple[str, Row]] = [
        ("entries", (
            e.event_id, e.park, e.gate, e.gate_class, e.plate, e.vehicle_class, int(e.hazmat),
            cargo.un_number if cargo else "", cargo.hazard_class if cargo else "",
            cargo.quantity_kg if cargo else 0.0, e.consignee or "", e.origin_region,
            len(e.occupants), e.event_time, local.date(), local.hour,
        ))
    ]  # fmt: skip
    for o in e.occupants:
        rows.append(("occupants", (
            e.event_id, o.person, o.role, o.nat_sample_time, o.nat_result or "", o.code_colour,
            int(o.on_roster), e.park, e.gate, e.event_time, local.date(),
        )))  # fmt: skip
    return rows


def exit_rows(raw: bytes) -> list[tuple[str, Row]]:
    x = VehicleExit.model_validate_json(raw)
    return [("exits", (x.event_id, x.park, x.gate, x.plate, x.entry_id or "", x.event_time,
                       local_day(x.event_time)))]  # fmt: skip


def antigen_rows(raw: bytes) -> list[tuple[str, Row]]:
    a = AntigenTest.model_validate_json(raw)
    return [("antigen_tests", (a.event_id, a.person, a.park, a.site, a.result, a.event_time,
                               local_day(a.event_time)))]  # fmt: skip


def nat_rows(raw: bytes) -> list[tuple[str, Row]]:
    n = NatReport.model_validate_json(raw)
    return [("nat_reports", (n.event_id, n.person, n.lab, n.result, n.sample_time, n.event_time,
                             local_day(n.event_time)))]  # fmt: skip


def visit_rows(raw: bytes) -> list[tuple[str, Row]]:
    v = HealthVisit.model_validate_json(raw)
    return [("health_visits", (
        v.event_id, v.person, v.enterprise, v.entry_id or "", v.visit_number, v.temperature_c,
        int(v.symptoms), v.outcome, v.event_time, local_day(v.event_time),
    ))]  # fmt: skip


def decision_row(decision: Decision) -> Row:
    return (
        decision.event_id, decision.entry_id, decision.revision, decision.park, decision.gate,
        decision.plate, decision.outcome, list(decision.failed_rules), decision.ruleset_version,
        decision.event_time, local_day(decision.event_time),
    )  # fmt: skip


def decision_rows(raw: bytes) -> list[tuple[str, Row]]:
    return [("decisions", decision_row(Decision.model_validate_json(raw)))]


def alert_rows(raw: bytes) -> list[tuple[str, Row]]:
    a = Alert.model_validate_json(raw)
    return [("alerts", (
        a.event_id, a.dedup_key, a.severity, a.rule, a.subject, a.park, a.gate or "",
        a.entry_id or "", a.enterprise or "", a.message, a.event_time, local_day(a.event_time),
    ))]  # fmt: skip


# What the sink writes: each topic's mapper (catalogue names).
MAPPERS: dict[str, Callable[[bytes], list[tuple[str, Row]]]] = {
    "canonical.entries": entry_rows,
    "canonical.exits": exit_rows,
    "canonical.antigen": antigen_rows,
    "canonical.nat": nat_rows,
    "canonical.visits": visit_rows,
    "sentinel.decisions": decision_rows,
    "sentinel.alerts": alert_rows,
}

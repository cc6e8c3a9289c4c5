"""Row mappers: event in, row out, column for column with deploy/clickhouse/migrations."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from schemas import Decision

PARK_TZ = ZoneInfo("Asia/Shanghai")

DECISION_COLUMNS = (
    "decision_id",
    "entry_id",
    "revision",
    "park",
    "gate",
    "plate",
    "outcome",
    "failed_rules",
    "ruleset_version",
    "event_time",
    "event_date",
)


def decision_row(decision: Decision) -> tuple[Any, ...]:
    local = decision.event_time.astimezone(PARK_TZ)
    return (
        decision.event_id,
        decision.entry_id,
        decision.revision,
        decision.park,
        decision.gate,
        decision.plate,
        decision.outcome,
        list(decision.failed_rules),
        decision.ruleset_version,
        decision.event_time,
        local.date(),  # the park-local calendar day
    )

"""The walking skeleton, end to end: kafka-python -> gate.entries -> ingestion ->
canonical.entries -> decisions -> sentinel.decisions -> ClickHouse."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from schemas import Decision
from streams.settings import Settings
from tests.integration.helpers import Worker, consume_all, poll_query, produce
from tests.unit import factories


def raw_entry(entry_id: str, nat_age: timedelta) -> bytes:
    now = datetime.now(UTC)
    value = factories.entry(event_id=entry_id, event_time=now.isoformat())
    for occupant in value["occupants"]:
        occupant["nat_sample_time"] = (now - nat_age).isoformat()
    return json.dumps(value).encode()


def test_entry_becomes_a_decision_and_a_clickhouse_row(settings: Settings, worker: Worker) -> None:
    run = uuid.uuid4().hex[:8]
    fresh, expired = f"fresh-{run}", f"expired-{run}"
    key = "沪A12345".encode()
    produce(
        settings,
        "gate.entries",
        [
            (key, raw_entry(fresh, timedelta(hours=3))),
            (key, raw_entry(expired, timedelta(hours=49))),
        ],
    )

    records = consume_all(settings, "sentinel.decisions", until=2)
    decisions = {d.entry_id: d for d in (Decision.model_validate_json(r.value) for r in records)}
    assert decisions[fresh].outcome == "release"
    assert decisions[expired].outcome == "hold"
    assert decisions[expired].failed_rules == ("nat_48h",)
    assert {r.key for r in records} == {fresh.encode(), expired.encode()}

    rows = poll_query(
        settings,
        "SELECT entry_id, outcome, failed_rules, ruleset_version FROM decisions FINAL "
        "WHERE entry_id IN %(ids)s ORDER BY entry_id",
        {"ids": (fresh, expired)},
        rows=2,
    )
    assert rows == [
        (expired, "hold", ["nat_48h"], "skeleton-1"),
        (fresh, "release", [], "skeleton-1"),
    ]

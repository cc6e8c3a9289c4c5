"""The walking skeleton, end to end: kafka-python -> gate.entries -> Faust worker ->
sentinel.decisions -> ClickHouse, with an invalid message dead-lettered on the way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas import Decision, Occupant, VehicleEntry
from streams.settings import Settings
from tests.integration.helpers import consume_all, poll_query, produce


def make_entry(entry_id: str, nat_age: timedelta) -> VehicleEntry:
    now = datetime.now(UTC)
    return VehicleEntry(
        event_id=entry_id,
        event_time=now,
        park="tangu",
        gate="jinshanwei-1",
        plate="沪A12345",
        hazmat=True,
        occupants=(
            Occupant(
                person_id="p1", role="driver", nat_sample_time=now - nat_age, nat_result="negative"
            ),
            Occupant(
                person_id="p2", role="escort", nat_sample_time=now - nat_age, nat_result="negative"
            ),
        ),
    )


def test_entry_becomes_a_decision_and_a_clickhouse_row(settings: Settings, worker: Path) -> None:
    run = uuid.uuid4().hex[:8]
    fresh = make_entry(f"fresh-{run}", timedelta(hours=3))
    expired = make_entry(f"expired-{run}", timedelta(hours=49))
    garbage = b'{"event_id": "broken", "plate": '
    produce(
        settings,
        "gate.entries",
        [
            (b"\xe6\xb2\xaaA12345", fresh.model_dump_json().encode()),
            (b"\xe6\xb2\xaaA12345", garbage),
            (b"\xe6\xb2\xaaA12345", expired.model_dump_json().encode()),
        ],
    )

    records = consume_all(settings, "sentinel.decisions", until=2)
    decisions = {d.entry_id: d for d in (Decision.model_validate_json(r.value) for r in records)}
    assert decisions[fresh.event_id].outcome == "release"
    assert decisions[expired.event_id].outcome == "hold"
    assert decisions[expired.event_id].failed_rules == ("nat_48h",)
    assert {r.key for r in records} == {fresh.event_id.encode(), expired.event_id.encode()}

    rows = poll_query(
        settings,
        "SELECT entry_id, outcome, failed_rules, ruleset_version FROM decisions FINAL "
        "WHERE entry_id IN %(ids)s ORDER BY entry_id",
        {"ids": (fresh.event_id, expired.event_id)},
        rows=2,
    )
    assert rows == [
        (expired.event_id, "hold", ["nat_48h"], "skeleton-1"),
        (fresh.event_id, "release", [], "skeleton-1"),
    ]

    (dead,) = consume_all(settings, "sentinel.dlq", until=1)
    assert dead.value == garbage, "the dead letter keeps the raw bytes untouched"
    headers = dict(dead.headers)
    assert headers["source_topic"] == settings.topic("gate.entries").encode()
    assert headers["error_class"] == b"ValidationError"
    assert (
        b"json_invalid" in headers["error_message"] or b"Invalid JSON" in headers["error_message"]
    )

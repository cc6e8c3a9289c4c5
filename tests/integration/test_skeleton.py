"""The whole path, end to end: kafka-python -> gate.entries / health.antigen -> ingestion ->
canonical topics -> person and vehicle stages -> sentinel.decisions -> ClickHouse."""

from __future__ import annotations

from datetime import timedelta

from schemas import Decision
from streams.settings import Settings
from tests.integration import story
from tests.integration.helpers import Tail, Worker, poll_query
from tests.integration.test_rules_story import send


def test_entries_become_decisions_and_clickhouse_rows(settings: Settings, worker: Worker) -> None:
    fresh, expired = story.people(2), story.people(2)
    at = story.T0 + timedelta(minutes=9)
    send(
        settings,
        story.entry("fresh", fresh, nat_ages=[3, 3]),
        story.entry("expired", expired, nat_ages=[49, 49], plate="沪A54321"),
        *[story.antigen(f"ag-fresh-{n}", who, at) for n, who in enumerate(fresh)],
    )
    tail = Tail(settings, "sentinel.decisions")
    try:
        tail.wait(lambda r: Decision.model_validate_json(r.value).outcome == "release",
                  what="the fresh truck's release")  # fmt: skip
        tail.wait(lambda r: b'"expired"' in r.value, what="the expired truck's hold")
        keys = {r.key for r in tail.records}
    finally:
        tail.close()
    assert keys == {b"fresh", b"expired"}, "decisions are keyed by entry id"

    rows = poll_query(
        settings,
        "SELECT entry_id, argMax(outcome, revision), argMax(failed_rules, revision), "
        "any(ruleset_version) FROM decisions FINAL WHERE entry_id IN %(ids)s "
        "GROUP BY entry_id ORDER BY entry_id",
        {"ids": ("fresh", "expired")},
        rows=2,
    )
    assert rows == [
        ("expired", "hold", ["nat_48h"], "jinshan-2022.1"),
        ("fresh", "release", [], "jinshan-2022.1"),
    ]

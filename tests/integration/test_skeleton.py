"""The whole path, end to end: kafka-python -> gate.entries / health.antigen -> ingestion ->
canonical topics -> person and vehicle stages -> sentinel.decisions -> ClickHouse."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas import Decision, GateHeartbeat
from streams.jsonl import envelope
from streams.settings import Settings
from streams.topics import partition_of
from tests.integration import story
from tests.integration.helpers import (
    Tail,
    Worker,
    drained,
    poll_query,
    produce,
    read_all,
    running_worker,
)
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
        tail.wait(
            lambda r: Decision.model_validate_json(r.value).outcome == "release",
            what="the fresh truck's release",
        )
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
        ("expired", "hold", ["nat_48h"], "jinshan-2022.2"),
        ("fresh", "release", [], "jinshan-2022.2"),
    ]


def test_a_quiet_worker_still_says_when_it_is_ready_and_where_its_board_is(
    fresh: Settings, tmp_path: Path
) -> None:
    # At SENTINEL_LOG_LEVEL=warn the ready line, logged at INFO, was filtered out, and whatever
    # started the worker (the demo, `worker --detach`, the tests) waited for it forever.
    with running_worker(fresh, tmp_path, log_level="warn") as quiet:
        assert quiet.board_url().startswith("http://127.0.0.1:")
        assert " [INFO] " not in quiet.log()


def test_events_keyed_the_old_way_are_still_decided(settings: Settings, worker: Worker) -> None:
    # Before the park key, entries were keyed by plate and antigen results by ID number. Such a
    # record lands on another park's partition: the stage sends it again keyed by its park.
    park = partition_of(b"tangu-green-bay", settings.partitions)
    # IDs that land on another partition than the park's (one in 32 would not: then it is on
    # the park's partition already, and nothing is sent again).
    crew = [
        p
        for p in story.people(12)
        if partition_of(p.id_number.encode(), settings.partitions) != park
    ][:2]
    plate = next(
        p
        for p in (f"沪K{n:05d}" for n in range(100))
        if partition_of(p.encode(), settings.partitions)
        != partition_of(b"tangu-green-bay", settings.partitions)
    )
    at = story.T0 + timedelta(hours=2)
    old_keys = [
        (plate.encode(), story.entry("old-keys", crew, at=at, plate=plate)),
        *[
            (who.id_number.encode(), story.antigen(f"ag-old-keys-{n}", who, at))
            for n, who in enumerate(crew)
        ],
    ]
    before = worker.metric_sum("sentinel_rekeyed_total")
    for key, (topic, event) in old_keys:
        produce(settings, topic, [(key, json.dumps(envelope(topic, event)["value"]).encode())])
    # Held first (its antigen results not read yet), then released once they are.
    rows = poll_query(
        settings,
        "SELECT revision, failed_rules FROM decisions FINAL "
        "WHERE entry_id = %(id)s AND outcome = 'release'",
        {"id": "old-keys"},
        rows=1,
    )
    assert rows[0][1] == []
    # Decided from the park's partition, where every worker would look for it (one worker holds
    # every partition here, so the decision alone would not show it).
    copies = [
        r
        for r in read_all(settings, "gate.entries")
        if r.partition == park and dict(r.headers).get("rekeyed_from") and b"old-keys" in r.value
    ]
    assert len(copies) == 1 and copies[0].key == b"tangu-green-bay"
    assert worker.metric_sum("sentinel_rekeyed_total") >= before + 3


def test_a_quiet_gate_that_sends_heartbeats_is_seen(settings: Settings, worker: Worker) -> None:
    """`sentinel_gate_last_seen_timestamp_seconds` is "entry, exit or heartbeat": a gate with no
    traffic whose controller beats is not silent (SentinelGateSilent reads this gauge)."""
    beat = GateHeartbeat(
        event_id="beat-quiet-gate",
        event_time=datetime.now(UTC).replace(microsecond=0),
        park="tangu-green-bay",
        gate="quiet-gate-7",
    )
    produce(settings, "gate.heartbeats", [(beat.park.encode(), beat.model_dump_json().encode())])
    drained(settings, "gate.heartbeats")  # the worker read it and committed it
    line = 'sentinel_gate_last_seen_timestamp_seconds{gate="quiet-gate-7",park="tangu-green-bay"}'
    with urllib.request.urlopen(f"{worker.board_url()}metrics", timeout=10) as response:
        seen = [text for text in response.read().decode().splitlines() if text.startswith(line)]
    assert seen, "a gate whose controller beats must be seen"
    assert abs(float(seen[0].split()[-1]) - time.time()) < 600  # set when the beat was read

"""Ingestion through the real broker: simulator traffic with 1% corrupted messages, the DLQ and
its headers, personal data kept out of everything downstream, DLQ replay (the DLQ limit and
the rest of the error policy: test_errors.py)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from schemas import DeadLetter, RawVehicleEntry
from streams import access
from streams.jsonl import envelope, key_for
from streams.settings import Settings
from streams.topics import RAW_TO_CANONICAL
from tests.integration.helpers import (
    Worker,
    consume_until,
    isolated,
    poll_query,
    produce,
    query,
    read_all,
    running_worker,
    sentinel_cli,
)
from workbench.simulator import Params, generate

EVENTS = 3000
# Shapes standing alone, not runs of digits inside a pseudonym's hex: under the stack's random
# key, an 11-digit run in some pseudonym looked like a phone number (the first run on it).
ID_NUMBER = re.compile(rb"(?<![0-9a-zA-Z])\d{6}(19|20)\d{2}[01]\d[0-3]\d\d{3}[\dX](?![0-9a-zA-Z])")
PHONE = re.compile(rb"(?<![0-9a-zA-Z])1[3-9]\d{9}(?![0-9a-zA-Z])")


def corrupt(kind: int, record: dict[str, Any]) -> bytes:
    """Six kinds of bad input, each made from a valid event."""
    value = json.loads(json.dumps(record["value"]))
    if kind == 0:
        return json.dumps(value).encode()[:-7]  # malformed JSON
    if kind == 1:
        value["event_time"] = 20220401  # wrong type
    elif kind == 2 and "id_number" in value:
        value["id_number"] = value["id_number"][:17] + (
            "0" if value["id_number"][17] != "0" else "1"
        )
    elif kind == 3:
        value["event_time"] = "2099-01-01T00:00:00+08:00"  # beyond the future tolerance
    elif kind == 4:
        value["event_id"] = "x" * 300_000  # oversized
    else:
        value["schema_version"] = "one"
    return json.dumps(value, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def traffic(settings: Settings, worker: Worker) -> dict[str, Any]:
    """Send the first EVENTS simulator events, 1% of them corrupted, and wait for the results."""
    scenario = generate(Params(seed=3))
    records = [envelope(t, e) for t, e in scenario.events[:EVENTS]]
    bad_positions = set(range(50, EVENTS, 100))  # 30 messages: 1%
    valid: Counter[str] = Counter()
    bad: dict[bytes, str] = {}
    messages: dict[str, list[tuple[bytes | None, bytes]]] = {}
    for position, record in enumerate(records):
        if position in bad_positions:
            payload = corrupt(position // 100 % 6, record)
            bad[payload] = record["topic"]
        else:
            payload = json.dumps(record["value"], ensure_ascii=False).encode()
            valid[record["topic"]] += 1
        messages.setdefault(record["topic"], []).append((key_for(record), payload))
    for topic, batch in messages.items():
        produce(settings, topic, batch)
    canonical = {
        target: consume_until(settings, target, count)
        for topic, count in valid.items()
        if (target := RAW_TO_CANONICAL[topic]) is not None  # heartbeats only move a clock
    }
    dead = consume_until(settings, "sentinel.dlq", len(bad))
    identifiers = set()
    for _, event in scenario.events[:EVENTS]:
        for holder in getattr(event, "occupants", None) or [event]:
            for field in ("id_number", "phone"):
                if getattr(holder, field, None):
                    identifiers.add(getattr(holder, field).encode())
    return {
        "valid": valid,
        "bad": bad,
        "canonical": canonical,
        "dead": dead,
        "identifiers": identifiers,
        "entries": valid["gate.entries"],
    }


def test_every_valid_event_is_accepted_once(traffic: dict[str, Any]) -> None:
    for topic, count in traffic["valid"].items():
        if RAW_TO_CANONICAL[topic] is None:
            continue
        records = traffic["canonical"][RAW_TO_CANONICAL[topic]]
        event_ids = Counter(json.loads(r.value)["event_id"] for r in records)
        assert len(event_ids) == count, topic
        assert max(event_ids.values()) == 1, f"{topic}: an event was passed on twice"


def test_every_corrupted_message_is_in_the_dlq_untouched_with_headers(
    settings: Settings, traffic: dict[str, Any]
) -> None:
    dead = traffic["dead"]
    assert {r.value for r in dead} == set(traffic["bad"])
    assert len(dead) == len(traffic["bad"])
    classes = Counter(DeadLetter.from_headers(list(r.headers)).error_class for r in dead)
    assert set(classes) == {"ValidationError", "EventTimeInFuture", "MessageTooLarge"}
    for record in dead[:10]:
        letter = DeadLetter.from_headers(list(record.headers))
        assert letter.source_topic == settings.topic(traffic["bad"][record.value])
        assert letter.stage == "ingest" and letter.worker_id and letter.schema_version == 1
        # The headers point at the very message: read it back from the source topic.
        source = _read_at(
            settings, letter.source_topic, letter.source_partition, letter.source_offset
        )
        assert source == record.value


def test_no_identifier_reaches_anything_downstream_of_ingestion(
    settings: Settings, traffic: dict[str, Any], worker: Worker
) -> None:
    identifiers: set[bytes] = traffic["identifiers"]
    raw = b"".join(r.value for r in read_all(settings, "gate.entries"))
    assert any(i in raw for i in identifiers), "the scan must be able to see identifiers"
    poll_query(settings, "SELECT 1 FROM decisions", {}, rows=traffic["entries"])
    downstream = [r.value for records in traffic["canonical"].values() for r in records]
    downstream += [
        r.value for r in consume_until(settings, "sentinel.decisions", traffic["entries"])
    ]
    downstream += [v for r in traffic["dead"] for _, v in r.headers]  # headers, not the raw bytes
    downstream += [repr(row).encode() for row in query(settings, "SELECT * FROM decisions")]
    downstream.append(worker.log().encode())
    blob = b"\n".join(downstream)
    assert not ID_NUMBER.search(blob), "a resident ID number shape appears downstream"
    assert not PHONE.search(blob), "a phone number appears downstream"
    assert not any(i in blob for i in identifiers)


def test_dlq_replay_processes_now_valid_events_once(
    stack_settings: Settings, services: None, tmp_path: Path
) -> None:
    big = next(
        e
        for _, e in generate(Params(seed=1)).events
        if isinstance(e, RawVehicleEntry) and len(e.occupants) == 27
    )
    payload = big.model_dump_json().encode()
    assert len(payload) > 2048
    with isolated(stack_settings) as settings:
        with running_worker(settings, tmp_path, max_message_bytes="2048"):
            produce(settings, "gate.entries", [(big.plate.encode(), payload)])
            (letter,) = consume_until(settings, "sentinel.dlq", 1)
            assert DeadLetter.from_headers(list(letter.headers)).error_class == "MessageTooLarge"
        listing = sentinel_cli(settings, "dlq", "list")
        assert "1 dead letters" in listing and "MessageTooLarge" in listing
        # The limit is raised (the fix); the dead letter goes back, twice.
        with running_worker(settings, tmp_path):
            assert "replayed 1 dead letters" in sentinel_cli(settings, "dlq", "replay")
            again = sentinel_cli(settings, "dlq", "replay")
            assert "replayed 0 dead letters" in again and "1 replayed before" in again
            rows = poll_query(
                settings,
                "SELECT outcome FROM decisions FINAL WHERE entry_id = %(id)s",
                {"id": big.event_id},
                rows=1,
            )
            assert len(rows) == 1
            entries = read_all(settings, "canonical.entries")
            assert [json.loads(r.value)["event_id"] for r in entries] == [big.event_id]


def _read_at(settings: Settings, topic: str, partition: int, offset: int) -> bytes:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**access.kafka_python(settings))
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        for records in iter(lambda: consumer.poll(timeout_ms=5000).get(tp), None):
            return bytes(records[0].value)
        raise AssertionError(f"nothing at {topic}[{partition}]@{offset}")
    finally:
        consumer.close()

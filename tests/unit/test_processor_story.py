"""Six days of the 2022 story through the decide stage's batch processor
(``streams/processor.py``): every output on its topic, keyed and placed where its readers look;
the counters; the rollup facts. Not under ``make mutation``: the story reaches every function of
the engine, and each mutant would replay it (``tests/unit/test_processor.py`` is)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import REGISTRY

from streams.engine import FAR_FUTURE, records
from streams.outbox import Send
from streams.processor import ROLLUPS, Batch, Processor, Raw
from tests.simulated_tables import FIRST, LAST, officer_ends_a_hold
from tests.unit.test_processor import HOME, PARK, processor, raw
from workbench.simulator.jinshan import Params, generate


@pytest.fixture(scope="module")
def six_days() -> tuple[Processor, list[Raw], list[Batch]]:
    """The 2022 story's six days around the 27-passenger car (denials, a positive and its
    contacts, evasion, overdue visits, a late event) and an officer turning a truck away, read
    as the stage reads them (a batch a day's hour), then the clock run to its end."""
    process = processor()
    read: list[Raw] = []
    for topic, event in generate(Params(seed=1)).events:
        if FIRST <= event.event_time.date() <= LAST:  # type: ignore[attr-defined]
            read.append(raw(topic, event.model_dump_json().encode(), len(read)))
    before = snapshot()
    batches = []
    for start in range(0, len(read), 200):
        for record in read[start : start + 200]:
            process.read(record)
        process.advance()
        batches.append(process.take())
    (turned,) = officer_ends_a_hold(process.engine)
    process.read(raw("gate.resolutions", turned.model_dump_json().encode(), len(read)))
    process.advance(FAR_FUTURE)
    batches.append(process.take())
    after = snapshot()
    counted = {key: value - before.get(key, 0.0) for key, value in after.items()}
    process.counted = counted  # type: ignore[attr-defined]
    return process, read, batches


COUNTED = [
    ("sentinel_events_in_total", "topic"),
    ("sentinel_decisions_total", "outcome"),
    ("sentinel_alerts_total", "severity", "rule"),
    ("sentinel_rule_failures_total", "rule"),
    ("sentinel_late_events_total", "topic"),
    ("sentinel_gate_entries_total", "park", "gate"),
]


def snapshot() -> dict[tuple[Any, ...], float]:
    """Every sample of the counters the processor moves, by name and labels."""
    found = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if any(sample.name == name for name, *_ in COUNTED):
                found[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return found


def test_every_output_goes_to_its_topic_keyed_and_placed_where_its_readers_look(
    six_days: tuple[Processor, list[Raw], list[Batch]],
) -> None:
    _, _, batches = six_days
    sends = [send for batch in batches for send in batch.outputs]
    by_topic: dict[str, list[Send]] = {}
    for send in sends:
        by_topic.setdefault(send.topic, []).append(send)
    assert set(by_topic) == {
        "canonical.entries",
        "canonical.exits",
        "canonical.antigen",
        "canonical.visits",
        "canonical.nat",
        "canonical.resolutions",
        "sentinel.decisions",
        "sentinel.alerts",
        "sentinel.traces",
        "sentinel.evidence",
        "sentinel.late",
    }
    park = PARK.encode()
    for topic in ("canonical.entries", "canonical.exits", "canonical.antigen", "canonical.visits"):
        assert {(s.key, s.partition, s.headers) for s in by_topic[topic]} == {(park, HOME, ())}
    for topic in ("canonical.resolutions", "sentinel.traces"):  # a park's record, by its park
        assert {(s.key, s.partition) for s in by_topic[topic]} == {(park, HOME)}
        assert {json.loads(s.value or b"")["park"] for s in by_topic[topic]} == {PARK}
    for send in by_topic["canonical.nat"]:  # by person: the partitioner places it
        assert (
            send.partition is None and send.key == json.loads(send.value or b"")["person"].encode()
        )
    decided = [d for batch in batches for d in batch.decisions]
    assert [s.value for s in by_topic["sentinel.decisions"]] == [d.json() for d in decided]
    for send in by_topic["sentinel.decisions"]:
        assert (
            send.partition is None
            and send.key == json.loads(send.value or b"")["entry_id"].encode()
        )
    alerts = [a for batch in batches for a in batch.alerts]
    assert [(s.key, s.value) for s in by_topic["sentinel.alerts"]] == [
        (a.dedup_key.encode(), a.model_dump_json().encode()) for a in alerts
    ]
    for send in by_topic["sentinel.evidence"]:
        notice = json.loads(send.value or b"")
        assert (
            send.key
            == (notice["plate"] if notice.get("kind") == "stop" else notice["person"]).encode()
        )
    (late,) = by_topic["sentinel.late"]
    headers = dict(late.headers)
    assert (late.key, late.partition) == (park, HOME)
    # The officer's word, stamped later than the gates' clock it reaches: kept aside as late.
    assert set(headers) == {"watermark", "topic"} and headers["topic"] == b"gate.resolutions"
    assert json.loads(late.value or b"")["event_id"].startswith("resolution-")


def test_the_counters_count_what_was_read_decided_paged_and_late(
    six_days: tuple[Processor, list[Raw], list[Batch]],
) -> None:
    process, read, batches = six_days
    counted: dict[tuple[Any, ...], float] = process.counted  # type: ignore[attr-defined]

    def delta(name: str, **labels: str) -> float:
        return counted.get((name, *sorted(labels.items())), 0.0)

    for topic in {r.topic for r in read}:
        n = sum(r.topic == topic for r in read) + (topic == "gate.resolutions")
        assert delta("sentinel_events_in_total", topic=topic) == n
    decided = [d for batch in batches for d in batch.decisions]
    for outcome in ("release", "hold", "deny"):
        assert delta("sentinel_decisions_total", outcome=outcome) == sum(
            d.outcome == outcome for d in decided
        )
    for rule in {r for d in decided for r in d.failed_rules}:
        assert delta("sentinel_rule_failures_total", rule=rule) == sum(
            rule in d.failed_rules for d in decided
        )
    raised = [a for batch in batches for a in batch.alerts if a.resolved_at is None]
    for severity, rule in {(a.severity, a.rule) for a in raised}:
        assert delta("sentinel_alerts_total", severity=severity, rule=rule) == sum(
            (a.severity, a.rule) == (severity, rule) for a in raised
        )
    entries = [json.loads(r.value or b"") for r in read if r.topic == "gate.entries"]
    for gate in {e["gate"] for e in entries}:
        assert delta("sentinel_gate_entries_total", park=PARK, gate=gate) == sum(
            e["gate"] == gate for e in entries
        )
    lates = [s for batch in batches for s in batch.outputs if s.topic == "sentinel.late"]
    assert sum(v for k, v in counted.items() if k[0] == "sentinel_late_events_total") == len(lates)


def test_every_rollup_fact_is_folded_on_the_park_s_partition(
    six_days: tuple[Processor, list[Raw], list[Batch]],
) -> None:
    process, _, batches = six_days
    facts = [
        records.split_key(s.key or b"")[1]
        for batch in batches
        for s in batch.state
        if records.split_key(s.key or b"")[0] == ROLLUPS
    ]
    kinds = {key.split(":")[0] for key in facts}
    assert {"entry", "decision", "positive", "obligation", "overdue"} <= kinds, kinds
    assert {s.partition for b in batches for s in b.state} == {HOME}
    assert all(process.rollups.fact(HOME, key) is not None for key in set(facts))


def test_a_partition_s_snapshot_is_what_its_changelog_gives_back(
    six_days: tuple[Processor, list[Raw], list[Batch]],
) -> None:
    """The local store keeps :meth:`Processor.snapshot` of a partition in place of its changelog
    up to an offset (``streams/agents/local.py``): it must be the same records, and restore to
    the same state."""
    process, _, batches = six_days
    compacted: dict[int, dict[str, dict[str, bytes]]] = {}
    for batch in batches:
        for record in batch.state:
            park, entity = records.split_key(record.key or b"")
            held = compacted.setdefault(record.partition or 0, {})
            if record.value is None:
                held.get(park, {}).pop(entity, None)
            else:
                held.setdefault(park, {})[entity] = record.value
    assert compacted
    for partition, grouped in compacted.items():
        kept = {park: entities for park, entities in grouped.items() if entities}
        assert ROLLUPS in kept and len(kept) > 1
        assert process.snapshot(partition) == kept
        again = processor()
        again.restore(partition, kept)
        assert again.snapshot(partition) == kept

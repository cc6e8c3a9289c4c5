"""The decide stage's batch processor (``streams/processor.py``) as the stage drives it, and the
commit order every stage keeps (``streams/agents/batches.py``). No services."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY

from schemas import DeadLetter
from schemas.operations import Quarantine
from streams.agents.batches import deliver
from streams.engine import FAR_FUTURE, Engine, records
from streams.engine.lanes import Lanes
from streams.ingest import BadShareGuard, Ingestor
from streams.outbox import Send
from streams.processor import FACT_RETENTION, LANES, ROLLUPS, Limits, Processor, Raw
from streams.pseudonym import Pseudonymiser
from streams.rules import DEFAULT_RULESET, load_ruleset
from streams.rules.kinds import Ref
from streams.topics import partition_of
from tests.unit.factories import AT, DRIVER_ID, ESCORT_ID, antigen, entry, nat, resident_id

PARK = "tangu-green-bay"
PARTITIONS = 4
HOME = partition_of(PARK.encode(), PARTITIONS)


def processor(loopback: bool = False, **options: Any) -> Processor:
    """A processor as a worker has it (``loopback``: as the backtest has it, learning at once
    what a worker learns from the shared topics)."""
    return Processor(
        Engine(load_ruleset(DEFAULT_RULESET), loopback=loopback, record=False, live=True),
        Ingestor(
            Pseudonymiser(b"k" * 32), max_message_bytes=1 << 20, future_tolerance=timedelta(0)
        ),
        partitions=PARTITIONS,
        wall=lambda: FAR_FUTURE,
        **options,
    )


def raw(topic: str, value: dict[str, Any] | bytes, offset: int = 0, partition: int = HOME) -> Raw:
    data = value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode()
    return Raw(topic, data, partition, offset, PARK.encode(), AT.timestamp())


def topics(sends: list[Send]) -> list[str]:
    return [send.topic for send in sends]


def test_a_batch_s_outputs_come_with_the_batch_that_made_them() -> None:
    process = processor()
    process.read(raw("gate.entries", entry(gate_class="general", hazmat=False, cargo=None)))
    process.advance(AT + timedelta(minutes=5))
    batch = process.take()
    # The canonical entry, its decision (held: no antigen test yet), the stop told the others.
    assert topics(batch.outputs) == ["canonical.entries", "sentinel.decisions", "sentinel.evidence"]
    entries, decision, stop = batch.outputs
    assert entries.partition == HOME and entries.key == PARK.encode()
    assert json.loads(decision.value or b"")["outcome"] == "hold"
    assert json.loads(stop.value or b"")["kind"] == "stop"
    assert [d.entry_id for d in batch.decisions] == ["entry-1"]
    assert process.take().outputs == []  # nothing sent twice


def test_state_records_give_the_rollup_facts_first_then_the_park_in_its_partition() -> None:
    process = processor()
    process.read(raw("gate.entries", entry(gate_class="general", hazmat=False, cargo=None)))
    process.advance(AT + timedelta(minutes=5))
    state = process.take().state
    parks = [records.split_key(s.key or b"")[0] for s in state]
    assert ROLLUPS in parks and PARK in parks
    assert parks.index(PARK) > max(i for i, p in enumerate(parks) if p == ROLLUPS)
    assert {s.topic for s in state} == {"sentinel.decide-state"}
    assert {s.partition for s in state} == {HOME}
    assert process.take().state == []  # written once, until it changes again


def test_a_restored_partition_goes_on_where_the_records_left_it() -> None:
    first = processor()
    first.read(raw("gate.entries", entry()))  # hazmat: no antigen test yet
    first.advance(AT)
    batch = first.take()
    assert [(d.revision, d.pending_rules) for d in batch.decisions] == [(0, ("antigen_on_site",))]
    grouped: dict[str, dict[str, bytes]] = {}
    for record in batch.state:
        park, entity = records.split_key(record.key or b"")
        if record.value is not None:
            grouped.setdefault(park, {})[entity] = record.value
    second = processor()
    second.restore(HOME, grouped)
    assert second.parks_of == {HOME: {PARK}}
    for n, person in enumerate((DRIVER_ID, ESCORT_ID), start=1):
        at = (AT + timedelta(minutes=5 + n)).isoformat()
        second.read(
            raw("health.antigen", antigen(event_id=f"ag-{n}", id_number=person, event_time=at), n)
        )
    second.advance(AT + timedelta(hours=1))
    decided = second.take().decisions
    assert [d.revision for d in decided] == [1, 2]  # the entry's revisions go on
    assert decided[-1].pending_rules == () and "antigen_on_site" not in decided[-1].failed_rules
    assert len(second.rollups) > 0  # the partition's rollup facts came back too
    second.drop(HOME)
    assert second.engine.parks == {} and second.parks_of == {} and len(second.rollups) == 0


def test_an_invalid_record_is_dead_lettered_with_its_reason_and_nothing_else_is_sent() -> None:
    process = processor(prefix="it-")
    process.read(raw("gate.entries", b"{not json", offset=7))
    (letter,) = process.take().outputs
    assert letter.topic == "sentinel.dlq" and letter.value == b"{not json"
    headers = dict(letter.headers)
    assert headers["stage"] == b"ingest" and headers["source_offset"] == b"7"
    assert headers["source_topic"] == b"it-gate.entries"  # its name, for a replay
    assert DeadLetter.from_headers(list(letter.headers)).error_class == "ValidationError"


def test_an_event_on_another_park_s_partition_is_sent_again_keyed_by_its_park() -> None:
    process = processor()
    elsewhere = (HOME + 1) % PARTITIONS
    process.read(raw("gate.entries", entry(), offset=3, partition=elsewhere))
    batch = process.take()
    (again,) = batch.outputs
    assert again.topic == "gate.entries" and again.key == PARK.encode()
    assert again.value == json.dumps(entry(), ensure_ascii=False).encode()  # as it was read
    assert again.partition is None  # the producer's partitioner: the park's partition
    assert dict(again.headers) == {"rekeyed_from": f"{elsewhere}:3".encode()}
    assert batch.decisions == [] and process.engine.parks == {}


def test_an_event_the_engine_cannot_take_is_dead_lettered_and_the_batch_goes_on() -> None:
    process = processor()

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug")

    process.engine.feed = broken  # type: ignore[method-assign]
    process.read(raw("gate.entries", entry(), offset=1))
    (letter,) = process.take().outputs
    headers = dict(letter.headers)
    assert headers["stage"] == b"decide" and headers["error_class"] == b"RuntimeError"


class Limit:
    """The DLQ limit's quarantine as the stage has it, recording what it is told."""

    def __init__(self) -> None:
        self.read_at: list[int] = []
        self.tripped: list[tuple[str, int]] = []

    def read(self, topic: str, partition: int, offset: int) -> None:
        self.read_at.append(offset)

    def counts(self, topic: str, partition: int, offset: int) -> bool:
        # The first two were there when it was last lifted; once quarantined, none counts.
        return offset >= 2 and not self.tripped

    def trip(self, topic: str, message: Any, guard: BadShareGuard) -> Quarantine:
        self.tripped.append((topic, message.offset))
        return Quarantine(
            topic=topic,
            partition=message.partition,
            state="quarantined",
            offset=message.offset + 1,
            reason=f"{guard.bad} of {guard.seen}",
            at=AT,
            by="test",
        )


def test_bad_records_over_the_limit_quarantine_their_partition_once_counted() -> None:
    limit = Limit()
    process = processor(limits=Limits(window=8, max_share=0.5), quarantine=limit)
    for offset in range(5):
        process.read(raw("gate.entries", b"garbage", offset))
    sends = process.take().outputs
    assert limit.read_at == [0, 1, 2, 3, 4]
    assert limit.tripped == [("gate.entries", 3)]  # 2 counted (the window's least) at offset 3
    assert topics(sends).count("sentinel.dlq") == 5
    (record,) = [s for s in sends if s.topic == "sentinel.quarantine"]
    assert (record.key, record.partition) == (b"gate.entries:" + str(HOME).encode(), 0)
    assert Quarantine.model_validate_json(record.value or b"").offset == 4
    # Lifted: the partition's window starts afresh (what was counted before counts no more).
    limit.tripped.clear()
    process.forget_guard("gate.entries", HOME)
    process.read(raw("gate.entries", b"garbage", 5))
    assert limit.tripped == []  # one bad record of one: under the window's least
    process.read(raw("gate.entries", b"garbage", 6))
    assert limit.tripped == [("gate.entries", 6)]


class Producer:
    """A producer whose deliveries the test completes: what was sent, and when each send's
    delivery was awaited."""

    def __init__(self) -> None:
        self.log: list[str] = []

    async def send(self, topic: str, key: Any, value: Any, partition: Any, *_: Any) -> Any:
        self.log.append(f"send {topic}")
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(self._deliver, delivered, topic)
        return delivered

    def _deliver(self, future: asyncio.Future[None], topic: str) -> None:
        self.log.append(f"delivered {topic}")
        future.set_result(None)


def test_a_batch_commits_its_outputs_delivered_then_its_state_then_its_offsets() -> None:
    producer = Producer()

    async def commit() -> None:
        producer.log.append("commit")

    outputs = [Send("sentinel.decisions", b"e", b"1"), Send("sentinel.alerts", b"a", b"2")]
    state = [Send("sentinel.decide-state", b"k", b"3", 0)]
    asyncio.run(deliver(producer, lambda t: f"p.{t}", outputs, state, commit))
    log = producer.log
    assert log.index("send p.sentinel.decide-state") > max(
        log.index("delivered p.sentinel.decisions"), log.index("delivered p.sentinel.alerts")
    )
    assert log[-2:] == ["delivered p.sentinel.decide-state", "commit"]


def test_rollup_facts_two_months_behind_the_park_go_once_their_snapshots_are_written() -> None:
    process = processor()
    process.read(raw("gate.entries", entry(gate_class="general", hazmat=False, cargo=None)))
    process.take()
    later = AT + FACT_RETENTION + timedelta(days=2)
    beat = {"event_id": "beat-1", "event_time": later.isoformat(), "park": PARK, "gate": "g1"}
    process.read(raw("gate.heartbeats", beat, 1))
    process.advance()
    # A heartbeat goes nowhere itself (the held entry's gate wait it lets pass pages).
    assert [s.topic for s in process.take().outputs] == ["sentinel.alerts"]
    process.prune_facts([HOME])
    assert process.rollups.get("entry:entry-1") is not None  # its group not written yet
    process.rollups.flush([HOME], version=1)
    process.rollups.written()
    process.prune_facts([(HOME + 1) % PARTITIONS])  # no park there: nothing to measure by
    assert process.rollups.get("entry:entry-1") is not None
    recent = entry(event_id="entry-2", event_time=later.isoformat(), plate="沪A99999")
    process.read(raw("gate.entries", recent, 2))
    process.take()
    process.rollups.flush([HOME], version=2)
    process.rollups.written()
    process.prune_facts([HOME])
    assert process.rollups.get("entry:entry-1") is None
    assert process.rollups.get("entry:entry-2") is not None  # of the park's last days: kept


def test_a_page_an_officer_s_word_and_a_late_record_each_go_where_their_readers_look() -> None:
    process = processor()
    process.read(raw("gate.entries", entry(gate_class="general", hazmat=False, cargo=None)))
    process.advance(AT + timedelta(hours=2))  # held past the gate's wait: its officer is paged
    (page,) = [s for s in process.take().outputs if s.topic == "sentinel.alerts"]
    assert (page.key, page.partition) == (b"gate-wait:entry-1", None)
    assert json.loads(page.value or b"")["rule"] == "gate_wait"
    word = {
        "event_id": "r-1",
        "event_time": (AT + timedelta(minutes=30)).isoformat(),  # behind the park's clock
        "park": PARK,
        "entry_id": "entry-1",
        "officer": "wang-3",
        "action": "turned_away",
        "reason": "sent back",
    }
    before = counters()
    process.read(raw("gate.resolutions", word, 1))
    outputs = process.take().outputs
    # The officer's word goes on as its outcome (accepted or refused), once; not as read.
    assert [s.topic for s in outputs].count("canonical.resolutions") == 1
    sends = {s.topic: s for s in outputs}
    assert moved(before)[("sentinel_late_events_total", ("topic", "gate.resolutions"))] == 1
    assert {"canonical.resolutions", "sentinel.late", "sentinel.decisions"} <= set(sends)
    outcome = sends["canonical.resolutions"]
    assert (outcome.key, outcome.partition) == (PARK.encode(), HOME)
    assert json.loads(outcome.value or b"")["accepted"] is True
    late = sends["sentinel.late"]
    assert (late.key, late.partition) == (PARK.encode(), HOME)
    assert dict(late.headers) == {
        "watermark": (AT + timedelta(hours=2)).isoformat().encode(),
        "topic": b"gate.resolutions",
    }
    assert json.loads(late.value or b"")["event_id"] == "r-1"


def counters() -> dict[tuple[Any, ...], float]:
    """Every sample of the processor's counters, by name and labels."""
    names = {
        "sentinel_events_in_total",
        "sentinel_decisions_total",
        "sentinel_alerts_total",
        "sentinel_rule_failures_total",
        "sentinel_late_events_total",
        "sentinel_gate_entries_total",
        "sentinel_rekeyed_total",
        "sentinel_dead_letters_total",
    }
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name in names
    }


def moved(before: dict[tuple[Any, ...], float]) -> dict[tuple[Any, ...], float]:
    """What each counter moved by since ``before`` (those that moved)."""
    return {k: v - before.get(k, 0.0) for k, v in counters().items() if v != before.get(k, 0.0)}


def test_a_positive_lab_report_pages_once_and_goes_on_keyed_by_its_person() -> None:
    process = processor()
    before = counters()
    process.read(raw("health.nat", nat(result="positive"), 4, partition=2))
    batch = process.take()
    sends = {s.topic: s for s in batch.outputs}
    assert set(sends) == {"canonical.nat", "sentinel.alerts"}
    report = json.loads(sends["canonical.nat"].value or b"")
    assert sends["canonical.nat"].key == report["person"].encode()
    assert sends["canonical.nat"].partition is None
    (alert,) = batch.alerts
    assert (alert.rule, alert.severity, alert.subject) == (
        "no_positive",
        "critical",
        report["person"],
    )
    assert sends["sentinel.alerts"].key == b"positive:nat-1"
    assert moved(before) == {
        ("sentinel_events_in_total", ("topic", "health.nat")): 1.0,
        ("sentinel_alerts_total", ("rule", "no_positive"), ("severity", "critical")): 1.0,
    }
    facts = [records.split_key(s.key or b"") for s in batch.state]
    assert facts == [(ROLLUPS, "positive:nat-1")]  # counted on the partition it was read from
    assert {s.partition for s in batch.state} == {2}
    # A worker learns it from canonical.nat, as every worker does; a backtest at once.
    assert process.engine.shared.evidence_of(report["person"], PARK) == []
    backtest = processor(loopback=True)
    backtest.read(raw("health.nat", nat(result="positive"), 4, partition=2))
    assert [e.result for e in backtest.engine.shared.evidence_of(report["person"], PARK)] == [
        "positive"
    ]


def test_a_risk_colour_goes_on_to_every_worker_s_reader_and_a_backtest_learns_it() -> None:
    update = {
        "event_id": "risk-1",
        "event_time": AT.isoformat(),
        "region": "浙江省嘉兴市",
        "colour": "red",
    }
    for loopback in (False, True):
        process = processor(loopback=loopback)
        process.read(raw("ref.risk-areas", update, 0, partition=0))
        (send,) = process.take().outputs
        assert (send.topic, send.key, send.partition) == (
            "canonical.risk-areas",
            "浙江省嘉兴市".encode(),
            0,
        )
        assert json.loads(send.value or b"")["colour"] == "red"
        learnt = process.engine.shared.risk_of("浙江省嘉兴市")
        assert learnt == (((AT, "red"),) if loopback else ())


def test_the_counters_count_what_was_read_decided_failed_and_sent_again() -> None:
    process = processor()
    before = counters()
    process.read(raw("gate.entries", entry()))  # hazmat: its papers fail, its antigens wait
    process.read(raw("gate.entries", entry(event_id="entry-2"), 1, partition=HOME + 1))
    process.read(raw("gate.entries", b"{", 2))
    batch = process.take()
    (decision,) = batch.decisions
    failed = decision.failed_rules
    assert failed
    assert moved(before) == {
        ("sentinel_events_in_total", ("topic", "gate.entries")): 3.0,
        ("sentinel_gate_entries_total", ("gate", "jinshanwei-1"), ("park", PARK)): 1.0,
        ("sentinel_decisions_total", ("outcome", decision.outcome)): 1.0,
        **{("sentinel_rule_failures_total", ("rule", rule)): 1.0 for rule in failed},
        ("sentinel_rekeyed_total", ("topic", "gate.entries")): 1.0,
        (
            "sentinel_dead_letters_total",
            ("error", "ValidationError"),
            ("topic", "gate.entries"),
        ): 1.0,
    }


def test_what_is_decided_names_the_evidence_where_it_is_kept_and_sends_it_on_canonical() -> None:
    process = processor()
    process.read(raw("gate.entries", entry(), 0))
    process.read(raw("health.antigen", antigen(), 1))
    batch = process.take()
    entries, antigens = (
        [json.loads(s.value or b"") for s in batch.outputs if s.topic == topic]
        for topic in ("canonical.entries", "canonical.antigen")
    )
    assert [e["event_id"] for e in entries] == ["entry-1"]
    assert "id_number" not in entries[0]["occupants"][0]  # the canonical form: pseudonyms
    assert [a["event_id"] for a in antigens] == ["antigen-1"]
    cited = {ref for d in batch.decisions for r in d.results for ref in r.evidence}
    assert Ref("antigen-1", "canonical.antigen", HOME) in cited
    backtest = processor(loopback=True)
    backtest.read(raw("health.nat", nat(), 0, partition=2))
    (report,) = [json.loads(s.value or b"") for s in backtest.take().outputs]
    (learnt,) = backtest.engine.shared.evidence_of(report["person"], PARK)
    shard = partition_of(report["person"].encode(), PARTITIONS)  # canonical.nat's, by person
    assert learnt.ref == Ref("nat-1", "canonical.nat", shard)


def test_a_rollup_fact_s_record_is_the_fact_as_held() -> None:
    process = processor()
    process.read(raw("gate.entries", entry()))
    facts = {
        records.split_key(s.key or b"")[1]: s.value
        for s in process.take().state
        if records.split_key(s.key or b"")[0] == ROLLUPS
    }
    assert facts and all(
        json.loads(value or b"null") == json.loads(json.dumps(process.rollups.fact(HOME, key)))
        for key, value in facts.items()
    )


def test_a_replay_without_state_takes_what_changed_all_the_same() -> None:
    process = processor()
    process.read(raw("gate.entries", entry()))
    assert process.take(state=False).state == []
    assert process.take().state == []  # not written with the next batch either


def test_good_records_dilute_the_bad_ones_under_the_dlq_limit() -> None:
    limit = Limit()
    process = processor(limits=Limits(window=8, max_share=0.5), quarantine=limit)
    good = entry(gate_class="general", hazmat=False, cargo=None)
    for offset in range(2, 14, 2):
        process.read(raw("gate.entries", {**good, "event_id": f"g{offset}"}, offset))
        process.read(raw("gate.entries", b"garbage", offset + 1))
    assert limit.tripped == []  # half bad, never more than half


def test_a_record_read_moves_its_lane_and_holds_the_park_s_clock_at_its_time() -> None:
    process = processor(lanes=Lanes(LANES, 5.0))
    process.read(raw("gate.entries", entry(), 3), now=100.0)
    ends = {("gate.entries", HOME): 10}
    assert process.lanes.behind("gate.entries", lambda t, p: ends.get((t, p))) == 6
    bound = process.lanes.bound(HOME, lambda t, p: ends.get((t, p)), lambda t, p: None, 101.0)
    assert bound == AT  # its lane has more to come: the clock waits at what it read
    risk = {"event_id": "r", "event_time": AT.isoformat(), "region": "x", "colour": "red"}
    process.read(raw("ref.risk-areas", risk, 0, partition=0), now=100.0)
    assert process.lanes.behind("ref.risk-areas", lambda t, p: 10) == 0  # not a lane


def test_an_entry_s_first_decision_is_timed_from_its_record() -> None:
    process = processor()
    latency = "sentinel_decision_latency_seconds_count"
    before = REGISTRY.get_sample_value(latency) or 0.0
    process.read(raw("gate.entries", entry()))
    process.take()
    assert REGISTRY.get_sample_value(latency) == before + 1


def test_a_positive_at_the_gate_is_told_by_person_and_traced_to_the_park() -> None:
    process = processor()
    general = entry(gate_class="general", hazmat=False, cargo=None)
    process.read(raw("gate.entries", general, 0))
    at = (AT + timedelta(minutes=10)).isoformat()
    someone = {**general["occupants"][0], "id_number": resident_id("31011619900101123")}
    other = {**general, "event_id": "entry-2", "plate": "沪B99999", "event_time": at}
    process.read(raw("gate.entries", {**other, "occupants": [someone]}, 1))
    at = (AT + timedelta(minutes=20)).isoformat()
    process.read(raw("health.antigen", antigen(result="positive", event_time=at), 2))
    sends = process.take().outputs
    (trace,) = [s for s in sends if s.topic == "sentinel.traces"]
    assert (trace.key, trace.partition) == (PARK.encode(), HOME)
    assert json.loads(trace.value or b"")["park"] == PARK
    told = {
        (json.loads(s.value or b"").get("kind", "positive"), s.key)
        for s in sends
        if s.topic == "sentinel.evidence"
    }
    person = next(
        json.loads(s.value or b"")["person"] for s in sends if s.topic == "canonical.antigen"
    )
    assert ("positive", person.encode()) in told  # by person: other parks look them up so
    assert ("stop", "沪B99999".encode()) in told  # by plate
    decided = [s for s in sends if s.topic == "sentinel.decisions"]
    assert {s.key for s in decided} == {b"entry-1", b"entry-2"}


def test_an_obligation_a_release_starts_is_counted_on_the_park_s_partition() -> None:
    process = processor(loopback=True)
    origin = entry()["origin_region"]  # out of the park's area: its driver is owed visits
    green = {
        "event_id": "risk-1",
        "event_time": AT.isoformat(),
        "region": origin,
        "colour": "green",
    }
    process.read(raw("ref.risk-areas", green, 0, partition=0))
    general = entry(gate_class="general", hazmat=False, cargo=None, pass_id="pass-7")
    process.read(raw("gate.entries", general, 1))
    for n, person in enumerate((DRIVER_ID, ESCORT_ID), start=2):
        at = (AT + timedelta(minutes=n)).isoformat()
        test = antigen(event_id=f"ag-{n}", id_number=person, event_time=at)
        process.read(raw("health.antigen", test, n))
    batch = process.take()
    assert batch.decisions[-1].outcome == "release"
    owed = [
        records.split_key(s.key or b"")[1]
        for s in batch.state
        if s.partition == HOME and records.split_key(s.key or b"")[1].startswith("obligation:")
    ]
    assert len(owed) == 1 and process.rollups.fact(HOME, owed[0]) is not None
    # No visit in seven days: the enterprise is paged, and the page counts against it.
    process.advance(AT + timedelta(days=8))
    paged = process.take()
    (overdue,) = [a for a in paged.alerts if a.rule == "health_visits"]
    counted = [records.split_key(s.key or b"")[1] for s in paged.state if s.partition == HOME]
    assert f"overdue:{overdue.dedup_key}" in counted


def test_a_partition_s_snapshot_is_its_state_records_and_restores_the_same() -> None:
    """What the local store keeps of a partition (``streams/agents/local.py``) in place of its
    changelog: the latest value of each record written, tombstones applied."""
    process = processor()
    process.read(raw("gate.entries", entry()))
    process.read(raw("gate.entries", entry(event_id="entry-2", plate="沪A99999"), 1))
    process.advance(AT + timedelta(minutes=5))
    kept: dict[str, dict[str, bytes]] = {}
    for record in process.take().state:
        park, entity = records.split_key(record.key or b"")
        if record.value is None:
            kept.get(park, {}).pop(entity, None)
        else:
            kept.setdefault(park, {})[entity] = record.value
    assert ROLLUPS in kept and PARK in kept and "e:entry-2" in kept[PARK]
    assert process.snapshot(HOME) == kept
    assert process.snapshot((HOME + 1) % PARTITIONS) == {}
    again = processor()
    again.restore(HOME, kept)
    assert again.snapshot(HOME) == kept

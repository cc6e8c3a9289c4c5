"""What every park of a worker reads (``streams/engine/shared.py``) and the engine's own inputs:
lab reports, positives and stops from other parks, each kept as long as a rule can read it; the
lab's page for a positive report; the made-up places of events not read from Kafka."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from schemas import EvidenceRef, NatReport
from schemas.notice import PositiveNotice, StopNotice
from streams.engine import Engine
from streams.engine.shared import NAT_RETENTION, POSITIVE_RETENTION, STOP_RETENTION, Shared
from streams.rules import DEFAULT_RULESET, parse_ruleset
from streams.rules.kinds import Evidence, Ref, Stop
from tests.unit.test_rules_scenarios import RULES, T0, crew_antigens, entry, person, run

SECOND = timedelta(seconds=1)
REF = Ref("nat-1", "canonical.nat", 3, 41)


def nat(result: str = "negative", event_id: str = "nat-1", sampled: datetime = T0) -> NatReport:
    return NatReport(
        event_id=event_id,
        event_time=sampled + timedelta(hours=6),
        person=person(1),
        sample_time=sampled,
        result=result,
        lab="cdc-jinshan",
    )


def notice(park: str = "other", event_id: str = "ag-9", time: datetime = T0) -> PositiveNotice:
    return PositiveNotice(
        person=person(1),
        park=park,
        result_kind="antigen",
        time=time,
        reported=time + timedelta(minutes=15),
        ref=EvidenceRef(event_id=event_id, topic="canonical.antigen", partition=2, offset=7),
    )


def stop(park: str = "other", entry_id: str = "o1", outcome: str = "hold") -> StopNotice:
    return StopNotice(
        plate="沪A12345",
        park=park,
        gate="o-gate",
        entry_id=entry_id,
        time=T0,
        outcome=outcome,
        ref=EvidenceRef(event_id=entry_id, topic="canonical.entries", partition=1, offset=5),
    )


def test_a_lab_report_is_kept_once_as_its_sample_time_says() -> None:
    shared = Shared()
    learnt = shared.learn_nat(nat(), REF)
    assert learnt == Evidence("nat", T0, "negative", REF, T0 + timedelta(hours=6), "-")
    assert shared.learn_nat(nat(), REF) is None  # read again
    other = shared.learn_nat(nat(event_id="nat-2"), Ref("nat-2", "canonical.nat", 0, 1))
    assert other is not None
    assert [e.ref.event_id for e in shared.evidence_of(person(1), "tangu")] == ["nat-1", "nat-2"]


@pytest.mark.parametrize(
    ("result", "kept"), [("negative", NAT_RETENTION), ("positive", POSITIVE_RETENTION)]
)
def test_a_lab_report_is_kept_from_its_sample_for_as_long_as_a_rule_reads_it(
    result: str, kept: timedelta
) -> None:
    shared = Shared()
    shared.learn_nat(nat(result), REF)
    later = nat(result, event_id="nat-later", sampled=T0 + timedelta(days=1))
    shared.learn_nat(later, Ref("nat-later", "canonical.nat", 0, 1))
    shared.prune(T0 + kept - SECOND)
    assert len(shared.nats[person(1)]) == 2
    shared.prune(T0 + kept)
    assert [e.time for e in shared.nats[person(1)]] == [T0 + timedelta(days=1)]
    shared.prune(T0 + timedelta(days=30))
    assert shared.nats == {}


def test_a_prune_never_goes_back() -> None:
    shared = Shared()
    shared.prune(T0 + timedelta(days=10))
    shared.learn_nat(nat(), REF)
    shared.prune(T0 + timedelta(days=9))  # behind the last prune: nothing
    assert person(1) in shared.nats
    assert shared.pruned == T0 + timedelta(days=10)


def test_a_positive_at_another_park_is_kept_with_where_and_when_it_was_found() -> None:
    shared = Shared()
    learnt = shared.learn_positive(notice())
    assert learnt == Evidence(
        "antigen",
        T0,
        "positive",
        Ref("ag-9", "canonical.antigen", 2, 7),
        T0 + timedelta(minutes=15),
        "other",
    )
    assert shared.learn_positive(notice()) is None
    assert shared.learn_positive(notice(event_id="ag-10")) is not None
    assert shared.ever_positive(person(1)) and not shared.ever_positive(person(2))
    # A park reads the positives of the others only (its own are at hand).
    assert shared.evidence_of(person(1), "other") == []
    assert len(shared.evidence_of(person(1), "tangu")) == 2
    shared.prune(T0 + POSITIVE_RETENTION - SECOND)
    assert len(shared.positives[person(1)]) == 2
    shared.prune(T0 + POSITIVE_RETENTION)
    assert shared.positives == {} and not shared.ever_positive(person(1))


def test_a_positive_lab_report_makes_the_person_ever_positive() -> None:
    shared = Shared()
    shared.learn_nat(nat("negative"), REF)
    assert not shared.ever_positive(person(1))
    shared.learn_nat(nat("positive", event_id="nat-pos"), REF)
    assert shared.ever_positive(person(1))


def test_a_stop_is_kept_per_entry_four_days_for_the_other_parks() -> None:
    shared = Shared()
    shared.learn_stop(stop())
    shared.learn_stop(stop(entry_id="o2"))
    shared.learn_stop(stop(outcome="deny"))  # the same entry again: replaced
    assert shared.stops_of("沪A12345", "tangu") == [
        Stop("o1", "other", "o-gate", T0, "deny", Ref("o1", "canonical.entries", 1, 5)),
        Stop("o2", "other", "o-gate", T0, "hold", Ref("o2", "canonical.entries", 1, 5)),
    ]
    assert shared.stops_of("沪A12345", "other") == []
    shared.prune(T0 + STOP_RETENTION - SECOND)
    assert len(shared.stops["沪A12345"]) == 2
    shared.prune(T0 + STOP_RETENTION)
    assert shared.stops == {}


def test_a_positive_lab_report_pages_once_naming_the_lab_and_sample() -> None:
    engine = run(nat("positive", event_id="nat-pos"))
    (page,) = engine.alerts
    assert (page.dedup_key, page.event_id, page.severity, page.rule) == (
        "positive:nat-pos",
        "positive:nat-pos",
        "critical",
        "no_positive",
    )
    assert (page.subject, page.park, page.gate, page.entry_id, page.enterprise) == (
        person(1),
        "-",
        None,
        None,
        None,
    )
    assert page.message == (
        "positive NAT from lab cdc-jinshan, sampled 2022-04-14T02:00+00:00: isolate; contacts "
        "traced at every park the person entered"
    )
    at = T0 + timedelta(hours=6)
    assert (page.event_time, page.detected_at, page.resolved_at) == (at, at, None)
    assert run(nat("negative")).alerts == []


def test_the_lab_page_carries_the_rule_sets_own_no_positive_id() -> None:
    text = DEFAULT_RULESET.read_text()
    assert "  - id: no_positive\n" in text
    renamed = parse_ruleset(text.replace("  - id: no_positive\n", "  - id: never_positive\n"))
    (page,) = run(nat("positive"), rules=renamed).alerts
    assert page.rule == "never_positive"


def test_events_fed_without_a_place_get_one_per_topic_counting_from_zero() -> None:
    engine = run(entry("e1"), entry("e2", plate="沪A22222"), *crew_antigens(1, 2))
    refs = {
        d.entry_id: next(r for r in d.rules if r.rule == "gate_class").evidence[0]
        for d in engine.decisions
    }
    assert [(r.topic, r.partition, r.offset) for r in (refs["e1"], refs["e2"])] == [
        ("canonical.entries", 0, 0),
        ("canonical.entries", 0, 1),
    ]
    antigen_ref = next(
        r for r in engine.current()["e1"].rules if r.rule == "antigen_on_site"
    ).evidence[0]
    assert (antigen_ref.topic, antigen_ref.offset) == ("canonical.antigen", 0)


def test_an_event_that_is_not_canonical_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="not a canonical event: PositiveNotice"):
        Engine(RULES).feed(notice(), Ref("x", "sentinel.evidence", 0))


def test_a_plates_later_stop_outlives_its_earlier_one() -> None:
    shared = Shared()
    shared.learn_stop(stop(entry_id="o1"))
    later = stop(entry_id="o2").model_copy(update={"time": T0 + timedelta(days=1)})
    shared.learn_stop(later)
    shared.prune(T0 + STOP_RETENTION)
    assert [s.entry_id for s in shared.stops_of("沪A12345", "tangu")] == ["o2"]

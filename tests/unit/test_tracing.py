"""Contact tracing (DOMAIN rule 15) and a positive's pages, judged by the pure engine: whose
entries are traced over the look-back, which vehicles count as through the same gate, what the
trace and its pages say, and when the trace is sent again."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from schemas import Alert, AntigenTest, NatReport
from schemas.trace import ContactTrace
from streams.engine import Engine
from streams.rules import DEFAULT_RULESET, parse_ruleset
from tests.unit.test_rules_scenarios import (
    RULES,
    T0,
    antigen,
    entry,
    exit_at,
    lab_report,
    occupant,
    person,
    run,
)

LOOKBACK = timedelta(days=14)  # the default rule set's tracing
SAME_GATE = timedelta(minutes=30)
SECOND = timedelta(seconds=1)
FOUND = T0 + timedelta(days=1)  # when the positive is taken


def car(entry_id: str, at: datetime, *people: int, gate: str = "jinshanwei-1", **extra: Any) -> Any:
    """A general vehicle (no antigen needed) with ``people`` on board."""
    nat_age = T0 - at + timedelta(hours=20)  # a negative NAT sampled 20 h before it
    crew = [
        occupant(n, "driver" if i == 0 else "passenger", nat_age=nat_age)
        for i, n in enumerate(people)
    ]
    return entry(
        entry_id, at=at, occupants=crew, hazmat=False, gate=gate, plate=f"沪{entry_id}000", **extra
    )


def positive(n: int = 1, at: datetime = FOUND, event_id: str = "ag-pos") -> AntigenTest:
    return antigen(n, at=at, result="positive", event_id=event_id)


def lab_positive() -> NatReport:
    """A lab's positive NAT for person 1, sampled 4 h before it is reported at ``FOUND``."""
    return lab_report(
        1, sampled=FOUND - timedelta(hours=4), at=FOUND, result="positive", event_id="nat-pos"
    )


def traces(engine: Engine) -> list[ContactTrace]:
    return engine.traces


def pages(engine: Engine, prefix: str) -> list[Alert]:
    return [a for a in engine.alerts if a.dedup_key.startswith(prefix)]


def test_the_trace_names_the_persons_entries_over_the_look_back_and_not_a_second_more() -> None:
    start = FOUND - LOOKBACK
    engine = run(
        car("PA1", start, 1),  # the first moment of the look-back
        car("PA2", start - timedelta(seconds=1), 1, gate="tinglin-1"),  # a second before
        car("PA3", T0, 1, 2, gate="tinglin-2"),
        positive(),
    )
    (trace,) = traces(engine)
    assert trace.event_id == "trace:ag-pos:tangu"
    assert (trace.park, trace.person, trace.positive_event_id) == ("tangu", person(1), "ag-pos")
    assert (trace.event_time, trace.schema_version) == (FOUND, 1)
    assert trace.entries == ("PA1", "PA3")
    (contact,) = trace.contacts
    assert (contact.kind, contact.entry_id, contact.person, contact.via) == (
        "co-occupant",
        "PA3",
        person(2),
        "PA3",
    )
    assert (contact.plate, contact.gate, contact.time) == ("沪PA3000", "tinglin-2", T0)


def test_vehicles_through_the_same_gate_within_30_minutes_either_side_are_contacts() -> None:
    engine = run(
        car("PB0", T0, 1),
        car("PB1", T0 - SAME_GATE, 5),  # exactly 30 min before: in
        car("PB2", T0 + SAME_GATE, 6),  # exactly 30 min after: in
        car("PB3", T0 + SAME_GATE + timedelta(seconds=1), 7),  # a second more: out
        car("PB4", T0 - SAME_GATE - timedelta(seconds=1), 8),  # out
        car("PB5", T0, 9, gate="tinglin-1"),  # another gate: out
        positive(),
    )
    (trace,) = traces(engine)
    near = sorted((c.entry_id, c.kind, c.person, c.via, c.gate) for c in trace.contacts)
    assert near == [
        ("PB1", "same-gate", None, "PB0", "jinshanwei-1"),
        ("PB2", "same-gate", None, "PB0", "jinshanwei-1"),
    ]
    times = {c.entry_id: c.time for c in trace.contacts}
    assert times == {"PB1": T0 - SAME_GATE, "PB2": T0 + SAME_GATE}


def test_the_trace_page_counts_entries_releases_people_and_vehicles() -> None:
    engine = run(
        car("PC1", T0, 1, 2, 3),
        car("PC2", T0 + timedelta(hours=2), 1, 2, gate="tinglin-1"),
        car("PC3", T0 + timedelta(hours=2, minutes=10), 4, gate="tinglin-1"),
        positive(),
    )
    (page,) = pages(engine, "trace:")
    assert (page.severity, page.rule, page.subject, page.park) == (
        "warning",
        "contact_trace",
        person(1),
        "tangu",
    )
    assert (page.entry_id, page.gate, page.event_time, page.detected_at) == (
        None,
        None,
        FOUND,
        FOUND,
    )
    # Co-occupants are counted once each (person 2 rode twice), vehicles once each.
    assert page.message == (
        "positive antigen for a person on 2 entries here, 2 of them let in: trace 2 "
        "co-occupants and 1 vehicles through the same gates (ClickHouse table contacts, "
        "trace trace:ag-pos:tangu)"
    )


def test_a_trace_of_entries_none_let_in_does_not_say_let_in() -> None:
    held = entry("PD1", at=T0, occupants=[occupant(1, nat_age=None)], hazmat=False)
    engine = run(held, positive())
    (page,) = pages(engine, "trace:")
    assert page.message.startswith("positive antigen for a person on 1 entries here: trace 0 ")


def test_no_entry_in_the_look_back_no_trace() -> None:
    engine = run(car("PE1", FOUND - LOOKBACK - timedelta(hours=1), 1), positive())
    assert traces(engine) == [] and pages(engine, "trace:") == []


def test_a_vehicle_read_after_the_positive_sends_the_trace_again_whole_and_once() -> None:
    late_car = car("PF2", T0 + timedelta(minutes=10), 5)
    engine = run(car("PF1", T0, 1), positive(), late_car)
    first, second = traces(engine)
    assert first.contacts == ()
    assert [c.entry_id for c in second.contacts] == ["PF2"]
    assert second.event_id == first.event_id
    # The page sent again is learnt when the vehicle was read (its time, behind the clock).
    assert [a.detected_at for a in pages(engine, "trace:")] == [FOUND, late_car.event_time]
    engine.feed(car("PF3", T0 + timedelta(days=5), 6))  # not near: nothing new
    engine.feed(late_car)  # read again
    assert len(traces(engine)) == 2


def test_a_person_known_positive_elsewhere_is_traced_when_their_entry_is_read() -> None:
    engine = run(lab_positive(), car("PG1", T0, 1, 2))  # the entry read after the report
    (trace,) = traces(engine)
    assert (trace.event_id, trace.entries) == ("trace:nat-pos:tangu", ("PG1",))
    assert [c.person for c in trace.contacts] == [person(2)]


def test_a_vehicle_through_the_gate_near_a_positives_entry_read_later_is_traced() -> None:
    engine = run(car("PH1", T0, 1), positive())
    engine.feed(car("PH2", T0 + timedelta(minutes=29), 7))
    assert [c.entry_id for c in traces(engine)[-1].contacts] == ["PH2"]
    engine.feed(car("PH3", T0 + timedelta(minutes=31), 8))
    assert [c.entry_id for c in traces(engine)[-1].contacts] == ["PH2"]


def test_the_positives_own_page_names_the_vehicles_of_the_look_back_five_at_most() -> None:
    cars = [car(f"PI{i}", T0 - timedelta(hours=i), 1, gate=f"g-{i}") for i in range(7)]
    old = car("PIX", FOUND - LOOKBACK - SECOND, 1, gate="g-x")
    engine = run(*cars, old, positive())
    (page,) = pages(engine, "positive:")
    assert (page.severity, page.rule, page.subject, page.park, page.gate) == (
        "critical",
        "no_positive",
        person(1),
        "tangu",
        "jinshanwei-1",
    )
    assert (page.event_time, page.detected_at, page.entry_id) == (FOUND, FOUND, None)
    listed = ", ".join(f"PI{i} (沪PI{i}000)" for i in range(5))
    assert page.message == (
        f"positive antigen result (taken at jinshanwei-1) for an occupant of {listed}: "
        "isolate; contacts traced"
    )


def test_a_positive_of_someone_never_here_pages_without_vehicles() -> None:
    engine = run(car("PJ1", T0, 2), positive(1))
    (page,) = pages(engine, "positive:")
    assert page.message == (
        "positive antigen result (taken at jinshanwei-1) for an occupant: isolate; contacts traced"
    )


def test_the_release_page_of_a_lab_positive_names_entry_gate_plate_and_time() -> None:
    engine = run(car("PK1", T0, 1), lab_positive())
    (page,) = pages(engine, "positive-release:")
    assert page.dedup_key == "positive-release:nat-pos:PK1"
    assert (page.rule, page.severity, page.event_time) == ("no_positive", "critical", FOUND)
    assert page.message == (
        "positive NAT for a person let in on 沪PK1000 at gate jinshanwei-1 (entry PK1, "
        "2022-04-14 10:00): the vehicle is inside the park now; isolate the crew, find the "
        "vehicle, trace its contacts"
    )


@pytest.mark.parametrize(
    ("left", "where"),
    [
        (timedelta(days=1), "the vehicle left at 2022-04-15 10:00"),  # at the report: gone
        (timedelta(days=1, seconds=1), "the vehicle is inside the park now"),  # after it
    ],
)
def test_the_release_page_says_inside_for_an_exit_later_than_the_report(
    left: timedelta, where: str
) -> None:
    engine = run(car("PL1", T0, 1), exit_at(left, "PL1", plate="沪PL1000"), positive())
    (page,) = pages(engine, "positive-release:")
    assert where in page.message


def test_an_entry_at_the_first_second_of_the_look_back_is_named_and_paged() -> None:
    start = FOUND - LOOKBACK
    engine = run(car("PM1", start, 1), car("PM2", start - SECOND, 1, gate="g-2"), positive())
    (own,) = pages(engine, "positive:")
    assert "PM1 (沪PM1000)" in own.message and "PM2" not in own.message
    assert [a.entry_id for a in pages(engine, "positive-release:")] == ["PM1"]


def test_a_parks_pages_for_a_positive_carry_its_rule_sets_own_id() -> None:
    text = DEFAULT_RULESET.read_text()
    renamed = parse_ruleset(text.replace("  - id: no_positive\n", "  - id: never_positive\n"))
    engine = run(car("PN1", T0, 1), positive(), rules=renamed)
    rules = {a.dedup_key.split(":")[0]: a.rule for a in engine.alerts}
    assert rules["positive"] == rules["positive-release"] == "never_positive"


def test_an_entry_read_after_a_positive_is_traced_from_the_look_backs_first_second() -> None:
    engine = run(car("PO1", T0, 1), positive())
    engine.feed(car("PO2", FOUND - LOOKBACK, 1, gate="g-o"))
    engine.feed(car("PO3", FOUND - LOOKBACK - SECOND, 1, gate="g-p"))
    assert traces(engine)[-1].entries == ("PO1", "PO2")


def test_a_worker_traces_an_entry_read_before_its_own_positives_notice_came_back() -> None:
    engine = Engine(RULES, loopback=False)  # a worker: what it tells goes out on Kafka first
    engine.feed(car("PQ1", T0, 1))
    engine.feed(positive())
    engine.take()
    engine.feed(car("PQ2", T0 + timedelta(hours=1), 1, 2, gate="g-q"))
    (trace,) = engine.take().traces
    assert trace.entries == ("PQ1", "PQ2")


def test_a_vehicle_at_the_same_gate_window_edge_is_a_contact_whatever_its_id() -> None:
    late_id = entry(
        "zz-edge",
        at=T0 + SAME_GATE,
        occupants=[occupant(8, nat_age=timedelta(hours=20) - SAME_GATE)],
        hazmat=False,
        plate="沪Z00000",
    )
    engine = run(car("PR1", T0, 1), late_id, positive())
    assert [c.entry_id for c in traces(engine)[0].contacts] == ["zz-edge"]


def test_an_entry_of_someone_positive_then_negative_is_traced_from_the_positive_only() -> None:
    # A negative test later does not make the person a positive again: no trace of its own.
    later = antigen(1, at=FOUND + timedelta(hours=1), event_id="ag-neg")
    engine = run(lab_positive(), later, car("PG2", FOUND + timedelta(hours=2), 1, 2))
    assert [t.event_id for t in traces(engine)] == ["trace:nat-pos:tangu"]

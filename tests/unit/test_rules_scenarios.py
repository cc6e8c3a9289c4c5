"""The rule engine's pure core, driven through each rule and each incident of DOMAIN.md with a
simulated clock (the events' own times and the watermark). No broker, no Faust."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import (
    AntigenTest,
    Decision,
    EvidenceRef,
    HealthVisit,
    NatReport,
    RiskAreaUpdate,
    VehicleEntry,
    VehicleExit,
)
from streams.rules import DEFAULT_RULESET, Engine, RuleSet, load_ruleset, parse_ruleset
from streams.rules import person as person_stage

T0 = datetime(2022, 4, 14, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
RULES = load_ruleset(DEFAULT_RULESET)


def person(n: int) -> str:
    return f"p_{n:032x}"


def occupant(
    n: int, role: str = "driver", nat_age: timedelta | None = timedelta(hours=20), **extra: Any
) -> dict[str, Any]:
    value: dict[str, Any] = {"person": person(n), "role": role, **extra}
    if nat_age is not None:
        value |= {"nat_sample_time": T0 - nat_age, "nat_result": "negative"}
    return value


def entry(
    entry_id: str = "e1",
    *,
    at: datetime = T0,
    occupants: list[dict[str, Any]] | None = None,
    hazmat: bool = True,
    plate: str = "沪A12345",
    gate: str = "jinshanwei-1",
    **extra: Any,
) -> VehicleEntry:
    fields: dict[str, Any] = {
        "event_id": entry_id,
        "event_time": at,
        "park": "tangu",
        "gate": gate,
        "gate_class": "hazmat" if hazmat else "general",
        "plate": plate,
        "hazmat": hazmat,
        "vehicle_class": "tanker" if hazmat else "truck",
        "origin_region": "上海市金山区",
        "occupants": occupants or [occupant(1), occupant(2, "escort")],
    }
    if hazmat:
        fields |= {
            "cargo": {"un_number": "UN1230", "hazard_class": "3", "quantity_kg": 20000},
            "consignee": "ent-001",
            "waybill_id": "wb-1",
            "appointment_id": "ap-1",
        }
    return VehicleEntry.model_validate(fields | extra)


def antigen(
    n: int,
    *,
    at: datetime = T0 + timedelta(minutes=8),
    result: str = "negative",
    event_id: str | None = None,
) -> AntigenTest:
    return AntigenTest(
        event_id=event_id or f"ag-{n}-{at:%H%M%S}",
        event_time=at,
        person=person(n),
        park="tangu",
        site="jinshanwei-1",
        result=result,
    )


def crew_antigens(*people: int) -> list[AntigenTest]:
    return [antigen(n) for n in people]


def run(*events: Any, rules: RuleSet = RULES, until: datetime | None = None) -> Engine:
    engine = Engine(rules)
    for event in events:
        engine.feed(event)
    if until is not None:
        engine.advance(until)
    return engine


def current(engine: Engine, entry_id: str = "e1") -> Decision:
    return engine.current()[entry_id]


def result(decision: Decision, rule: str, subject: int | None = None) -> Any:
    wanted = person(subject) if subject is not None else None
    return next(r for r in decision.rules if r.rule == rule and r.subject == wanted)


# Rule 1: a negative NAT sampled within 48 h, with its boundary.
@pytest.mark.parametrize(
    ("age", "status"),
    [(timedelta(hours=48), "pass"), (timedelta(hours=48, seconds=1), "fail")],
)
def test_nat_window_boundary(age: timedelta, status: str) -> None:
    engine = run(
        entry(occupants=[occupant(1, nat_age=age), occupant(2, "escort")]), *crew_antigens(2)
    )
    first = engine.decisions[0]
    assert result(first, "nat_48h", 1).status == status
    assert first.outcome == ("hold" if status == "fail" else "hold")  # antigen 1 still pending


def test_expired_nat_is_held_then_upgraded_after_a_negative_antigen() -> None:
    engine = run(entry(occupants=[occupant(1, nat_age=timedelta(hours=60)), occupant(2, "escort")]))
    held = engine.decisions[-1]
    assert held.outcome == "hold"
    assert result(held, "nat_48h", 1).status == "fail"
    engine.feed(antigen(1))
    engine.feed(antigen(2))
    released = current(engine)
    assert released.outcome == "release"
    assert released.revision > held.revision
    assert released.supersedes == f"e1:{released.revision - 1}"
    nat = result(released, "nat_48h", 1)
    assert (nat.status, nat.outcome) == ("fail", "release")
    assert "follow the NAT" in nat.reason


def test_missing_nat_is_a_failure_not_a_skip() -> None:
    engine = run(entry(hazmat=False, occupants=[occupant(1, nat_age=None)]))
    assert result(current(engine), "nat_48h", 1).status == "fail"
    assert current(engine).outcome == "hold"


def test_a_lab_report_arriving_late_upgrades_a_hold() -> None:
    engine = run(entry(hazmat=False, occupants=[occupant(1, nat_age=None)]))
    assert current(engine).outcome == "hold"
    engine.feed(
        NatReport(
            event_id="nat-1",
            event_time=T0 + timedelta(minutes=30),
            person=person(1),
            sample_time=T0 - timedelta(hours=10),
            result="negative",
            lab="cdc",
        )
    )
    assert current(engine).outcome == "release"
    assert result(current(engine), "nat_48h", 1).evidence[0].event_id == "nat-1"


# Rule 2: the on-site antigen, pending within its grace, then a failure.
def test_antigen_pending_within_grace_then_failing() -> None:
    engine = run(entry())
    assert result(current(engine), "antigen_on_site", 1).status == "pending"
    engine.advance(T0 + timedelta(minutes=29))
    assert result(current(engine), "antigen_on_site", 1).status == "pending"
    engine.advance(T0 + timedelta(minutes=30))
    failed = result(current(engine), "antigen_on_site", 1)
    assert failed.status == "fail" and "within 30 min" in failed.reason
    assert current(engine).outcome == "hold"


def test_positive_antigen_denies_taints_all_and_pages_once() -> None:
    engine = run(entry(), antigen(1, result="positive"), antigen(2))
    decision = current(engine)
    assert decision.outcome == "deny"
    assert {o.outcome for o in decision.occupants} == {"deny"}
    assert {o.own_outcome for o in decision.occupants} == {"deny", "release"}
    critical = [a for a in engine.alerts if a.severity == "critical"]
    assert len(critical) == 1 and critical[0].rule == "no_positive"


# Rule 3 and rule 13: code colours; a person on no roster is flagged, not stopped.
@pytest.mark.parametrize(
    ("colour", "outcome"), [("green", "release"), ("yellow", "hold"), ("red", "deny")]
)
def test_health_code_colours(colour: str, outcome: str) -> None:
    engine = run(
        entry(occupants=[occupant(1, code_colour=colour), occupant(2, "escort")]),
        *crew_antigens(1, 2),
    )
    assert current(engine).outcome == outcome


def test_unknown_person_is_flagged_and_alerted() -> None:
    engine = run(
        entry(occupants=[occupant(1), occupant(2, "escort", on_roster=False)]), *crew_antigens(1, 2)
    )
    assert current(engine).outcome == "release"
    assert result(current(engine), "on_roster", 2).status == "fail"
    assert [a.rule for a in engine.alerts] == ["on_roster"]


# Rule 4: the origin's risk colour over a 14-day look-back.
@pytest.mark.parametrize(
    ("colour", "days_ago", "outcome"),
    [("red", 3, "deny"), ("yellow", 3, "hold"), ("red", 15, "release")],
)
def test_origin_risk_area(colour: str, days_ago: int, outcome: str) -> None:
    changes = [
        RiskAreaUpdate(
            event_id="r1",
            event_time=T0 - timedelta(days=days_ago),
            region="上海市金山区",
            colour=colour,
        )
    ]
    if days_ago > 14:
        changes.append(
            RiskAreaUpdate(
                event_id="r2",
                event_time=T0 - timedelta(days=14, hours=1),
                region="上海市金山区",
                colour="green",
            )
        )
    engine = run(*changes, entry(), *crew_antigens(1, 2))
    assert current(engine).outcome == outcome


# Rules 6-10: the vehicle's own papers and gate.
@pytest.mark.parametrize(
    ("change", "rule", "outcome"),
    [
        ({"gate_class": "general"}, "gate_class", "deny"),
        ({"appointment_id": None}, "appointment", "deny"),
        ({"waybill_id": None}, "waybill", "hold"),
        ({"origin_region": "浙江省嘉兴市南湖区"}, "pass", "hold"),
        ({"occupants": [occupant(1)]}, "escort_on_board", "deny"),
    ],
)
def test_vehicle_rules(change: dict[str, Any], rule: str, outcome: str) -> None:
    engine = run(entry(**change), *crew_antigens(1, 2))
    decision = current(engine)
    assert decision.outcome == outcome
    assert rule in decision.failed_rules


# Rule 5 and the 27-passenger car; rule 12, evasion across gates.
def bus(entry_id: str, gate: str, at: datetime) -> VehicleEntry:
    people = [occupant(100, "driver")] + [
        occupant(100 + i, "passenger", nat_age=None if i == 14 else timedelta(hours=20))
        for i in range(1, 27)
    ]
    return entry(entry_id, at=at, hazmat=False, plate="苏ASUJ59", gate=gate, occupants=people)


def test_the_27_passenger_car_is_denied_for_all_27_with_one_critical_alert() -> None:
    engine = run(
        bus("bus1", "caolang-1", T0),
        antigen(114, result="positive"),
        *[antigen(100 + i) for i in range(27) if i != 14],
    )
    decision = current(engine, "bus1")
    assert decision.outcome == "deny"
    assert len(decision.occupants) == 27 and {o.outcome for o in decision.occupants} == {"deny"}
    assert [a.severity for a in engine.alerts] == ["critical"]


def test_the_same_plate_at_a_second_gate_raises_an_evasion_alert() -> None:
    engine = run(
        bus("bus1", "caolang-1", T0),
        antigen(114, result="positive"),
        bus("bus2", "caolang-2", T0 + timedelta(hours=2, minutes=40)),
    )
    second = current(engine, "bus2")
    assert "evasion" in second.failed_rules
    evasion = [a for a in engine.alerts if a.rule == "evasion"]
    assert len(evasion) == 1 and evasion[0].severity == "critical"


def test_a_forgotten_stop_still_counts_for_a_later_entrys_evasion() -> None:
    # Held at gate A, then at gate B an hour later: evasion. Two days on, the first entry is
    # forgotten while the second is kept an hour longer; the plate's next entries judge the
    # plate's entries again, and the second must not be released retroactively.
    held = entry("e1", hazmat=False, gate="g-a", occupants=[occupant(1, nat_age=None)])
    evaded = entry("e2", at=T0 + timedelta(hours=1), hazmat=False, gate="g-b",
                   occupants=[occupant(1)])  # fmt: skip
    later = T0 + timedelta(days=2, minutes=30) + RULES.lateness
    engine = run(
        held, evaded,
        *[entry(f"e{n}", at=later + timedelta(minutes=n), hazmat=False, gate="g-b",
                occupants=[occupant(n)]) for n in (3, 4)],
    )  # fmt: skip
    assert [(d.revision, d.outcome) for d in engine.decisions if d.entry_id == "e2"] == [
        (0, "hold")
    ]
    state = engine.vehicles[held.plate]
    assert "e1" in state.forgotten and [s.entry_id for s in state.stops] == ["e1"]
    # Once no kept entry is within the window after a stop, it goes too.
    engine.advance(T0 + timedelta(days=3, hours=1))
    assert engine.vehicles[held.plate].stops == ()


def test_no_evasion_after_the_window_or_at_the_same_gate() -> None:
    late = run(bus("bus1", "caolang-1", T0), bus("bus2", "caolang-2", T0 + timedelta(hours=25)))
    same = run(bus("bus1", "caolang-1", T0), bus("bus2", "caolang-1", T0 + timedelta(hours=1)))
    for engine in (late, same):
        assert "evasion" not in current(engine, "bus2").failed_rules


# Rule 11: health visits, with durable deadlines fired by the watermark alone.
def visit(n: int, day: float, entry_id: str = "e1", visit_id: str | None = None) -> HealthVisit:
    return HealthVisit(
        event_id=visit_id or f"v{n}-{day}",
        event_time=T0 + timedelta(days=day),
        person=person(n),
        enterprise="ent-001",
        entry_id=entry_id,
        visit_number=1,
        temperature_c=36.5,
    )


def out_of_area() -> VehicleEntry:
    return entry(origin_region="浙江省嘉兴市南湖区", pass_id="pass-1")


@pytest.mark.parametrize(("visits", "overdue"), [(1, True), (2, False), (3, False)])
def test_visit_obligation(visits: int, overdue: bool) -> None:
    events = [out_of_area(), *crew_antigens(1, 2), *[visit(1, d + 1) for d in range(visits)]]
    engine = run(*events, until=T0 + timedelta(days=7) - timedelta(seconds=1))
    assert not [a for a in engine.alerts if a.rule == "health_visits"]
    engine.advance(T0 + timedelta(days=7))
    alerts = [a for a in engine.alerts if a.rule == "health_visits"]
    assert len(alerts) == overdue
    if overdue:
        assert "ent-001: 1 of 2 health visits" in alerts[0].message


def test_visits_read_before_the_obligation_still_count() -> None:
    engine = run(
        visit(1, 1), visit(1, 2), out_of_area(), *crew_antigens(1, 2), until=T0 + timedelta(days=8)
    )
    assert not [a for a in engine.alerts if a.rule == "health_visits"]


def test_an_obligation_arriving_after_the_watermark_passed_its_deadline_still_fires() -> None:
    # With several workers, the entry's vehicle stage can send the obligation after the person
    # stage has swept past its deadline; it must fire then, not wait for a sweep that is over.
    late = T0 + timedelta(days=9)
    swept = person_stage.on_due(person_stage.PersonState(), RULES, late, frozenset()).state
    obligation = person_stage.Obligation(
        entry_id="e1", person=person(1), park="tangu", enterprise="ent-001", entry_time=T0,
        due=T0 + timedelta(days=7), required=2,
    )  # fmt: skip
    state = person_stage.on_obligation(swept, obligation)
    assert person_stage.next_due(state, RULES) == obligation.due
    out = person_stage.on_due(state, RULES, late, frozenset())
    state, alerts = out.state, out.alerts
    assert [(a.rule, a.entry_id) for a in alerts] == [("health_visits", "e1")]
    # Next: forgetting that it fired, two months on.
    assert person_stage.next_due(state, RULES) == obligation.due + person_stage.CLOSED_RETENTION


@pytest.mark.parametrize("visits", [0, 2])
def test_an_obligation_sent_again_after_it_was_met_or_fired_changes_nothing(visits: int) -> None:
    # A worker killed before its commit sends the obligation again, possibly after the watermark
    # has pruned the visits that met it: it must not fire as overdue.
    obligation = person_stage.Obligation(
        entry_id="e1", person=person(1), park="tangu", enterprise="ent-001", entry_time=T0,
        due=T0 + timedelta(days=7), required=2,
    )  # fmt: skip
    state = person_stage.on_obligation(person_stage.PersonState(), obligation)
    for n in range(visits):
        seen = person_stage.Visit(event_id=f"v{n}", time=T0 + timedelta(days=n + 1), entry_id="e1")
        state = person_stage.on_visit(state, seen)
    later = T0 + timedelta(days=30)
    out = person_stage.on_due(state, RULES, later, frozenset())
    state, alerts = out.state, out.alerts
    assert len(alerts) == (visits == 0)
    assert state.visits == ()  # pruned
    state = person_stage.on_obligation(state, obligation)
    out = person_stage.on_due(state, RULES, later + timedelta(hours=1), frozenset())
    state, alerts = out.state, out.alerts
    assert alerts == []


def test_a_visit_for_another_entry_does_not_serve_this_one() -> None:
    engine = run(
        out_of_area(),
        *crew_antigens(1, 2),
        visit(1, 1, entry_id="other"),
        visit(1, 2, entry_id="other"),
        until=T0 + timedelta(days=8),
    )
    assert [a.rule for a in engine.alerts if a.rule != "dwell"] == ["health_visits"]


# Rule 14: dwell, by exit or by deadline with no exit at all.
def test_dwell_over_the_cap_by_exit_and_by_deadline() -> None:
    late_exit = VehicleExit(
        event_id="x1",
        event_time=T0 + timedelta(hours=6, minutes=1),
        park="tangu",
        gate="g",
        plate="沪A12345",
        entry_id="e1",
    )
    by_exit = run(entry(), *crew_antigens(1, 2), late_exit)
    assert [a.rule for a in by_exit.alerts] == ["dwell"]
    no_exit = run(entry(), *crew_antigens(1, 2), until=T0 + timedelta(hours=6))
    assert [a.rule for a in no_exit.alerts] == ["dwell"]
    in_time = run(
        entry(),
        *crew_antigens(1, 2),
        VehicleExit(
            event_id="x1",
            event_time=T0 + timedelta(hours=5),
            park="tangu",
            gate="g",
            plate="沪A12345",
            entry_id="e1",
        ),
        until=T0 + timedelta(hours=7),
    )
    assert in_time.alerts == []


# Rule 15: a late positive for a released person is a retroactive alert.
def test_late_positive_after_release_is_a_retroactive_critical_alert() -> None:
    engine = run(entry(), *crew_antigens(1, 2))
    assert current(engine).outcome == "release"
    engine.feed(
        NatReport(
            event_id="nat-late",
            event_time=T0 + timedelta(hours=20),
            person=person(2),
            sample_time=T0 + timedelta(hours=8),
            result="positive",
            lab="cdc",
        )
    )
    assert current(engine).outcome == "deny"
    positive = [a for a in engine.alerts if a.rule == "no_positive"]
    assert {a.dedup_key.split(":")[0] for a in positive} == {"positive", "late-positive"}
    assert {a.severity for a in positive} == {"critical"}


# Rule sets are data: the window changes without code, and decisions name the version.
def test_a_24h_rule_set_changes_the_decision_and_names_its_version() -> None:
    text = DEFAULT_RULESET.read_text().replace("window: 48h", "window: 24h")
    strict = parse_ruleset(text.replace('version: "jinshan-2022.1"', 'version: "strict-24h"'))
    events = [entry(occupants=[occupant(1, nat_age=timedelta(hours=30)), occupant(2, "escort")])]
    assert result(run(*events).decisions[0], "nat_48h", 1).status == "pass"
    decision = run(*events, rules=strict).decisions[0]
    assert result(decision, "nat_48h", 1).status == "fail"
    assert decision.ruleset_version == "strict-24h"


def test_every_decision_explains_itself_with_evidence_references() -> None:
    engine = run(entry(), *crew_antigens(1, 2))
    decision = current(engine)
    checked = {r.rule for r in decision.rules}
    assert {"nat_48h", "antigen_on_site", "health_code", "gate_class", "no_positive"} <= checked
    antigen_result = result(decision, "antigen_on_site", 1)
    assert antigen_result.evidence[0].topic == "canonical.antigen"
    assert result(decision, "gate_class").evidence[0].event_id == "e1"


def test_replayed_events_change_nothing() -> None:
    events = [entry(), *crew_antigens(1, 2)]
    once = run(*events)
    twice = run(*events, *events)
    assert [d.event_id for d in once.decisions] == [d.event_id for d in twice.decisions]
    assert once.alerts == twice.alerts


# A replay sends again what the state says was sent: after a crash, an input's new state can be
# in the changelog and its outputs not, and Kafka delivers the input again (docs/rules.md).
def test_a_replayed_verdict_sends_the_decision_obligation_and_alerts_again() -> None:
    from streams.rules import vehicle as vehicle_stage

    late_exit = VehicleExit(
        event_id="x1", event_time=T0 + timedelta(hours=7), park="tangu", gate="g",
        plate="沪A12345", entry_id="e1",
    )  # fmt: skip
    engine = run(out_of_area(), *crew_antigens(1, 2), late_exit)
    state = engine.vehicles["沪A12345"]
    last = state.entries[0].verdicts[person(2)]
    pending = run(out_of_area()).vehicles["沪A12345"].entries[0].verdicts[person(2)]
    # The last verdict read, and an older one (the hold before the antigens): read again, both
    # change nothing; the older must not replace the newer.
    for verdict, offset in [(last, state.verdict_offset), (pending, 0)]:
        again = vehicle_stage.on_verdict(state, verdict, offset, RULES)
        assert again.resent and again.state == state
        assert again.decisions == [current(engine)]  # the same revision, the same content
        assert again.obligations == engine.obligations
        assert [a.rule for a in again.alerts] == ["dwell"] and again.alerts == engine.alerts
        assert again.checks == []
    exit_again = vehicle_stage.on_exit(state, late_exit, RULES)
    assert exit_again.resent and exit_again.state == state  # not kept as an exit to come
    assert exit_again.alerts == engine.alerts


def test_a_replayed_entry_sends_its_checks_and_its_decision_again() -> None:
    from streams.rules import vehicle as vehicle_stage

    engine = run(entry(), *crew_antigens(1, 2))
    state = engine.vehicles["沪A12345"]
    known = state.entries[0]
    again = vehicle_stage.on_entry(state, known.entry, known.ref, RULES, ())
    assert again.resent and again.state == state
    assert [c.person for c in again.checks] == [person(1), person(2)]
    assert again.decisions == [current(engine)]


def test_a_replay_sends_again_only_what_it_can_have_changed() -> None:
    # An entry changes the decisions of the plate's later entries (evasion), not earlier ones.
    from streams.rules import vehicle as vehicle_stage

    later = T0 + timedelta(hours=3)
    engine = run(entry(), *crew_antigens(1, 2), entry("e2", at=later), antigen(1, at=later),
                 antigen(2, at=later))  # fmt: skip
    state = engine.vehicles["沪A12345"]
    first, second = state.entries
    replays = {
        "e1": vehicle_stage.on_entry(state, first.entry, first.ref, RULES, ()),
        "e2": vehicle_stage.on_entry(state, second.entry, second.ref, RULES, ()),
    }
    assert [d.entry_id for d in replays["e1"].decisions] == ["e1", "e2"]
    assert [d.entry_id for d in replays["e2"].decisions] == ["e2"]


def test_a_new_input_is_not_a_replay() -> None:
    from streams.rules import vehicle as vehicle_stage

    engine = run(entry())
    state = engine.vehicles["沪A12345"]
    person_state = engine.people[person(1)]  # its antigen is still to come
    evidence = person_stage.Evidence(
        kind="antigen", time=T0 + timedelta(minutes=8), result="negative",
        ref=EvidenceRef(event_id="ag-new", topic="canonical.antigen", partition=0, offset=9),
    )  # fmt: skip
    out = person_stage.on_evidence(
        person_state, person(1), evidence, RULES, T0, frozenset(), "tangu"
    )
    assert not out.resent and len(out.verdicts) == 1
    more = vehicle_stage.on_verdict(state, out.verdicts[0], state.verdict_offset + 1, RULES)
    assert not more.resent and more.state != state


def test_replayed_evidence_sends_the_verdicts_and_the_positive_alert_again() -> None:
    engine = run(entry(), antigen(1, result="positive"), antigen(2))
    state = engine.people[person(1)]
    kept = state.evidence[0]
    again = person_stage.on_evidence(state, person(1), kept, RULES, T0, frozenset(), "tangu")
    assert again.resent and again.state == state
    assert [a.event_id for a in again.alerts] == ["positive:" + kept.ref.event_id]
    assert [a.event_id for a in engine.alerts if a.rule == "no_positive"] == [
        a.event_id for a in again.alerts
    ]
    sent = engine.vehicles["沪A12345"].entries[0].verdicts[person(1)]
    assert again.verdicts == [sent]


def test_an_entry_waiting_for_verdicts_survives_a_watermark_far_ahead() -> None:
    from schemas import EvidenceRef
    from streams.rules import vehicle as vehicle_stage
    from streams.rules.vehicle import VehicleState

    ref = EvidenceRef(event_id="e1", topic="canonical.entries", partition=0, offset=0)
    out = vehicle_stage.on_entry(VehicleState(), entry(), ref, RULES, ())
    assert out.decisions == [] and len(out.checks) == 2  # the verdicts are still to come
    later = vehicle_stage.on_due(out.state, RULES, T0 + timedelta(days=30))
    assert [e.entry.event_id for e in later.state.entries] == ["e1"]
    decided = run(entry(), *crew_antigens(1, 2))
    assert (
        vehicle_stage.on_due(
            decided.vehicles["沪A12345"], RULES, T0 + timedelta(days=30)
        ).state.entries
        == ()
    )


def test_a_replay_after_the_entry_was_forgotten_changes_nothing() -> None:
    events = [entry(), *crew_antigens(1, 2)]
    engine = run(*events, until=T0 + timedelta(days=10))  # the entry is forgotten by then
    assert engine.vehicles["沪A12345"].entries == ()
    decided = list(engine.decisions)
    for event in events:
        engine.feed(event)
    assert engine.decisions == decided  # not judged again with an empty history


def test_forgotten_entry_ids_are_dropped_after_the_replay_window() -> None:
    from streams.rules import vehicle as vehicle_stage

    engine = run(entry(), *crew_antigens(1, 2), until=T0 + timedelta(days=10))
    state = engine.vehicles["沪A12345"]
    assert list(state.forgotten) == ["e1"]
    due = vehicle_stage.next_due(state, RULES)
    assert due == T0 + vehicle_stage.FORGET_AFTER
    assert vehicle_stage.on_due(state, RULES, due).state.forgotten == {}


def test_a_gate_heartbeat_moves_the_clock_and_fires_deadlines() -> None:
    from schemas import GateHeartbeat

    engine = run(entry(), *crew_antigens(1, 2))
    assert engine.vehicles["沪A12345"].entries != ()
    beat = GateHeartbeat(
        event_id="beat-1", event_time=T0 + timedelta(days=3), park="tangu", gate="jinshanwei-1"
    )
    engine.feed(beat)
    assert engine.watermark == beat.event_time - RULES.lateness
    assert engine.vehicles["沪A12345"].entries == ()  # the retention deadline fired

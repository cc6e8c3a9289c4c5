"""What the engine pages and tells as decisions change, judged by the pure engine: a failing
rule's page and its words, the gate-wait page closed when the hold ends, the stops told to the
other parks exactly when an entry starts or stops being one, and what a first release starts."""

from __future__ import annotations

from datetime import timedelta

from schemas import NatReport, VehicleExit
from schemas.notice import StopNotice
from schemas.resolution import Resolution
from streams.engine import Engine
from streams.rules import DEFAULT_RULESET, RuleSet, parse_ruleset
from streams.rules.kinds import Ref
from tests.unit.test_rules_scenarios import (
    RULES,
    T0,
    antigen,
    crew_antigens,
    current,
    entry,
    exit_at,
    lab_report,
    occupant,
    out_of_area,
    person,
    run,
    visit,
)

HOUR = timedelta(hours=1)


def lab(result: str, at: timedelta, event_id: str, n: int = 1) -> NatReport:
    """Person ``n``'s report, sampled 10 h before the entry, reported ``at`` after it."""
    return lab_report(
        n, sampled=T0 - timedelta(hours=10), at=T0 + at, result=result, event_id=event_id
    )


def test_a_failing_person_rule_pages_about_the_person_in_its_words() -> None:
    engine = run(
        entry(occupants=[occupant(1, code_colour="red"), occupant(2, "escort")]),
        *crew_antigens(1, 2),
    )
    (page,) = [a for a in engine.alerts if a.rule == "health_code"]
    assert (page.dedup_key, page.subject, page.severity, page.entry_id, page.gate) == (
        f"health_code:e1:{person(1)}",
        person(1),
        "critical",
        "e1",
        "jinshanwei-1",
    )
    assert page.message == "a health code is not green: turn away; call the park's health office"
    assert (page.event_time, page.detected_at, page.park) == (T0, T0, "tangu")


def test_a_failing_vehicle_rule_pages_about_the_plate() -> None:
    engine = run(entry(gate_class="general"), *crew_antigens(1, 2))
    (page,) = [a for a in engine.alerts if a.rule == "gate_class"]
    assert (page.dedup_key, page.subject) == ("gate_class:e1:沪A12345", "沪A12345")
    assert page.message == "hazmat vehicle at a gate not for hazmat: send it to a hazmat gate"


def test_a_parks_own_rule_pages_with_its_id_and_the_results_reason() -> None:
    text = DEFAULT_RULESET.read_text()
    own = parse_ruleset(text.replace("  - id: health_code\n", "  - id: code_tangu\n"))
    engine = run(
        entry(occupants=[occupant(1, code_colour="red"), occupant(2, "escort")]),
        *crew_antigens(1, 2),
        rules=own,
    )
    (page,) = [a for a in engine.alerts if a.rule == "code_tangu"]
    reason = next(r.reason for r in current(engine).rules if r.rule == "code_tangu")
    assert page.message == f"code_tangu: {reason}"


def stale_lab(at: timedelta) -> NatReport:
    """A negative report sampled 60 h before the entry: outside the window, it releases none."""
    return lab("negative", at, "nat-stale").model_copy(
        update={"sample_time": T0 - timedelta(hours=60)}
    )


def waiting_at_the_gate() -> Engine:
    """A general truck whose driver shows no NAT, held past the gate wait."""
    engine = run(entry(hazmat=False, occupants=[occupant(1, nat_age=None)]), until=T0 + HOUR)
    assert [a.resolved_at for a in engine.alerts if a.rule == "gate_wait"] == [None]
    return engine


def test_the_gate_wait_page_closes_when_a_lab_report_releases_the_truck() -> None:
    engine = waiting_at_the_gate()
    engine.feed(lab("negative", 2 * HOUR, "nat-neg"))
    assert current(engine).outcome == "release"
    closed = [a for a in engine.alerts if a.rule == "gate_wait"][-1]
    assert closed.resolved_at == T0 + 2 * HOUR


def test_the_gate_wait_page_closes_when_the_truck_is_denied() -> None:
    engine = waiting_at_the_gate()
    engine.feed(lab("positive", 2 * HOUR, "nat-pos"))
    assert current(engine).outcome == "deny"
    assert [a.resolved_at for a in engine.alerts if a.rule == "gate_wait"][-1] == T0 + 2 * HOUR


def test_the_gate_wait_page_stays_open_while_the_truck_is_still_held() -> None:
    engine = waiting_at_the_gate()
    engine.feed(stale_lab(2 * HOUR))
    assert current(engine).outcome == "hold"
    assert [a.resolved_at for a in engine.alerts if a.rule == "gate_wait"] == [None]


def stops_told(*events: object) -> list[tuple[str, str]]:
    engine = Engine(RULES, loopback=False)
    told: list[tuple[str, str]] = []
    for n, event in enumerate(events):
        engine.feed(event)
        if isinstance(event, NatReport):  # as every worker reads it from canonical.nat
            engine.learn_nat(event, Ref(event.event_id, "canonical.nat", 0, n))
        told += [
            (n.entry_id, n.outcome) for n in engine.take().notices if isinstance(n, StopNotice)
        ]
    return told


def test_a_stop_is_told_when_an_entry_becomes_one_and_when_it_ends() -> None:
    held = entry(hazmat=False, occupants=[occupant(1, nat_age=None)])
    # Held (a stop), still held on a stale report (nothing to tell), released, then denied.
    told = stops_told(
        held,
        stale_lab(HOUR),
        lab("negative", 2 * HOUR, "nat-neg"),
        lab("positive", 3 * HOUR, "nat-pos"),
    )
    assert told == [("e1", "hold"), ("e1", "release"), ("e1", "deny")]


def test_a_hold_turning_into_a_deny_is_no_new_stop() -> None:
    held = entry(hazmat=False, occupants=[occupant(1, nat_age=None)])
    assert stops_told(held, lab("positive", HOUR, "nat-pos")) == [("e1", "hold")]


def test_every_positive_after_a_release_pages_however_the_decision_changed_since() -> None:
    engine = run(entry(), *crew_antigens(1, 2))
    engine.feed(antigen(1, at=T0 + HOUR, result="positive", event_id="ag-pos-1"))
    assert current(engine).outcome == "deny"
    engine.feed(lab("positive", 2 * HOUR, "nat-pos-2", n=2))
    pages = [a.dedup_key for a in engine.alerts if a.dedup_key.startswith("positive-release:")]
    assert pages == ["positive-release:ag-pos-1:e1", "positive-release:nat-pos-2:e1"]


def test_an_out_of_area_truck_never_let_in_owes_no_visits() -> None:
    held = entry(
        origin_region=out_of_area().origin_region,
        pass_id="pass-1",
        occupants=[occupant(1, code_colour="yellow"), occupant(2, "escort")],
    )
    engine = run(held, *crew_antigens(1, 2), until=T0 + timedelta(days=8))
    assert current(engine).outcome != "release"
    assert engine.parks["tangu"].entries["e1"].obligation is None
    assert [a for a in engine.alerts if a.rule == "health_visits"] == []


def test_a_released_out_of_area_truck_owes_its_visits_from_the_first_release_only() -> None:
    engine = run(out_of_area(), *crew_antigens(1, 2))
    obligation = engine.parks["tangu"].entries["e1"].obligation
    assert obligation is not None and obligation.due == T0 + timedelta(days=7)
    engine.feed(lab("positive", HOUR, "nat-pos"))  # denied, then an officer cannot release it
    assert engine.parks["tangu"].entries["e1"].obligation is obligation


def test_an_exit_naming_a_forgotten_entry_is_dropped() -> None:
    engine = run(entry(), *crew_antigens(1, 2), until=T0 + timedelta(days=15))
    engine.feed(
        VehicleExit(
            event_id="x-late",
            event_time=T0 + timedelta(days=15),
            park="tangu",
            gate="g",
            plate="沪A12345",
            entry_id="e1",
        )
    )
    assert engine.parks["tangu"].early_exits == {}


def test_the_gate_wait_page_stays_open_when_the_hold_changes_but_stays_a_hold() -> None:
    yellow = occupant(1, nat_age=None, code_colour="yellow")
    engine = run(entry(hazmat=False, occupants=[yellow]), until=T0 + HOUR)
    engine.feed(lab("negative", 2 * HOUR, "nat-neg"))  # the NAT passes now, the code still holds
    decided = current(engine)
    assert decided.outcome == "hold" and decided.revision == 1
    assert [a.resolved_at for a in engine.alerts if a.rule == "gate_wait"] == [None]


def test_an_occupants_outcome_is_the_worst_of_their_results_in_any_order() -> None:
    # A positive antigen (deny) is judged before a yellow code (hold): the person is denied.
    sick = occupant(1, code_colour="yellow")
    engine = run(entry(occupants=[sick, occupant(2, "escort")]), antigen(1, result="positive"))
    outcomes = {o.person: o.own_outcome for o in current(engine).occupants}
    assert outcomes[person(1)] == "deny"


def test_a_first_release_of_an_out_of_area_truck_tells_the_obligation_it_made() -> None:
    engine = Engine(RULES, record=False)
    made = []
    for event in (out_of_area(), *crew_antigens(1, 2)):
        engine.feed(event)
        made += engine.take().obligations
    assert [(m.entry_id, m.person, m.park, m.enterprise, m.due) for m in made] == [
        ("e1", person(1), "tangu", "ent-001", T0 + timedelta(days=7))
    ]


def test_visits_read_before_the_release_serve_the_obligation_it_makes() -> None:
    engine = run(out_of_area())  # held: the antigens are still to come
    engine.feed(visit(1, 0.1, visit_id="v-a"))
    engine.feed(visit(1, 0.2, visit_id="v-b"))
    assert engine.parks["tangu"].entries["e1"].obligation is None
    for test in crew_antigens(1, 2):
        engine.feed(test)
    obligation = engine.parks["tangu"].entries["e1"].obligation
    assert obligation is not None
    assert (obligation.visits, obligation.state) == (["v-a", "v-b"], "met")


def test_a_visit_naming_no_entry_serves_the_drivers_oldest_open_obligation() -> None:
    first = out_of_area()
    second = entry("e2", at=T0 + timedelta(days=1), origin_region=first.origin_region, pass_id="p2")
    engine = run(
        first,
        *crew_antigens(1, 2),
        second,
        *[antigen(n, at=T0 + timedelta(days=1, minutes=5)) for n in (1, 2)],
    )
    engine.feed(visit(1, 1.5, entry_id=None, visit_id="v-none"))  # type: ignore[arg-type]
    park = engine.parks["tangu"]
    assert park.entries["e1"].obligation.visits == ["v-none"]  # type: ignore[union-attr]
    assert park.entries["e2"].obligation.visits == []  # type: ignore[union-attr]
    assert park.visit_ids["v-none"].served == "e1"


def test_a_stay_too_long_found_at_the_exit_pages_at_the_rules_severity() -> None:
    text = DEFAULT_RULESET.read_text()
    at = text.index("  - id: dwell\n")
    block = "    severity: warning"
    critical = parse_ruleset(text[:at] + text[at:].replace(block, "    severity: critical", 1))
    engine = run(entry(), *crew_antigens(1, 2), exit_at(timedelta(hours=7)), rules=critical)
    (page,) = [a for a in engine.alerts if a.rule == "dwell"]
    assert page.severity == "critical"


def test_a_stay_too_long_of_an_out_of_area_truck_is_found_at_its_exit() -> None:
    text = DEFAULT_RULESET.read_text()
    hazmat = "window: 6h\n    subjects: hazmat_vehicles"
    rules = parse_ruleset(text.replace(hazmat, "window: 6h\n    subjects: out_of_area_vehicles"))
    engine = run(out_of_area(), *crew_antigens(1, 2), exit_at(timedelta(hours=7)), rules=rules)
    assert [a.dedup_key for a in engine.alerts if a.rule == "dwell"] == ["dwell:e1"]


def test_a_denial_lifted_by_an_officer_is_told_as_the_end_of_a_stop() -> None:
    from tests.unit.test_resolutions import resolution

    def officer(event_id: str, action: str, minutes: int) -> Resolution:
        at = T0 + timedelta(minutes=minutes)
        return resolution(action, event_id=event_id, at=at, officer="wang", reason="checked")

    held = entry(hazmat=False, occupants=[occupant(1, nat_age=None)])
    told = stops_told(held, officer("r1", "denied", 5), officer("r2", "released_after_check", 9))
    assert told == [("e1", "hold"), ("e1", "release")]  # hold then deny: a stop all along


def without(rule_id: str) -> RuleSet:
    """The bundled rule set without one rule."""
    text = DEFAULT_RULESET.read_text()
    start = text.index(f"  - id: {rule_id}\n")
    end = text.find("  - id:", start + 1)
    return parse_ruleset(text[:start] + (text[end:] if end >= 0 else ""))


def test_a_positive_pages_even_under_a_rule_set_without_a_no_positive_rule() -> None:
    engine = run(entry(), *crew_antigens(1, 2), rules=without("no_positive"))
    engine.feed(antigen(1, at=T0 + HOUR, result="positive", event_id="ag-pos"))
    pages = {a.dedup_key: (a.rule, a.severity) for a in engine.alerts if a.severity == "critical"}
    assert pages["positive:ag-pos"] == ("no_positive", "critical")
    assert pages["positive-release:ag-pos:e1"] == ("no_positive", "critical")


def test_a_rule_set_without_visits_starts_no_obligation() -> None:
    engine = run(out_of_area(), *crew_antigens(1, 2), rules=without("health_visits"))
    assert current(engine).outcome == "release"
    assert engine.parks["tangu"].entries["e1"].obligation is None


def test_a_rule_set_without_evasion_still_tells_the_stops() -> None:
    held = entry(hazmat=False, occupants=[occupant(1, nat_age=None)])
    engine = Engine(without("evasion"), loopback=False)
    engine.feed(held)
    assert [n.outcome for n in engine.take().notices] == ["hold"]


def test_a_visit_naming_no_entry_for_someone_owed_nothing_serves_nothing() -> None:
    engine = run(visit(5, 0.1, entry_id=None, visit_id="v-x"))  # type: ignore[arg-type]
    assert engine.parks["tangu"].visit_ids["v-x"].served is None


def test_an_occupants_deny_is_not_lowered_by_a_later_hold() -> None:
    # Without no_positive, a positive antigen (deny) is the person's last deny; the yellow code
    # after it holds: the person stays denied.
    sick = occupant(1, code_colour="yellow")
    engine = run(
        entry(occupants=[sick, occupant(2, "escort")]),
        antigen(1, result="positive"),
        rules=without("no_positive"),
    )
    outcomes = {o.person: o.own_outcome for o in current(engine).occupants}
    assert outcomes[person(1)] == "deny"


def test_a_lab_positive_pages_as_no_positive_under_a_rule_set_without_that_rule() -> None:
    (page,) = run(lab("positive", HOUR, "nat-pos"), rules=without("no_positive")).alerts
    assert (page.rule, page.severity, page.schema_version) == ("no_positive", "critical", 1)
    assert (page.gate, page.entry_id, page.enterprise, page.resolved_at) == (None,) * 4


def test_a_rule_set_without_an_antigen_rule_decides_hazmat_trucks_on_the_rest() -> None:
    engine = run(entry(), rules=without("antigen_on_site"), until=T0 + 2 * HOUR)
    decided = current(engine)
    assert decided.outcome == "release"
    assert "antigen_on_site" not in {r.rule for r in decided.rules}

"""The park's clock, judged by the pure engine: each deadline fires when the watermark reaches
it and not a second before, its page says what it must, and what the park keeps is forgotten on
time (entries after their retention, test results, visits, exits whose entry never came)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas import Alert
from streams.engine import Engine
from streams.engine.keeping import forgotten_day
from streams.engine.tracked import (
    EARLY_EXIT_RETENTION,
    ENTRY_RETENTION,
    FORGET_AFTER,
    NEGATIVE_RETENTION,
    POSITIVE_RETENTION,
    RECHECK,
    VISIT_RETENTION,
)
from streams.rules import DEFAULT_RULESET, parse_ruleset
from streams.words import rule_words
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

SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DWELL = timedelta(hours=6)
VISITS_DUE = timedelta(days=7)


def alerts(engine: Engine, rule: str) -> list[Alert]:
    return [a for a in engine.alerts if a.rule == rule]


def released_hazmat() -> Engine:
    engine = run(entry(), *crew_antigens(1, 2))
    assert current(engine).outcome == "release"
    return engine


# -- gate wait ------------------------------------------------------------------------------


def test_a_hold_pages_the_gate_after_an_hour_naming_what_failed() -> None:
    stale = occupant(1, nat_age=timedelta(hours=60), code_colour="yellow")
    engine = run(entry(occupants=[stale, occupant(2, "escort")]), *crew_antigens(1, 2))
    assert current(engine).outcome == "hold"
    engine.advance(T0 + HOUR - SECOND)
    assert alerts(engine, "gate_wait") == []
    engine.advance(T0 + HOUR)
    (page,) = alerts(engine, "gate_wait")
    why = "; ".join(rule_words("en", rule, "why") for rule in ("nat_48h", "health_code"))
    assert page.message == f"held at gate jinshanwei-1 for over 60 min: {why}"
    assert (page.dedup_key, page.severity, page.subject, page.gate, page.entry_id) == (
        "gate-wait:e1",
        "warning",
        "沪A12345",
        "jinshanwei-1",
        "e1",
    )
    assert (page.event_time, page.detected_at, page.resolved_at) == (T0 + HOUR, T0 + HOUR, None)


def test_a_hold_on_several_rules_names_each_once() -> None:
    yellow = occupant(1, code_colour="yellow", nat_age=timedelta(hours=60))
    escort = occupant(2, "escort", code_colour="yellow")
    engine = run(entry(occupants=[yellow, escort]), antigen(2), until=T0 + HOUR)
    (page,) = alerts(engine, "gate_wait")
    failed = ("nat_48h", "antigen_on_site", "health_code")  # each once, in the decision's order
    words = [rule_words("en", rule, "why") for rule in failed]
    assert page.message == f"held at gate jinshanwei-1 for over 60 min: {'; '.join(words)}"


def test_a_hold_waiting_for_evidence_names_the_evidence() -> None:
    engine = Engine(RULES, live=True)  # a worker: the station's results may still come
    engine.feed(entry())
    engine.advance(T0 + HOUR)
    assert current(engine).outcome == "hold"
    (page,) = alerts(engine, "gate_wait")
    assert page.message == (
        f"held at gate jinshanwei-1 for over 60 min: {rule_words('en', 'antigen_on_site', 'why')}"
    )


# -- dwell ----------------------------------------------------------------------------------


def test_a_truck_inside_past_the_cap_pages_at_the_cap_and_not_a_second_before() -> None:
    engine = released_hazmat()
    engine.advance(T0 + DWELL - SECOND)
    assert alerts(engine, "dwell") == []
    engine.advance(T0 + DWELL)
    (page,) = alerts(engine, "dwell")
    assert (page.dedup_key, page.severity, page.message, page.event_time) == (
        "dwell:e1",
        "warning",
        "no exit 6.0 h after entry",
        T0 + DWELL,
    )


def test_an_exit_at_the_cap_is_in_time_and_a_second_later_is_not() -> None:
    on_time = run(entry(), *crew_antigens(1, 2), exit_at(DWELL), until=T0 + timedelta(days=1))
    assert alerts(on_time, "dwell") == []
    late = run(entry(), *crew_antigens(1, 2), exit_at(DWELL + SECOND))
    (page,) = alerts(late, "dwell")
    assert page.message == "inside for 6.0 h, over the 6.0 h cap"
    assert page.event_time == T0 + DWELL + SECOND


def test_a_dwell_rule_for_out_of_area_vehicles_watches_only_those() -> None:
    text = DEFAULT_RULESET.read_text()
    hazmat_dwell = "window: 6h\n    subjects: hazmat_vehicles"
    assert hazmat_dwell in text
    rules = parse_ruleset(
        text.replace(hazmat_dwell, "window: 6h\n    subjects: out_of_area_vehicles")
    )
    local = run(entry(), *crew_antigens(1, 2), rules=rules, until=T0 + DWELL)
    assert alerts(local, "dwell") == []
    # The clock moves on in steps, as traffic moves it: the cap is looked at when it comes.
    away = run(out_of_area(), *crew_antigens(1, 2), rules=rules, until=T0 + HOUR)
    away.advance(T0 + DWELL - SECOND)
    assert alerts(away, "dwell") == []
    away.advance(T0 + DWELL)
    assert [a.dedup_key for a in alerts(away, "dwell")] == ["dwell:e1"]


# -- visits ---------------------------------------------------------------------------------


def test_overdue_visits_page_the_enterprise_about_the_driver() -> None:
    engine = run(out_of_area(), *crew_antigens(1, 2), visit(1, 1))
    engine.advance(T0 + VISITS_DUE)
    (page,) = alerts(engine, "health_visits")
    assert (page.dedup_key, page.severity, page.subject, page.enterprise, page.entry_id) == (
        f"visits-overdue:e1:{person(1)}",
        "warning",
        person(1),
        "ent-001",
        "e1",
    )
    assert page.message == "enterprise ent-001: 1 of 2 health visits made by the deadline"
    assert (page.event_time, page.detected_at) == (T0 + VISITS_DUE, T0 + VISITS_DUE)
    obligation = engine.parks["tangu"].entries["e1"].obligation
    assert obligation is not None and obligation.state == "overdue"


def test_visits_made_meet_the_obligation() -> None:
    engine = run(out_of_area(), *crew_antigens(1, 2), visit(1, 1), visit(1, 2))
    obligation = engine.parks["tangu"].entries["e1"].obligation
    assert obligation is not None and obligation.state == "met"
    assert len(obligation.visits) == 2


def test_an_obligation_keeps_its_rules_words_when_the_rule_set_changes() -> None:
    text = DEFAULT_RULESET.read_text()
    block = "  - id: health_visits\n    evidence: visits\n"
    assert block in text
    renamed = parse_ruleset(
        text.replace(block, "  - id: visits_7d\n    evidence: visits\n").replace(
            "minimum: 2\n    subjects: out_of_area_drivers\n    on_failure: release          "
            "# the enterprise is alerted when the visits are overdue\n    severity: warning",
            "minimum: 2\n    subjects: out_of_area_drivers\n    on_failure: release\n"
            "    severity: critical",
        )
    )
    assert renamed.clock_rule("visits").severity == "critical"  # type: ignore[union-attr]
    engine = run(out_of_area(), *crew_antigens(1, 2), rules=renamed, until=T0 + VISITS_DUE)
    assert [(a.rule, a.severity) for a in engine.alerts if "visits-overdue" in a.dedup_key] == [
        ("visits_7d", "critical")
    ]
    # A rule set without visits: the obligation made under the last one still pages, as a
    # warning under the kind's own name.
    none = parse_ruleset(text[: text.index(block)] + text[text.index("  - id: evasion") :])
    assert none.clock_rule("visits") is None
    engine = run(out_of_area(), *crew_antigens(1, 2))
    engine.use(none)
    engine.advance(T0 + VISITS_DUE)
    assert [(a.rule, a.severity) for a in engine.alerts if "visits-overdue" in a.dedup_key] == [
        ("health_visits", "warning")
    ]


# -- keeping and forgetting -----------------------------------------------------------------


def test_an_entry_is_kept_whole_for_its_retention_then_forgotten() -> None:
    engine = released_hazmat()
    park = engine.parks["tangu"]
    engine.advance(T0 + ENTRY_RETENTION - SECOND)
    assert "e1" in park.entries and "e1" in park.by_person[person(1)]
    engine.advance(T0 + ENTRY_RETENTION)
    assert "e1" not in park.entries and park.forgotten == {"e1": T0}
    assert person(1) not in park.by_person and "沪A12345" not in park.by_plate
    assert park.by_gate["jinshanwei-1"] == []
    day = forgotten_day(T0)
    assert {"e:e1", f"f:{day}"} <= park.take_dirty()
    assert park.forgotten_days == {day: {"e1"}}
    engine.advance(T0 + FORGET_AFTER - SECOND)
    assert "e1" in park.forgotten
    engine.advance(T0 + FORGET_AFTER)
    assert park.forgotten == {} and park.forgotten_days == {}
    assert f"f:{day}" in park.take_dirty()


@pytest.mark.parametrize(
    ("result", "kept"), [("negative", NEGATIVE_RETENTION), ("positive", POSITIVE_RETENTION)]
)
def test_an_antigen_result_is_kept_as_long_as_it_matters(result: str, kept: timedelta) -> None:
    engine = run(antigen(1, at=T0, result=result, event_id="ag-1"), antigen(2, at=T0))
    park = engine.parks["tangu"]
    park.take_dirty()
    engine.advance(T0 + kept - SECOND)
    assert [e.ref.event_id for e in park.antigens[person(1)]] == ["ag-1"]
    engine.advance(T0 + kept)
    assert person(1) not in park.antigens and "ag-1" not in park.antigen_ids
    assert "a:ag-1" in park.take_dirty()


def test_a_persons_other_results_stay_when_one_is_forgotten() -> None:
    first = antigen(1, at=T0, event_id="ag-old")
    later = antigen(1, at=T0 + timedelta(days=2), event_id="ag-new")
    engine = run(first, later, until=T0 + NEGATIVE_RETENTION)
    assert [e.ref.event_id for e in engine.parks["tangu"].antigens[person(1)]] == ["ag-new"]


def test_a_visit_is_kept_eight_days() -> None:
    engine = run(visit(1, 0, visit_id="v-a"), visit(1, 1, visit_id="v-b"))
    park = engine.parks["tangu"]
    engine.advance(T0 + VISIT_RETENTION - SECOND)
    assert sorted(park.visit_ids) == ["v-a", "v-b"]
    engine.advance(T0 + VISIT_RETENTION)
    assert list(park.visit_ids) == ["v-b"]
    assert [v.event_id for v in park.visits[person(1)]] == ["v-b"]
    assert "v:v-a" in park.take_dirty()
    engine.advance(T0 + VISIT_RETENTION + timedelta(days=1))
    assert park.visits == {}


def test_an_exit_whose_entry_never_came_waits_two_days() -> None:
    engine = run(exit_at(timedelta(0), "e-never", event_id="x-early"))
    park = engine.parks["tangu"]
    assert list(park.early_exits) == ["e-never"]
    assert "x:e-never" in park.take_dirty()
    engine.advance(T0 + EARLY_EXIT_RETENTION - SECOND)
    assert list(park.early_exits) == ["e-never"]
    engine.advance(T0 + EARLY_EXIT_RETENTION)
    assert park.early_exits == {}
    assert "x:e-never" in park.take_dirty()


def test_an_exit_read_before_its_entry_is_the_entrys_exit() -> None:
    engine = run(exit_at(timedelta(hours=2)), entry(), *crew_antigens(1, 2))
    tracked = engine.parks["tangu"].entries["e1"]
    assert tracked.exited == T0 + timedelta(hours=2)
    assert engine.parks["tangu"].early_exits == {}
    engine.advance(T0 + DWELL)
    assert alerts(engine, "dwell") == []  # it left in time


def test_an_exit_naming_no_entry_closes_the_plates_latest_entry_inside() -> None:
    from schemas import VehicleExit

    first = entry("e-a", at=T0 - timedelta(hours=3))
    second = entry("e-b", at=T0 - timedelta(hours=1))
    crew = [antigen(n, at=T0 - timedelta(hours=h)) for n in (1, 2) for h in (3, 1)]
    engine = run(first, second, *crew)
    bare = VehicleExit(
        event_id="x-bare", event_time=T0, park="tangu", gate="g", plate="沪A12345", entry_id=None
    )
    engine.feed(bare)
    park = engine.parks["tangu"]
    assert (park.entries["e-a"].exited, park.entries["e-b"].exited) == (None, T0)
    engine.feed(bare.model_copy(update={"event_id": "x-bare-2", "event_time": T0 + HOUR}))
    assert park.entries["e-a"].exited == T0 + HOUR
    unknown = bare.model_copy(update={"event_id": "x-3", "plate": "沪B00000"})
    engine.feed(unknown)
    assert park.early_exits == {}  # naming no entry, it cannot wait for one


def test_an_exit_before_the_entry_time_does_not_close_it() -> None:
    from schemas import VehicleExit

    engine = run(entry(at=T0 + HOUR), *[antigen(n, at=T0 + HOUR) for n in (1, 2)])
    engine.feed(VehicleExit(event_id="x0", event_time=T0, park="tangu", gate="g", plate="沪A12345"))
    assert engine.parks["tangu"].entries["e1"].exited is None


def test_an_exit_naming_no_entry_at_the_entrys_own_second_closes_it() -> None:
    from schemas import VehicleExit

    engine = run(entry(), *crew_antigens(1, 2))
    engine.feed(VehicleExit(event_id="x0", event_time=T0, park="tangu", gate="g", plate="沪A12345"))
    assert engine.parks["tangu"].entries["e1"].exited == T0


def test_every_kind_of_input_behind_the_watermark_is_kept_aside_under_its_topic() -> None:
    engine = run(out_of_area(), *crew_antigens(1, 2), until=T0 + timedelta(days=1))
    engine.feed(visit(1, 0.5, visit_id="v-late"))
    engine.feed(exit_at(timedelta(hours=5), event_id="x-late"))
    engine.feed(antigen(3, at=T0 + HOUR, event_id="ag-late"))
    engine.feed(entry("e-late", at=T0 + HOUR, plate="沪A99999"))
    first = engine.late[0]
    assert (first.park, first.event_time, first.event.event_id) == (
        "tangu",
        T0 + timedelta(days=0.5),
        "v-late",
    )
    assert [(late.topic, late.event_id) for late in engine.late] == [
        ("canonical.visits", "v-late"),
        ("canonical.exits", "x-late"),
        ("canonical.antigen", "ag-late"),
        ("canonical.entries", "e-late"),
    ]
    assert {late.watermark for late in engine.late} == {T0 + timedelta(days=1)}


def test_an_entry_at_the_watermark_itself_is_not_late() -> None:
    engine = run(entry(), *crew_antigens(1, 2), until=T0 + HOUR)
    engine.feed(entry("e-on", at=T0 + HOUR, plate="沪A99999"))
    engine.feed(entry("e-behind", at=T0 + HOUR - SECOND, plate="沪A88888"))
    assert [late.event_id for late in engine.late] == ["e-behind"]
    assert engine.parks["tangu"].entries["e-on"].late is False


GRACE = timedelta(minutes=30)  # the antigen's, in the default rule set


@pytest.mark.parametrize(("read_to", "status"), [(GRACE - SECOND, "pending"), (GRACE, "fail")])
def test_a_worker_fails_a_missing_antigen_once_the_stations_results_are_read_past_its_grace(
    read_to: timedelta, status: str
) -> None:
    # A worker cannot know the station is late: the absence is a failure only once results
    # taken after the grace are read (another crew's), however far the gates' clock ran.
    engine = Engine(RULES, live=True)
    engine.feed(entry("e0", at=T0 - HOUR, plate="沪A00000", hazmat=False))  # the clock runs
    engine.feed(entry())
    engine.advance(T0 + timedelta(hours=2))
    antigen_result = next(r for r in current(engine).rules if r.rule == "antigen_on_site")
    assert antigen_result.status == "pending"
    engine.feed(antigen(7, at=T0 + read_to, event_id="ag-other"))
    after = {r.subject: r.status for r in current(engine).rules if r.rule == "antigen_on_site"}
    assert after == {person(1): status, person(2): status}


@pytest.mark.parametrize(("age", "judged_again"), [(RECHECK, True), (RECHECK + SECOND, False)])
def test_a_lab_report_judges_again_the_entries_of_the_last_three_days_only(
    age: timedelta, judged_again: bool
) -> None:
    held = entry(hazmat=False, occupants=[occupant(1, nat_age=None)])
    later = T0 + age  # the watermark then: the newest entry's time less the lateness
    engine = run(held, entry("e-now", at=later + RULES.lateness, plate="沪A99999"))
    assert engine.watermark == later
    engine.feed(lab_report(1, sampled=T0 - timedelta(hours=10), at=later))
    assert current(engine).outcome == ("release" if judged_again else "hold")


def test_judging_again_after_a_lag_reads_the_vehicles_evidence_too() -> None:
    from schemas import RiskAreaUpdate

    engine = run(entry(), *crew_antigens(1, 2))
    assert current(engine).outcome == "release"
    # A red origin read too late (its stream lagged): judging again sees it.
    engine.feed(
        RiskAreaUpdate(
            event_id="risk-1",
            event_time=T0 - timedelta(days=1),
            region="上海市金山区",
            colour="red",
        )
    )
    engine.rejudge()
    assert current(engine).outcome == "deny"


def test_what_other_parks_and_labs_tell_does_not_move_this_parks_clock() -> None:
    engine = run(entry(), *crew_antigens(1, 2))
    park = engine.parks["tangu"]
    clock = park.clock
    ahead = T0 + timedelta(days=2)
    engine.feed(lab_report(1, sampled=ahead - HOUR, at=ahead, event_id="nat-ahead"))
    engine.feed(entry("o1", at=ahead, park="other-park", gate_class="general"))  # a stop there
    engine.rejudge()
    assert park.clock == clock

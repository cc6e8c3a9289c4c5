"""An officer's resolution of a held entry, judged by the pure engine: what it changes, what
it refuses and why, and the outcome kept for the audit (``canonical.resolutions``)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from schemas import Decision
from schemas.resolution import ACTIONS, Resolution, ResolutionOutcome
from streams.engine import Engine
from streams.rules import DEFAULT_RULESET, parse_ruleset
from tests.unit.test_rules_scenarios import (
    T0,
    antigen,
    current,
    entry,
    occupant,
    person,
    run,
)

SEEN = T0 + timedelta(minutes=40)  # the officer's word, after the antigens' grace


def resolution(
    action: str = "released_after_check",
    *,
    entry_id: str = "e1",
    event_id: str = "r1",
    at: datetime = SEEN,
    officer: str = "wang.li-7",
    reason: str = "NAT sample seen on paper",
) -> Resolution:
    return Resolution(
        event_id=event_id,
        event_time=at,
        park="tangu",
        entry_id=entry_id,
        officer=officer,
        action=action,
        reason=reason,
    )


def held() -> Engine:
    """An entry held because its crew took no antigen test within the grace."""
    engine = run(entry())
    engine.advance(T0 + timedelta(minutes=31))
    assert current(engine).outcome == "hold"
    return engine


def outcome_of(engine: Engine, event_id: str = "r1") -> ResolutionOutcome:
    return next(o for o in engine.resolutions if o.event_id == event_id)


def officers_line(decision: Decision) -> tuple[str, str, str]:
    line = next(r for r in decision.rules if r.rule == "resolution")
    return line.status, line.outcome, line.reason


def test_a_release_after_check_releases_the_hold_and_is_kept_whole_for_the_audit() -> None:
    engine = held()
    before = current(engine)
    engine.feed(resolution())
    after = current(engine)
    assert after.outcome == "release"
    assert after.revision == before.revision + 1
    assert after.resolution is not None
    assert (after.resolution.officer, after.resolution.action) == (
        "wang.li-7",
        "released_after_check",
    )
    assert after.resolution.at == SEEN
    assert officers_line(after) == (
        "pass",
        "release",
        "released after a manual check by officer wang.li-7: NAT sample seen on paper",
    )
    kept = outcome_of(engine)
    assert kept.accepted is True
    assert kept.refusal == ""
    assert (kept.gate, kept.plate) == ("jinshanwei-1", "沪A12345")
    assert (kept.superseded_revision, kept.revision) == (before.revision, after.revision)
    assert (kept.officer, kept.action, kept.entry_id) == ("wang.li-7", "released_after_check", "e1")


def test_the_first_revision_superseded_is_named_as_revision_0() -> None:
    stale = occupant(1, nat_age=timedelta(hours=60))
    engine = run(entry(hazmat=False, occupants=[stale]))
    assert current(engine).revision == 0
    engine.feed(resolution())
    assert (outcome_of(engine).superseded_revision, outcome_of(engine).revision) == (0, 1)


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("denied", "denied"),
        ("turned_away", "turned away"),
        ("left_without_entering", "left without entering, recorded"),
    ],
)
def test_every_other_action_denies_in_its_own_words(action: str, words: str) -> None:
    engine = held()
    engine.feed(resolution(action, reason="papers forged"))
    decided = current(engine)
    assert decided.outcome == "deny"
    assert officers_line(decided) == (
        "fail",
        "deny",
        f"{words} by officer wang.li-7: papers forged",
    )
    assert outcome_of(engine).accepted is True


def test_the_actions_named_here_are_every_action_the_schema_allows() -> None:
    engine = held()
    for n, action in enumerate(ACTIONS):
        engine.feed(resolution(action, event_id=f"r{n}"))
        assert outcome_of(engine, f"r{n}").accepted is True


def test_a_resolution_closes_the_entrys_warnings_and_leaves_its_critical_alerts_open() -> None:
    # At a general gate (critical), with an off-roster escort (a warning) and a yellow code that
    # holds it past the gate wait (a warning).
    yellow = occupant(1, code_colour="yellow")
    crew = [yellow, occupant(2, "escort", on_roster=False)]
    engine = run(entry(occupants=crew, gate_class="general"), antigen(1), antigen(2))
    engine.advance(T0 + timedelta(hours=3))
    open_before = {a.dedup_key: a.severity for a in engine.alerts if a.entry_id == "e1"}
    assert open_before == {
        "gate_class:e1:沪A12345": "critical",
        f"on_roster:e1:{person(2)}": "warning",
    }
    engine.feed(resolution("denied", at=T0 + timedelta(hours=4)))
    last = {a.dedup_key: a.resolved_at for a in engine.alerts if a.entry_id == "e1"}
    assert last == {
        "gate_class:e1:沪A12345": None,
        f"on_roster:e1:{person(2)}": T0 + timedelta(hours=4),
    }


def test_a_release_is_refused_while_an_occupant_is_positive_and_the_refusal_pages() -> None:
    engine = run(entry(), antigen(1, result="positive", event_id="ag-pos"), antigen(2))
    before = current(engine)
    assert before.outcome == "deny"
    engine.feed(resolution())
    assert current(engine).revision == before.revision  # nothing changed
    kept = outcome_of(engine)
    assert kept.accepted is False
    assert kept.refusal.startswith(f"cannot release: driver {person(1)}: ")
    assert "positive" in kept.refusal
    assert (kept.gate, kept.plate) == ("jinshanwei-1", "沪A12345")
    assert (kept.superseded_revision, kept.revision) == (before.revision, None)
    page = next(a for a in engine.alerts if a.dedup_key == "release-refused:r1")
    assert (page.severity, page.rule, page.entry_id, page.gate) == (
        "critical",
        "resolution_refused",
        "e1",
        "jinshanwei-1",
    )
    assert page.message.startswith(
        "officer wang.li-7 tried to release 沪A12345 at gate jinshanwei-1: refused (driver "
    )
    assert page.event_time == SEEN


def test_a_release_is_refused_for_a_red_code_and_allowed_for_an_amber_one() -> None:
    crew = [antigen(1), antigen(2)]
    red = run(entry(occupants=[occupant(1, code_colour="red"), occupant(2, "escort")]), *crew)
    red.feed(resolution())
    assert outcome_of(red).accepted is False
    assert current(red).outcome == "deny"
    amber = run(entry(occupants=[occupant(1, code_colour="yellow"), occupant(2, "escort")]), *crew)
    assert current(amber).outcome == "hold"
    amber.feed(resolution())
    assert outcome_of(amber).accepted is True
    assert current(amber).outcome == "release"


def test_a_positive_found_after_an_officers_release_still_denies() -> None:
    engine = held()
    engine.feed(resolution())
    assert current(engine).outcome == "release"
    engine.feed(
        antigen(2, at=SEEN + timedelta(minutes=5), result="positive", event_id="ag-late-positive")
    )
    decided = current(engine)
    assert decided.outcome == "deny"
    assert officers_line(decided)[:2] == ("pass", "release")  # the officer's word stays on record


def test_a_resolution_for_no_known_entry_is_refused_by_name() -> None:
    engine = held()
    engine.feed(resolution(entry_id="e9"))
    kept = outcome_of(engine)
    assert kept.accepted is False
    assert kept.refusal == "no entry e9 at park tangu"
    assert (kept.gate, kept.plate, kept.superseded_revision, kept.revision) == ("", "", None, None)


def test_a_resolution_for_a_forgotten_entry_is_refused_as_too_old() -> None:
    engine = held()
    engine.advance(T0 + timedelta(days=15))
    assert "e1" in engine.parks["tangu"].forgotten
    engine.feed(resolution(at=T0 + timedelta(days=15, hours=1)))
    assert outcome_of(engine).refusal == "the entry was decided too long ago to change"
    assert outcome_of(engine).accepted is False


def test_a_resolution_read_again_changes_nothing_and_a_second_one_counts() -> None:
    engine = held()
    engine.feed(resolution())
    decisions, outcomes = len(engine.decisions), len(engine.resolutions)
    engine.feed(resolution())
    assert (len(engine.decisions), len(engine.resolutions)) == (decisions, outcomes)
    engine.feed(resolution("denied", event_id="r2", at=SEEN + timedelta(minutes=1)))
    assert current(engine).outcome == "deny"
    assert outcome_of(engine, "r2").superseded_revision == outcome_of(engine, "r1").revision


def test_an_officers_word_does_not_move_the_parks_clock() -> None:
    engine = held()
    park = engine.parks["tangu"]
    clock = park.clock
    engine.feed(resolution(at=T0 + timedelta(days=2)))  # the wall clock, far ahead of the gates
    assert park.clock == clock
    assert engine.late == []


def test_an_officers_word_behind_the_watermark_is_kept_aside_as_late() -> None:
    engine = held()
    engine.advance(T0 + timedelta(hours=1))
    engine.feed(resolution(at=T0 + timedelta(minutes=35)))
    assert [(late.topic, late.event_id) for late in engine.late] == [("gate.resolutions", "r1")]
    assert outcome_of(engine).accepted is True


def test_a_release_is_refused_for_a_red_code_on_a_general_truck_too() -> None:
    # The antigen rule takes the hazmat crew only: a rule that does not take the person is
    # passed over, and the rules after it still forbid the release.
    engine = run(entry(hazmat=False, occupants=[occupant(1, code_colour="red")]))
    engine.feed(resolution())
    assert outcome_of(engine).accepted is False
    assert outcome_of(engine).refusal.startswith(f"cannot release: driver {person(1)}: ")


def test_a_hard_limit_of_a_rule_for_out_of_area_drivers_holds_for_them_only() -> None:
    text = DEFAULT_RULESET.read_text()
    block = "    subjects: all_occupants\n    on_failure: hold"
    at = text.index("  - id: health_code\n")
    assert text.index(block, at) < text.index("  - id:", at + 1)
    assert block in text
    mine = text[:at] + text[at:].replace(
        block, block.replace("all_occupants", "out_of_area_drivers"), 1
    )
    rules = parse_ruleset(mine)
    red = [occupant(1, code_colour="red"), occupant(2, "escort")]
    away = entry(occupants=red, origin_region="浙江省嘉兴市南湖区", pass_id="pass-1")
    engine = run(away, antigen(1), antigen(2), rules=rules)
    assert current(engine).outcome == "deny"
    engine.feed(resolution())
    assert outcome_of(engine).accepted is False
    local = run(entry(occupants=red), antigen(1), antigen(2), rules=rules)
    assert current(local).outcome == "release"  # the rule does not take a local driver

"""Evasion (DOMAIN rule 12) as stops change, judged by the pure engine: a plate stopped at one
gate judges again its later entries within the window, at this park and at every other; a stop
lifted lets them go again; and evidence read too late is judged again when it catches up."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from streams.engine import Engine
from tests.unit.test_resolutions import resolution
from tests.unit.test_rules_scenarios import T0, antigen, current, entry, lab_report, occupant, run

WINDOW = timedelta(hours=24)  # the default rule set's evasion window
SECOND = timedelta(seconds=1)


def truck(entry_id: str, at: datetime, gate: str, n: int = 1, **extra: Any) -> Any:
    """A general truck, driver ``n`` with a NAT sampled 20 h before it: released."""
    nat_age = T0 - at + timedelta(hours=20)
    return entry(
        entry_id, at=at, gate=gate, hazmat=False, occupants=[occupant(n, nat_age=nat_age)], **extra
    )


def unpapered(entry_id: str, at: datetime, gate: str, **extra: Any) -> Any:
    """A general truck whose driver shows no NAT: held."""
    return entry(
        entry_id, at=at, gate=gate, hazmat=False, occupants=[occupant(9, nat_age=None)], **extra
    )


def evaded(engine: Engine, entry_id: str) -> bool:
    return "evasion" in current(engine, entry_id).failed_rules


# Each case alone: a later entry held for evasion is a stop too, and would stop the next.
BOUNDS = [
    (timedelta(0), True),  # the very time of the stop
    (WINDOW, True),  # the window's last second
    (WINDOW + SECOND, False),
    (-SECOND, False),  # before the stop
]


@pytest.mark.parametrize(("after", "caught"), BOUNDS)
def test_a_stop_made_later_judges_again_the_plates_entries_of_its_window(
    after: timedelta, caught: bool
) -> None:
    engine = run(truck("e1", T0, "g-a"), truck("e2", T0 + after, "g-b"))
    assert not evaded(engine, "e2")
    engine.feed(antigen(1, at=T0 + timedelta(minutes=5), result="positive"))  # e1 now denied
    assert current(engine, "e1").outcome == "deny"
    assert evaded(engine, "e2") is caught


def test_a_stop_lifted_by_an_officer_lets_the_later_entries_go() -> None:
    engine = run(unpapered("e1", T0, "g-a"), truck("e2", T0 + timedelta(hours=1), "g-b", n=9))
    assert evaded(engine, "e2") and current(engine, "e2").outcome == "hold"
    engine.feed(resolution(at=T0 + timedelta(hours=2), officer="wang", reason="papers checked"))
    assert current(engine, "e1").outcome == "release"
    assert not evaded(engine, "e2")


@pytest.mark.parametrize(("after", "caught"), BOUNDS)
def test_a_stop_at_another_park_judges_again_the_plates_entries_here(
    after: timedelta, caught: bool
) -> None:
    engine = run(truck("h1", T0 + after, "g-1"))
    engine.feed(unpapered("o1", T0, "o-gate", park="other-park"))
    assert current(engine, "o1").outcome == "hold"
    assert evaded(engine, "h1") is caught
    if caught:
        reason = next(r.reason for r in current(engine, "h1").rules if r.rule == "evasion")
        assert "o-gate (other-park)" in reason


def test_another_parks_stop_lifted_lets_the_entries_here_go() -> None:
    engine = run(truck("h1", T0 + timedelta(hours=1), "g-1"))
    engine.feed(unpapered("o1", T0, "o-gate", park="other-park"))
    assert evaded(engine, "h1")
    engine.feed(
        lab_report(
            9, sampled=T0 - timedelta(hours=10), at=T0 + timedelta(hours=2), event_id="nat-o1"
        )
    )
    assert current(engine, "o1").outcome == "release"
    assert not evaded(engine, "h1")


def test_a_stop_at_another_park_for_a_plate_unknown_here_changes_nothing_here() -> None:
    engine = run(truck("h1", T0, "g-1"))
    decided = len(engine.decisions)
    engine.feed(unpapered("o1", T0, "o-gate", park="other-park", plate="沪B99999"))
    assert [d.entry_id for d in engine.decisions[decided:]] == ["o1"]


def test_lab_reports_read_too_late_hold_then_are_judged_again_when_they_catch_up() -> None:
    from streams.engine.tracked import RECHECK

    engine = Engine(run().rules)
    engine.shared.lagging = frozenset({"nat"})
    engine.feed(unpapered("e-old", T0, "g-a", plate="沪B00001"))
    engine.feed(unpapered("e-edge", T0 + SECOND, "g-a", plate="沪B00002"))
    late = T0 + RECHECK + SECOND  # e-edge is then RECHECK old to the second, e-old a second more
    engine.feed(unpapered("e-new", late, "g-a", plate="沪B00003"))
    engine.advance(late)
    for entry_id in ("e-old", "e-edge", "e-new"):
        nat = next(r for r in current(engine, entry_id).rules if r.rule == "nat_48h")
        assert nat.status == "pending", entry_id
    engine.shared.lagging = frozenset()
    engine.rejudge()
    status = {
        e: next(r for r in current(engine, e).rules if r.rule == "nat_48h").status
        for e in ("e-old", "e-edge", "e-new")
    }
    assert status == {"e-old": "pending", "e-edge": "fail", "e-new": "fail"}
    assert engine.parks["tangu"].clock == late  # judging again does not move the clock

"""Property: the final decisions and alerts do not depend on the order in which the events of a
crossing arrive within the grace window (late and out-of-order events are normal)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import HealthVisit, NatReport, VehicleExit
from streams.engine import Engine
from tests.unit.test_rules_scenarios import RULES, T0, antigen, entry, occupant, person

FINAL = T0 + timedelta(days=9)


@st.composite
def crossings(draw: st.DrawFn) -> list[Any]:
    """Events of two trucks through the same park within minutes, in event-time order."""
    events: list[Any] = []
    for truck in range(2):
        crew = (10 * truck + 1, 10 * truck + 2)
        at = T0 + timedelta(minutes=draw(st.integers(0, 20)))
        ages = [draw(st.sampled_from([None, 20, 47, 49, 60])) for _ in crew]
        colour = draw(st.sampled_from(["green", "green", "yellow"]))
        events.append(
            entry(
                f"e{truck}",
                at=at,
                plate=f"沪A1234{truck}",
                origin_region=draw(st.sampled_from(["上海市金山区", "浙江省嘉兴市南湖区"])),
                pass_id="pass",
                occupants=[
                    occupant(
                        crew[0],
                        nat_age=None if ages[0] is None else timedelta(hours=ages[0]),
                        code_colour=colour,
                    ),
                    occupant(
                        crew[1],
                        "escort",
                        nat_age=None if ages[1] is None else timedelta(hours=ages[1]),
                    ),
                ],
            )
        )
        for n in crew:
            if draw(st.booleans()):
                result = draw(st.sampled_from(["negative", "negative", "positive"]))
                minutes = draw(st.integers(1, 25))
                events.append(antigen(n, at=at + timedelta(minutes=minutes), result=result))
        if draw(st.booleans()):
            events.append(
                NatReport(
                    event_id=f"nat-{truck}",
                    event_time=at + timedelta(minutes=5),
                    person=person(crew[0]),
                    sample_time=at - timedelta(hours=30),
                    result="negative",
                    lab="cdc",
                )
            )
        for day in range(draw(st.integers(0, 3))):
            events.append(
                HealthVisit(
                    event_id=f"v{truck}-{day}",
                    event_time=at + timedelta(days=day + 1),
                    park="tangu",
                    person=person(crew[0]),
                    enterprise="ent-001",
                    entry_id=f"e{truck}",
                    visit_number=day + 1,
                    temperature_c=36.6,
                )
            )
        hours = draw(st.sampled_from([2, 5, 7]))
        events.append(
            VehicleExit(
                event_id=f"x{truck}",
                event_time=at + timedelta(hours=hours),
                park="tangu",
                gate="jinshanwei-1",
                plate=f"沪A1234{truck}",
                entry_id=f"e{truck}",
            )
        )
    return sorted(events, key=lambda e: e.event_time)


def outcome_of(events: list[Any]) -> tuple[Any, ...]:
    engine = Engine(RULES)
    for event in events:
        engine.feed(event)
    engine.advance(FINAL)
    decisions = {
        entry_id: (
            d.outcome,
            tuple(sorted((r.rule, r.subject or "", r.status, r.outcome) for r in d.rules)),
        )
        for entry_id, d in engine.current().items()
    }
    # An alert sent again with more in it (a contact trace grown by an entry read later) is the
    # same alert: its dedup key.
    return tuple(sorted(decisions.items())), tuple(sorted({a.dedup_key for a in engine.alerts}))


@settings(max_examples=150, deadline=None)
@given(events=crossings(), data=st.data())
def test_arrival_order_within_the_grace_window_does_not_matter(
    events: list[Any], data: st.DataObject
) -> None:
    # Shuffle the events of the first half hour (the crossing and its on-site results); the
    # rest (visits, exits) arrive in order, hours or days later.
    early = [e for e in events if e.event_time < T0 + timedelta(minutes=30) + RULES.lateness / 2]
    late = [e for e in events if e not in early]
    shuffled = data.draw(st.permutations(early))
    assert outcome_of(shuffled + late) == outcome_of(events)

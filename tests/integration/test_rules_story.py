"""The 2022 story through the real broker and a running worker: a held truck upgraded by its
antigen results, the 27-passenger car, its second gate, a missed health visit fired by the
watermark alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from schemas import Alert, Decision
from streams.jsonl import envelope, key_for
from streams.settings import Settings
from tests.integration import story
from tests.integration.helpers import Tail, Worker, produce


def send(settings: Settings, *events: tuple[str, Any]) -> None:
    for topic, event in events:
        record = envelope(topic, event)
        produce(settings, topic, [(key_for(record), json.dumps(record["value"]).encode())])


@pytest.fixture(scope="module")
def decisions(settings: Settings, worker: Worker) -> Iterator[Tail]:
    tail = Tail(settings, "sentinel.decisions")
    yield tail
    tail.close()


@pytest.fixture(scope="module")
def alerts(settings: Settings, worker: Worker) -> Iterator[Tail]:
    tail = Tail(settings, "sentinel.alerts")
    yield tail
    tail.close()


def decided(tail: Tail, entry_id: str, predicate: Any = lambda d: True, what: str = "") -> Decision:
    records = tail.wait(
        lambda r: (
            (d := Decision.model_validate_json(r.value)).entry_id == entry_id and predicate(d)
        ),
        what=what or f"a decision for {entry_id}",
    )
    return Decision.model_validate_json(records[-1].value)


def raised(tail: Tail, predicate: Any, what: str) -> list[Alert]:
    records = tail.wait(lambda r: predicate(Alert.model_validate_json(r.value)), what=what)
    return [Alert.model_validate_json(r.value) for r in records]


def test_an_expired_nat_is_held_then_upgraded_after_a_negative_antigen(
    settings: Settings, decisions: Tail
) -> None:
    driver, escort = story.people(2)
    send(settings, story.entry("held-1", [driver, escort], nat_ages=[60, 20]))
    held = decided(decisions, "held-1", lambda d: "nat_48h" in d.failed_rules, "a hold")
    assert held.outcome == "hold"
    nat = next(r for r in held.rules if r.rule == "nat_48h" and r.status == "fail")
    assert "48 h" in nat.reason and nat.evidence[0].topic.endswith("canonical.entries")

    at = story.T0 + timedelta(minutes=9)
    send(settings, story.antigen("ag-held-1", driver, at), story.antigen("ag-held-2", escort, at))
    released = decided(decisions, "held-1", lambda d: d.outcome == "release", "the upgrade")
    assert released.revision > held.revision
    assert released.supersedes is not None
    assert any("follow the NAT" in r.reason for r in released.rules)


def test_the_27_passenger_car_is_denied_for_all_27_with_one_critical_alert(
    settings: Settings, decisions: Tail, alerts: Tail
) -> None:
    passengers = story.people(27, "330482")
    ages: list[float | None] = [20.0] * 27
    ages[13] = None  # no NAT within 48 h
    at = story.T0 + timedelta(hours=1)
    send(
        settings,
        story.entry(
            "bus-1",
            passengers,
            at=at,
            nat_ages=ages,
            hazmat=False,
            plate="浙F2K7P9",
            gate="caolang-1",
            origin="浙江省平湖市",
        ),
        *[
            story.antigen(
                f"ag-bus-{i}",
                who,
                at + timedelta(minutes=12),
                "positive" if i == 13 else "negative",
                site="caolang-1",
            )
            for i, who in enumerate(passengers)
        ],
    )
    denied = decided(decisions, "bus-1", lambda d: d.outcome == "deny", "the denial")
    assert len(denied.occupants) == 27
    assert {o.outcome for o in denied.occupants} == {"deny"}
    critical = raised(
        alerts,
        lambda a: a.severity == "critical" and a.rule == "no_positive",
        "the positive's page",
    )
    assert len(critical) == 1
    assert "bus-1" in critical[0].message  # the trace names the car's entry


def test_the_same_plate_at_a_second_gate_raises_an_evasion_alert(
    settings: Settings, decisions: Tail, alerts: Tail
) -> None:
    decided(decisions, "bus-1", lambda d: d.outcome == "deny", "the first gate's denial")
    passengers = story.people(27, "330482")
    at = story.T0 + timedelta(hours=3, minutes=40)
    send(
        settings,
        story.entry(
            "bus-2",
            passengers,
            at=at,
            hazmat=False,
            plate="浙F2K7P9",
            gate="caolang-2",
            origin="浙江省平湖市",
        ),
    )
    second = decided(decisions, "bus-2", lambda d: "evasion" in d.failed_rules, "evasion")
    assert second.outcome in ("hold", "deny")
    evasion = raised(alerts, lambda a: a.rule == "evasion", "the evasion alert")
    assert len(evasion) == 1 and evasion[0].severity == "critical"
    assert evasion[0].subject == "浙F2K7P9"


def test_one_visit_raises_an_overdue_alert_after_7_days_with_no_event_for_that_driver(
    settings: Settings, decisions: Tail, alerts: Tail
) -> None:
    driver, escort = story.people(2, "330402")
    at = story.T0 + timedelta(minutes=30)
    send(
        settings,
        story.entry(
            "visits-1", [driver, escort], at=at, plate="浙F88888", origin="浙江省嘉兴市南湖区"
        ),
        story.antigen("ag-v-1", driver, at + timedelta(minutes=5)),
        story.antigen("ag-v-2", escort, at + timedelta(minutes=5)),
        story.visit("visit-1", driver, at + timedelta(days=2), "visits-1"),
    )
    decided(decisions, "visits-1", lambda d: d.outcome == "release", "the release")
    # Other traffic moves the watermark past the deadline; this driver sends nothing more.
    other, other_escort = story.people(2)
    later = at + timedelta(days=7, hours=1)
    send(settings, story.entry("later-1", [other, other_escort], at=later, plate="沪B77777"))
    overdue = raised(
        alerts,
        lambda a: a.rule == "health_visits" and a.entry_id == "visits-1",
        "the overdue-visit alert",
    )
    assert len(overdue) == 1
    assert "ent-007: 1 of 2 health visits" in overdue[0].message

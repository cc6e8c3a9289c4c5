"""The jinshan-2022 scenario: the volumes of the story, its incidents, and determinism."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta
from functools import cache

import pytest

from schemas import RawAntigenTest, RawHealthVisit, RawVehicleEntry, VehicleExit
from streams.ingest import Accepted, Ingestor
from streams.jsonl import envelope
from streams.pseudonym import Pseudonymiser
from workbench.simulator import Params, Scenario, generate
from workbench.simulator.jinshan import TZ
from workbench.simulator.traffic import HOURLY_PERCENT


@cache
def scenario(seed: int = 1, hazmat_share: float = 0.55) -> Scenario:
    return generate(Params(seed=seed, hazmat_share=hazmat_share))


def entries(s: Scenario) -> list[RawVehicleEntry]:
    return [e for t, e in s.events if isinstance(e, RawVehicleEntry)]


def test_volumes_of_the_story() -> None:
    s = scenario()
    by_day = Counter(e.event_time.astimezone(TZ).date() for e in entries(s))
    assert sum(by_day.values()) == s.truth["total_entries"] == 11_778
    assert max(by_day.values()) == s.truth["peak_entries"] == 502
    assert str(max(by_day, key=by_day.__getitem__)) == s.truth["peak_date"]
    assert len(by_day) == 39 and min(by_day) == datetime(2022, 4, 1).date()
    assert list(by_day.values()).count(502) == 1, "one peak day"


def test_same_seed_same_events_other_seed_other_events() -> None:
    first = [envelope(t, e) for t, e in scenario(1).events[:2000]]
    again = [envelope(t, e) for t, e in generate(Params(seed=1)).events[:2000]]
    other = [envelope(t, e) for t, e in scenario(2).events[:2000]]
    assert first == again
    assert first != other


def test_events_are_in_event_time_order() -> None:
    times = [e.event_time for _, e in scenario().events]  # type: ignore[attr-defined]
    assert times == sorted(times)


def test_hourly_shape_follows_the_model() -> None:
    hours = Counter(e.event_time.astimezone(TZ).hour for e in entries(scenario()))
    total = sum(hours.values())
    for hour, percent in enumerate(HOURLY_PERCENT):
        assert hours[hour] / total == pytest.approx(percent / 100, abs=0.01)


def test_hazmat_share_is_a_parameter_and_hazmat_trucks_carry_an_escort() -> None:
    for share in (0.4, 0.7):
        trucks = [e for e in entries(scenario(1, share)) if e.vehicle_class != "bus"]
        assert sum(e.hazmat for e in trucks) / len(trucks) == pytest.approx(share, abs=0.03)
    for e in entries(scenario()):
        if e.hazmat:
            assert sorted(o.role for o in e.occupants) == ["driver", "escort"]


def test_dwell_times_match_the_model() -> None:
    s = scenario()
    entered = {e.event_id: e for e in entries(s)}
    stays = [
        (
            entered[x.entry_id].hazmat,
            (x.event_time - entered[x.entry_id].event_time) / timedelta(hours=1),
        )
        for _, x in s.events
        if isinstance(x, VehicleExit) and x.entry_id
    ]
    dwell = [hours for _, hours in stays]
    assert statistics.median(dwell) == pytest.approx(2.0, abs=0.15)
    within_cap = [d for d in dwell if d <= 6]  # the model's p95 is of the trucks within the cap
    assert statistics.quantiles(within_cap, n=20)[-1] == pytest.approx(5.5, abs=0.35)
    assert sum(d > 6 for d in dwell) / len(dwell) == pytest.approx(0.01, abs=0.005)
    assert sum(hazmat and d > 6 for hazmat, d in stays) == s.truth["dwell_violations"]


def test_the_27_passenger_car_has_one_positive_and_tries_a_second_gate() -> None:
    s = scenario()
    bus = s.truth["incidents"]["bus"]
    first, second = (e for e in entries(s) if e.event_id in bus["entry_ids"])
    assert first.plate == second.plate and first.gate != second.gate
    assert len(first.occupants) == 27
    assert timedelta(0) < second.event_time - first.event_time < timedelta(hours=24)
    lacking = [
        o
        for o in first.occupants
        if o.nat_sample_time is None or first.event_time - o.nat_sample_time > timedelta(hours=48)
    ]
    assert len(lacking) == 1
    ids = {o.id_number for o in first.occupants}
    tests = [e for _, e in s.events if isinstance(e, RawAntigenTest) and e.id_number in ids]
    assert len(tests) == 27
    assert [t.id_number for t in tests if t.result == "positive"] == [lacking[0].id_number]
    assert s.truth["positives"] == 1


def test_expired_nats_unknown_person_and_missed_visits_are_in_the_truth() -> None:
    s = scenario()
    by_id = {e.event_id: e for e in entries(s)}
    expired = s.truth["expired_nat_entry_ids"]
    assert len(expired) == s.truth["expired_nat_entries"] > 10
    for entry_id in expired:
        entry = by_id[entry_id]
        ages = [entry.event_time - o.nat_sample_time for o in entry.occupants if o.nat_sample_time]
        assert max(ages) > timedelta(hours=48)
    unknown = by_id[s.truth["incidents"]["unknown_person"]["entry_id"]]
    assert [o.on_roster for o in unknown.occupants].count(False) == 1
    visits = Counter(e.entry_id for _, e in s.events if isinstance(e, RawHealthVisit))
    overdue = s.truth["overdue_visit_entry_ids"]
    assert all(visits[entry_id] < 2 for entry_id in overdue)
    share = len(overdue) / s.truth["visit_obligations"]
    assert 0.02 < share < 0.1


def test_every_event_passes_ingestion() -> None:
    ingestor = Ingestor(
        Pseudonymiser(b"simulator-test-key"),
        max_message_bytes=262_144,
        future_tolerance=timedelta(minutes=5),
    )
    now = datetime(2022, 6, 1, tzinfo=TZ)
    for topic, event in scenario().events[::7]:
        result = ingestor.ingest(topic, event.model_dump_json().encode(), now=now)
        assert isinstance(result, Accepted), (topic, event.event_id, result)  # type: ignore[attr-defined]

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import Occupant, VehicleEntry
from streams.rules import SKELETON_RULESET, decide_entry

CHECK = datetime(2022, 4, 12, 8, 30, tzinfo=UTC)


def entry(
    sampled: datetime | None, *, hazmat: bool = True, result: str = "negative"
) -> VehicleEntry:
    return VehicleEntry.model_validate(
        {
            "event_id": "e-1",
            "event_time": CHECK,
            "park": "tangu",
            "gate": "g1",
            "plate": "沪A12345",
            "hazmat": hazmat,
            "cargo": {"un_number": "UN1230", "hazard_class": "3", "quantity_kg": 1000}
            if hazmat
            else None,
            "origin_region": "上海市金山区",
            "occupants": [
                Occupant(
                    person=f"p_{'1' * 32}",
                    role="driver",
                    nat_sample_time=CHECK - timedelta(hours=1),
                    nat_result="negative",
                ),
                {
                    "person": f"p_{'2' * 32}",
                    "role": "escort",
                    "nat_sample_time": sampled,
                    "nat_result": result if sampled else None,
                },
            ],
        }
    )


@pytest.mark.parametrize(
    ("age", "outcome"),
    [
        (timedelta(hours=1), "release"),
        (timedelta(hours=48), "release"),  # exactly 48 h is still within the window
        (timedelta(hours=48, seconds=1), "hold"),
    ],
)
def test_nat_window_boundaries(age: timedelta, outcome: str) -> None:
    decision = decide_entry(entry(CHECK - age))
    assert decision.outcome == outcome


def test_missing_nat_is_a_failure_not_a_skip() -> None:
    decision = decide_entry(entry(None))
    assert decision.outcome == "hold"
    assert decision.failed_rules == ("nat_48h",)
    assert "occupant 2 (escort)" in decision.rules[0].reason


def test_positive_nat_does_not_count_as_evidence() -> None:
    assert decide_entry(entry(CHECK - timedelta(hours=2), result="positive")).outcome == "hold"


def test_non_hazmat_vehicles_pass_this_rule() -> None:
    assert decide_entry(entry(None, hazmat=False)).outcome == "release"


def test_decision_is_deterministic_and_traceable() -> None:
    first, second = decide_entry(entry(None)), decide_entry(entry(None))
    assert first == second
    assert first.event_id == "e-1:0"
    assert first.entry_id == "e-1"
    assert first.event_time == CHECK
    assert first.ruleset_version == SKELETON_RULESET

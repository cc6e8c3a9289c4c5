from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas import (
    RawAntigenTest,
    RawHealthVisit,
    RawNatReport,
    RawVehicleEntry,
    RiskAreaUpdate,
    VehicleExit,
)
from schemas.people import id_check_char
from tests.unit import factories as f


def occupant(index: int, **changes: Any) -> dict[str, Any]:
    value = f.entry()
    value["occupants"][index].update(changes)
    return value


def test_gb11643_check_character_of_a_published_example() -> None:
    assert id_check_char("11010519491231002") == "X"


@pytest.mark.parametrize(
    ("model", "value"),
    [
        (RawVehicleEntry, f.entry()),
        (RawAntigenTest, f.antigen()),
        (RawNatReport, f.nat()),
        (RawHealthVisit, f.visit()),
        (
            VehicleExit,
            {
                "event_id": "x-1",
                "event_time": f.AT.isoformat(),
                "park": "p",
                "gate": "g",
                "plate": "沪A12345",
            },
        ),
        (
            RiskAreaUpdate,
            {
                "event_id": "r-1",
                "event_time": f.AT.isoformat(),
                "region": "310116",
                "colour": "yellow",
            },
        ),
    ],
)
def test_valid_events_parse_and_are_frozen(model: type[BaseModel], value: dict[str, Any]) -> None:
    event = model.model_validate_json(json.dumps(value))
    with pytest.raises(ValidationError):
        event.event_id = "changed"  # type: ignore[attr-defined]


def test_phone_numbers_are_normalised() -> None:
    entry = RawVehicleEntry.model_validate(f.entry())
    assert [o.phone for o in entry.occupants] == ["13812345678", "13900001111"]


BAD_ENTRIES = {
    "wrong type": (f.entry(hazmat="sometimes"), "hazmat"),
    "naive event time": (f.entry(event_time="2022-04-12T08:30:00"), "timezone"),
    "unknown field": (f.entry(colour="blue"), "Extra inputs"),
    "bad plate": (f.entry(plate="ABC"), "plate"),
    "bad UN number": (
        f.entry(cargo={"un_number": "1203", "hazard_class": "3", "quantity_kg": 1}),
        "un_number",
    ),
    "hazmat without cargo": (f.entry(cargo=None), "needs its cargo"),
    "no occupants": (f.entry(occupants=[]), "at least 1"),
    "two drivers": (occupant(1, role="driver"), "exactly one occupant with role 'driver'"),
    "ID checksum": (occupant(0, id_number=f.DRIVER_ID[:17] + "0"), "checksum"),
    "ID birth date": (occupant(0, id_number=f.resident_id("31011619801301123")), "birth date"),
    "ID shape": (occupant(0, id_number="12345"), "not a resident ID number"),
    "phone": (occupant(0, phone="12345"), "not a mainland mobile number"),
    "NAT after entry": (
        occupant(0, nat_sample_time=(f.AT + timedelta(minutes=1)).isoformat()),
        "NAT sample time is after the entry",
    ),
    "result": (occupant(0, nat_result="maybe"), "nat_result"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_bad_entries_are_refused_with_a_reason(case: str) -> None:
    value, reason = BAD_ENTRIES[case]
    with pytest.raises(ValidationError) as caught:
        RawVehicleEntry.model_validate_json(json.dumps(value))
    assert reason in str(caught.value)


def test_malformed_json_is_refused() -> None:
    with pytest.raises(ValidationError, match="Invalid JSON"):
        RawVehicleEntry.model_validate_json(b'{"event_id": "x", ')


@pytest.mark.parametrize(
    ("model", "value", "reason"),
    [
        (
            RawNatReport,
            f.nat(sample_time=(f.AT + timedelta(hours=1)).isoformat()),
            "after its report",
        ),
        (RawAntigenTest, f.antigen(result="unclear"), "result"),
        (RawAntigenTest, f.antigen(id_number="11010519491231002X", event_id="bad id!"), "event_id"),
        (RawHealthVisit, f.visit(temperature_c=45), "temperature_c"),
        (RawHealthVisit, f.visit(visit_number=0), "visit_number"),
    ],
)
def test_bad_health_events_are_refused(
    model: type[BaseModel], value: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(json.dumps(value))
    assert reason in str(caught.value)


def test_validation_errors_do_not_echo_identifiers() -> None:
    bad = f.DRIVER_ID[:17] + ("0" if f.DRIVER_ID[17] != "0" else "1")
    with pytest.raises(ValidationError) as caught:
        RawAntigenTest.model_validate(f.antigen(id_number=bad))
    messages = [e["msg"] for e in caught.value.errors()]
    assert messages and all(bad not in m for m in messages)

"""Raw events of the 2022 story for integration tests, as gates and labs would send them."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from schemas import RawAntigenTest, RawHealthVisit, RawVehicleEntry
from workbench.simulator.identities import Person, person
from workbench.simulator.jinshan import TZ

T0 = datetime(2022, 4, 14, 10, 0, tzinfo=TZ)
rng = random.Random(2022)


def people(n: int, region: str = "310116") -> list[Person]:
    return [person(rng, region) for _ in range(n)]


def entry(
    entry_id: str,
    crew: list[Person],
    *,
    at: datetime = T0,
    nat_ages: list[float | None] | None = None,
    hazmat: bool = True,
    plate: str = "沪A12345",
    gate: str = "jinshanwei-1",
    origin: str = "上海市金山区",
    park: str = "tangu-green-bay",
    colours: list[str] | None = None,
) -> tuple[str, RawVehicleEntry]:
    ages = nat_ages or [20.0] * len(crew)
    colours = colours or ["green"] * len(crew)
    roles = ["driver"] + (["escort"] if hazmat else ["passenger"]) * (len(crew) - 1)
    occupants: list[dict[str, Any]] = []
    for who, role, age, colour in zip(crew, roles, ages, colours, strict=True):
        occupant: dict[str, Any] = {
            "id_number": who.id_number,
            "phone": who.phone,
            "role": role,
            "code_colour": colour,
            "on_roster": True,
        }
        if age is not None:
            occupant |= {"nat_sample_time": at - timedelta(hours=age), "nat_result": "negative"}
        occupants.append(occupant)
    fields: dict[str, Any] = {
        "event_id": entry_id,
        "event_time": at,
        "park": park,
        "gate": gate,
        "gate_class": "hazmat" if hazmat else "general",
        "plate": plate,
        "hazmat": hazmat,
        "vehicle_class": "tanker" if hazmat else "bus" if len(crew) > 2 else "truck",
        "origin_region": origin,
        "pass_id": None if origin.startswith("上海市金山区") else f"pass-{entry_id}",
        "occupants": occupants,
    }
    if hazmat:
        fields |= {
            "cargo": {"un_number": "UN1230", "hazard_class": "3", "quantity_kg": 20000},
            "consignee": "ent-007",
            "waybill_id": f"wb-{entry_id}",
            "appointment_id": f"ap-{entry_id}",
        }
    return "gate.entries", RawVehicleEntry.model_validate(fields)


def antigen(
    event_id: str,
    who: Person,
    at: datetime,
    result: str = "negative",
    site: str = "jinshanwei-1",
    park: str = "tangu-green-bay",
) -> tuple[str, RawAntigenTest]:
    return "health.antigen", RawAntigenTest.model_validate(
        {
            "event_id": event_id,
            "event_time": at,
            "id_number": who.id_number,
            "park": park,
            "site": site,
            "result": result,
        }
    )


def visit(
    event_id: str, who: Person, at: datetime, entry_id: str, park: str = "tangu-green-bay"
) -> tuple[str, RawHealthVisit]:
    return "health.visits", RawHealthVisit.model_validate(
        {
            "event_id": event_id,
            "event_time": at,
            "id_number": who.id_number,
            "park": park,
            "enterprise": "ent-007",
            "entry_id": entry_id,
            "visit_number": 1,
            "temperature_c": 36.5,
        }
    )

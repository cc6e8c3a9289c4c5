"""Vehicles at the gate: entries (topic ``gate.entries``), exits (``gate.exits``) and gate
heartbeats (``gate.heartbeats``), each keyed by park.

``Raw*`` models are what gates send: occupants carry resident ID numbers and phone numbers.
Ingestion turns them into the plain models, whose occupants carry a pseudonym instead.

Nothing a rule reads defaults to a passing value. The gate and vehicle classes are required; an
occupant's health-code colour and roster check may be left out, and then count as "not
presented", which fails their rules with that reason.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from schemas._base import Event, EventTime, Frozen, Name
from schemas.people import Phone, Pseudonym, ResidentId

Role = Literal["driver", "escort", "passenger"]
TestResult = Literal["negative", "positive"]
CodeColour = Literal["green", "yellow", "red"]
VehicleClass = Literal["tanker", "truck", "van", "bus", "car"]
GateClass = Literal["hazmat", "general"]

PLATE = r"^[\u4e00-\u9fff][A-Z][A-Z0-9]{5,6}$"


class Cargo(Frozen):
    un_number: str = Field(pattern=r"^UN\d{4}$", description="UN number, e.g. UN1203")
    hazard_class: str = Field(pattern=r"^[1-9](\.[1-6])?$", description="ADR class, e.g. 3")
    quantity_kg: float = Field(gt=0, le=60_000)


class _OccupantFields(Frozen):
    role: Role
    nat_sample_time: EventTime | None = Field(
        None, description="sample time of the NAT report the person presents, if any"
    )
    nat_result: TestResult | None = None
    code_colour: CodeColour | None = Field(
        None, description="health-code colour scanned at the gate; absent: not presented (held)"
    )
    on_roster: bool | None = Field(
        None,
        description="found on an appointment or enterprise roster; absent: not checked (flagged)",
    )


class RawOccupant(_OccupantFields):
    id_number: ResidentId
    phone: Phone | None = None


class Occupant(_OccupantFields):
    person: Pseudonym


OccupantT = TypeVar("OccupantT", RawOccupant, Occupant)


class _Entry(Event, Generic[OccupantT]):
    park: str = Name
    gate: str = Name
    gate_class: GateClass = Field(description="hazmat: the gate may take hazmat trucks")
    plate: str = Field(pattern=PLATE, description="licence plate, e.g. 沪A12345")
    vehicle_class: VehicleClass
    hazmat: bool
    cargo: Cargo | None = None
    consignee: str | None = Field(None, max_length=64, description="receiving enterprise id")
    origin_region: str = Field(min_length=1, max_length=64, description="where the trip started")
    pass_id: str | None = Field(None, max_length=64)
    waybill_id: str | None = Field(None, max_length=64)
    appointment_id: str | None = Field(None, max_length=64)
    occupants: tuple[OccupantT, ...] = Field(
        min_length=1,
        max_length=64,
        description="everyone on board: exactly one driver",
        json_schema_extra={
            "contains": {"properties": {"role": {"const": "driver"}}, "required": ["role"]},
            "minContains": 1,
            "maxContains": 1,
        },
    )

    @model_validator(mode="after")
    def _consistent(self) -> _Entry[OccupantT]:
        if sum(o.role == "driver" for o in self.occupants) != 1:
            raise ValueError("an entry has exactly one occupant with role 'driver'")
        if self.hazmat and self.cargo is None:
            raise ValueError("a hazmat entry needs its cargo (UN number, class, quantity)")
        for number, occupant in enumerate(self.occupants, start=1):
            sampled = occupant.nat_sample_time
            if sampled is not None and sampled > self.event_time:
                raise ValueError(f"occupant {number}: NAT sample time is after the entry")
        return self


# A hazmat entry carries its cargo: said to JSON Schema producers as well as checked here.
_CARGO_FOR_HAZMAT: JsonDict = {
    "if": {"properties": {"hazmat": {"const": True}}, "required": ["hazmat"]},
    "then": {"required": ["cargo"], "properties": {"cargo": {"type": "object"}}},
}


class RawVehicleEntry(_Entry[RawOccupant]):
    """A vehicle entry as the gate sends it (personal data: occupants' ID and phone numbers)."""

    model_config = ConfigDict(json_schema_extra=_CARGO_FOR_HAZMAT)


class VehicleEntry(_Entry[Occupant]):
    """A vehicle entry after ingestion: occupants are pseudonyms."""

    model_config = ConfigDict(json_schema_extra=_CARGO_FOR_HAZMAT)


class VehicleExit(Event):
    park: str = Name
    gate: str = Name
    plate: str = Field(pattern=PLATE)
    entry_id: str | None = Field(None, max_length=128, description="the entry this exit closes")


class GateHeartbeat(Event):
    """A gate's clock: sent every few minutes, traffic or not. It tells the pipeline that event
    time at this gate has reached ``event_time``, so deadlines fire when a gate goes quiet."""

    park: str = Name
    gate: str = Name

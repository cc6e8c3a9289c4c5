"""Vehicles at the gate: entries (topic ``gate.entries``, key plate) and exits (``gate.exits``).

``Raw*`` models are what gates send: occupants carry resident ID numbers and phone numbers.
Ingestion turns them into the plain models, whose occupants carry a pseudonym instead.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import Field, model_validator

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
    code_colour: CodeColour = "green"
    on_roster: bool = Field(True, description="found on an appointment or enterprise roster")


class RawOccupant(_OccupantFields):
    id_number: ResidentId
    phone: Phone | None = None


class Occupant(_OccupantFields):
    person: Pseudonym


OccupantT = TypeVar("OccupantT", RawOccupant, Occupant)


class _Entry(Event, Generic[OccupantT]):
    park: str = Name
    gate: str = Name
    gate_class: GateClass = "hazmat"
    plate: str = Field(pattern=PLATE, description="licence plate, e.g. 沪A12345")
    vehicle_class: VehicleClass = "tanker"
    hazmat: bool
    cargo: Cargo | None = None
    consignee: str | None = Field(None, max_length=64, description="receiving enterprise id")
    origin_region: str = Field(min_length=1, max_length=64, description="where the trip started")
    pass_id: str | None = Field(None, max_length=64)
    waybill_id: str | None = Field(None, max_length=64)
    appointment_id: str | None = Field(None, max_length=64)
    occupants: tuple[OccupantT, ...] = Field(min_length=1, max_length=64)

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


class RawVehicleEntry(_Entry[RawOccupant]):
    """A vehicle entry as the gate sends it (personal data: occupants' ID and phone numbers)."""


class VehicleEntry(_Entry[Occupant]):
    """A vehicle entry after ingestion: occupants are pseudonyms."""


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

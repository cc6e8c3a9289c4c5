"""Vehicle entry at a park gate (topic ``gate.entries``, key: plate)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas._base import Event, EventTime

Role = Literal["driver", "escort", "passenger"]
NatResult = Literal["negative", "positive"]
CodeColour = Literal["green", "yellow", "red"]


class Occupant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    person_id: str = Field(min_length=1, max_length=64, description="person identifier")
    role: Role
    nat_sample_time: EventTime | None = Field(
        None, description="sample time of the NAT report the person presents, if any"
    )
    nat_result: NatResult | None = None
    code_colour: CodeColour = "green"


class VehicleEntry(Event):
    park: str = Field(min_length=1, max_length=64)
    gate: str = Field(min_length=1, max_length=64)
    plate: str = Field(min_length=1, max_length=16)
    hazmat: bool
    occupants: tuple[Occupant, ...] = Field(min_length=1, max_length=64)

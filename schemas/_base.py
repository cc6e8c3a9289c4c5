"""What every event shares: an id, an aware event time, and a schema version."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EventTime = AwareDatetime
"""Event times must carry a timezone; a naive timestamp is refused at the edge."""

Name = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Event(Frozen):
    """Base of every event model: frozen, strict about unknown fields."""

    schema_version: int = Field(1, ge=1, le=1, description="version of this event's schema")
    event_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[\w.:\-]+$", description="unique id of this event"
    )
    event_time: EventTime = Field(description="when it happened, with a timezone")

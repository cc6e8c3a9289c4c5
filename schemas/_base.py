"""What every event shares: an id, an aware event time, and a schema version."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EventTime = AwareDatetime
"""Event times must carry a timezone; a naive timestamp is refused at the edge."""


class Event(BaseModel):
    """Base of every event model: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    schema_version: int = Field(1, ge=1, description="version of this event's schema")
    event_id: str = Field(min_length=1, max_length=128, description="unique id of this event")
    event_time: EventTime = Field(description="when it happened, with a timezone")

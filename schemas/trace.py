"""Contact tracing (DOMAIN rule 15): on a positive, everyone who shared a vehicle with the person
and every vehicle through the same gate around the same time, per park (topic
``sentinel.traces``, key park; ClickHouse table ``contacts``). Pseudonyms and plates only."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import Event, Frozen
from schemas.people import Pseudonym


class Contact(Frozen):
    kind: Literal["co-occupant", "same-gate"]
    entry_id: str = Field(description="the entry the contact was on")
    plate: str
    gate: str
    time: AwareDatetime = Field(description="that entry's time")
    person: Pseudonym | None = Field(None, description="a co-occupant; None: a whole vehicle")
    via: str = Field(description="the positive person's entry that makes it a contact")


class ContactTrace(Event):
    """``event_id`` is ``trace:<positive event id>:<park>``; ``event_time`` the positive's."""

    park: str
    person: Pseudonym = Field(description="the person who tested positive")
    positive_event_id: str
    entries: tuple[str, ...] = Field(description="the person's entries at this park traced")
    contacts: tuple[Contact, ...]

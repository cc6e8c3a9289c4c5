"""The officer's hand: resolutions of held entries (raw topic ``gate.resolutions``, key park),
and what the pipeline made of each (``canonical.resolutions``: the audit trail).

An officer releases a held vehicle after a manual check, denies it, turns it away, or records
that it left without entering. A release is refused while an occupant is positive or red-coded.
Officers are named by their staff id, never by a resident ID number.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import Event, Name

Action = Literal["released_after_check", "denied", "turned_away", "left_without_entering"]
ACTIONS: tuple[Action, ...] = (
    "released_after_check",
    "denied",
    "turned_away",
    "left_without_entering",
)


class Resolution(Event):
    """An officer's resolution of one entry's hold, as the gate system sends it."""

    park: str = Name
    entry_id: str = Field(min_length=1, max_length=128, description="the entry resolved")
    officer: str = Field(
        min_length=1, max_length=64, pattern=r"^[\w.\-]+$", description="staff id of the officer"
    )
    action: Action
    reason: str = Field(min_length=1, max_length=500, description="why, in the officer's words")


class ResolutionOutcome(Resolution):
    """What became of a resolution: accepted (with the decision revision it made and the one it
    superseded) or refused, and why. One per resolution, kept in ClickHouse for the audit."""

    accepted: bool
    refusal: str = Field("", max_length=500, description="why it was refused; empty if accepted")
    gate: str = ""
    plate: str = ""
    superseded_revision: int | None = Field(None, description="the decision revision it ended")
    revision: int | None = Field(None, description="the decision revision it made")

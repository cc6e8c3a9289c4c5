"""What one park tells every other (topic ``sentinel.evidence``, read whole by every worker):
a positive found at a park (the no_positive rule and tracing everywhere), and a plate stopped
or let go at a gate (evasion across parks). Lab NAT reports reach every worker through
``canonical.nat``, read whole the same way."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import Frozen
from schemas.decision import EvidenceRef, Outcome
from schemas.entry import TestResult
from schemas.people import Pseudonym


class PositiveNotice(Frozen):
    """key: the person's pseudonym."""

    kind: Literal["positive"] = "positive"
    person: Pseudonym
    park: str
    result_kind: Literal["antigen", "nat"]
    time: AwareDatetime = Field(description="when the result was read or sampled")
    reported: AwareDatetime = Field(description="when it was reported")
    result: TestResult = "positive"
    ref: EvidenceRef


class StopNotice(Frozen):
    """key: the plate. ``outcome`` is the entry's current one: hold or deny while it is stopped,
    release once it is let go (a held truck released on its antigen no longer counts)."""

    kind: Literal["stop"] = "stop"
    plate: str
    park: str
    gate: str
    entry_id: str
    time: AwareDatetime = Field(description="the entry's time")
    outcome: Outcome
    ref: EvidenceRef


Notice = PositiveNotice | StopNotice

"""Release decisions (topic ``sentinel.decisions``, key: entry id).

A decision explains itself: every rule checked, for the vehicle or for one occupant, with its
status, the outcome it asks for, the reason, and the evidence it used (event id, topic, partition,
offset). A later revision for the same entry supersedes the earlier one (a hold upgraded when the
antigen result arrives); the latest revision is the current decision.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import Event, Frozen
from schemas.people import Pseudonym

Outcome = Literal["release", "hold", "deny"]
OUTCOME_ORDER: dict[str, int] = {"release": 0, "hold": 1, "deny": 2}
Status = Literal["pass", "fail", "pending"]


def worst(outcomes: list[Outcome] | tuple[Outcome, ...]) -> Outcome:
    """release < hold < deny: the most severe wins."""
    return max(outcomes, key=OUTCOME_ORDER.__getitem__, default="release")


class EvidenceRef(Frozen):
    event_id: str
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class RuleResult(Frozen):
    rule: str
    subject: Pseudonym | None = Field(None, description="the occupant judged; None: the vehicle")
    status: Status
    outcome: Outcome = Field(description="what this result asks for: release when it passed")
    reason: str = ""
    evidence: tuple[EvidenceRef, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "pass"


class OccupantOutcome(Frozen):
    person: Pseudonym
    role: Literal["driver", "escort", "passenger"]
    outcome: Outcome = Field(description="the vehicle's outcome: one failing occupant taints all")
    own_outcome: Outcome = Field(description="what this occupant's own results asked for")


class Decision(Event):
    """``event_id`` is ``<entry id>:<revision>``; ``event_time`` is the entry's event time."""

    entry_id: str
    revision: int = Field(0, ge=0, description="0 first; a later revision supersedes it")
    supersedes: str | None = Field(None, description="event id of the decision this replaces")
    park: str
    gate: str
    plate: str
    outcome: Outcome
    rules: tuple[RuleResult, ...]
    occupants: tuple[OccupantOutcome, ...] = ()
    ruleset_version: str

    @property
    def failed_rules(self) -> tuple[str, ...]:
        return tuple(sorted({r.rule for r in self.rules if r.status == "fail"}))

    @property
    def pending_rules(self) -> tuple[str, ...]:
        return tuple(sorted({r.rule for r in self.rules if r.status == "pending"}))

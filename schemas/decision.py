"""Release decisions (topic ``sentinel.decisions``, key: entry id).

A decision explains itself: every rule checked, for the vehicle or for one occupant, with its
status, the outcome it asks for, the reason, and the evidence it used (event id, topic, partition,
offset). A later revision for the same entry supersedes the earlier one (a hold upgraded when the
antigen result arrives); the latest revision is the current decision.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import Event, Frozen
from schemas.people import Pseudonym

Outcome = Literal["release", "hold", "deny"]
OUTCOME_ORDER: dict[str, int] = {"release": 0, "hold": 1, "deny": 2}
Status = Literal["pass", "fail", "pending"]


def worst(outcomes: list[Outcome] | tuple[Outcome, ...]) -> Outcome:
    """release < hold < deny: the most severe wins."""
    return max(outcomes, key=OUTCOME_ORDER.__getitem__, default="release")


class EvidenceRef(Frozen):
    """Where the evidence is kept: its event id (a row in ClickHouse's raw tables, for as long as
    they are kept) and its canonical topic and partition; the offset when it is known."""

    event_id: str
    topic: str
    partition: int = Field(ge=0)
    offset: int | None = Field(None, ge=0)


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


class ResolutionRef(Frozen):
    """The officer's hand in a decision: who resolved the hold, how and why."""

    event_id: str = Field(description="the resolution event")
    officer: str
    action: Literal["released_after_check", "denied", "turned_away", "left_without_entering"]
    reason: str
    at: AwareDatetime


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
    ruleset_hash: str = Field("", description="SHA-256 (16 hex) of the rule set's text")
    resolution: ResolutionRef | None = Field(None, description="set once an officer resolved it")

    @property
    def failed_rules(self) -> tuple[str, ...]:
        return tuple(sorted({r.rule for r in self.rules if r.status == "fail"}))

    @property
    def pending_rules(self) -> tuple[str, ...]:
        return tuple(sorted({r.rule for r in self.rules if r.status == "pending"}))

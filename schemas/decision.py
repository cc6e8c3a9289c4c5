"""Release decision for one vehicle entry (topic ``sentinel.decisions``, key: entry id)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas._base import Event

Outcome = Literal["release", "hold", "deny"]
OUTCOME_ORDER: dict[str, int] = {"release": 0, "hold": 1, "deny": 2}


class RuleResult(BaseModel):
    """One rule checked for a decision: whether it passed, why, and on what evidence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    passed: bool
    outcome: Outcome = Field(description="what this rule asks for: release when passed")
    reason: str = ""


class Decision(Event):
    """``event_id`` is the decision's id; ``event_time`` is the entry's event time."""

    entry_id: str
    revision: int = Field(0, ge=0, description="0 first; a later revision supersedes it")
    park: str
    gate: str
    plate: str
    outcome: Outcome
    rules: tuple[RuleResult, ...]
    ruleset_version: str

    @property
    def failed_rules(self) -> tuple[str, ...]:
        return tuple(r.rule for r in self.rules if not r.passed)

"""What the engine sends, gathered between two takes, and the wire models it becomes.

The engine works on plain objects (``streams/rules/kinds/base.py``); decisions leave as the
pydantic models of ``schemas/`` built without validating again (``model_construct``): everything
in them was validated at the edge or made here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from schemas import Alert, Decision, EvidenceRef, OccupantOutcome, RuleResult, VehicleEntry
from schemas.decision import Outcome, ResolutionRef
from schemas.notice import PositiveNotice, StopNotice
from schemas.resolution import ResolutionOutcome
from schemas.trace import ContactTrace
from streams.rules.kinds.base import Ref, Result, Severity


@dataclass(frozen=True, slots=True)
class ObligationMade:
    """A visit obligation started (the rollups count them per enterprise and due day)."""

    entry_id: str
    person: str
    park: str
    enterprise: str
    due: datetime


@dataclass(frozen=True, slots=True)
class Late:
    """An event behind its park's watermark: counted, logged, and kept on ``sentinel.late``."""

    topic: str  # the canonical topic it belongs to
    event_id: str
    park: str
    event_time: datetime
    watermark: datetime
    event: BaseModel


@dataclass
class Outputs:
    decisions: list[Decided] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    traces: list[ContactTrace] = field(default_factory=list)
    resolutions: list[ResolutionOutcome] = field(default_factory=list)
    notices: list[PositiveNotice | StopNotice] = field(default_factory=list)
    obligations: list[ObligationMade] = field(default_factory=list)
    late: list[Late] = field(default_factory=list)


def wire_ref(ref: Ref) -> EvidenceRef:
    return EvidenceRef.model_construct(
        event_id=ref.event_id, topic=ref.topic, partition=ref.partition, offset=ref.offset
    )


def to_ref(ref: EvidenceRef) -> Ref:
    return Ref(ref.event_id, ref.topic, ref.partition, ref.offset)


ORDER = {"release": 0, "hold": 1, "deny": 2}


@dataclass(slots=True)
class Decided:
    """A decision as the engine makes it: cheap to make, and turned into the wire's JSON
    (:meth:`json`) or pydantic model (:meth:`wire`, for tests and the backtest) only when sent."""

    entry: VehicleEntry
    results: tuple[Result, ...]
    outcome: Outcome
    revision: int
    version: str
    content_hash: str
    resolution: ResolutionRef | None

    @property
    def entry_id(self) -> str:
        return self.entry.event_id

    @property
    def event_id(self) -> str:
        return f"{self.entry.event_id}:{self.revision}"

    @property
    def event_time(self) -> datetime:
        return self.entry.event_time

    @property
    def park(self) -> str:
        return self.entry.park

    @property
    def gate(self) -> str:
        return self.entry.gate

    @property
    def failed_rules(self) -> tuple[str, ...]:
        return tuple(sorted({r.rule for r in self.results if r.status == "fail"}))

    @property
    def pending_rules(self) -> tuple[str, ...]:
        return tuple(sorted({r.rule for r in self.results if r.status == "pending"}))

    def _own(self) -> dict[str, Outcome]:
        own: dict[str, Outcome] = {}
        for r in self.results:
            if r.subject is not None and ORDER[r.outcome] > ORDER[own.get(r.subject, "release")]:
                own[r.subject] = r.outcome
        return own

    def wire(self) -> Decision:
        entry, own = self.entry, self._own()
        return Decision.model_construct(
            schema_version=1,
            event_id=self.event_id,
            event_time=entry.event_time,
            entry_id=entry.event_id,
            revision=self.revision,
            supersedes=f"{entry.event_id}:{self.revision - 1}" if self.revision else None,
            park=entry.park,
            gate=entry.gate,
            plate=entry.plate,
            outcome=self.outcome,
            rules=tuple(rule_result(r) for r in self.results),
            occupants=tuple(
                OccupantOutcome.model_construct(
                    person=o.person,
                    role=o.role,
                    outcome=self.outcome,
                    own_outcome=own.get(o.person, "release"),
                )
                for o in entry.occupants
            ),
            ruleset_version=self.version,
            ruleset_hash=self.content_hash,
            resolution=self.resolution,
        )

    def json(self) -> bytes:
        """The JSON of :meth:`wire`, made without building it (``schemas.Decision``)."""
        entry, own = self.entry, self._own()
        value = {
            "schema_version": 1,
            "event_id": self.event_id,
            "event_time": entry.event_time.isoformat(),
            "entry_id": entry.event_id,
            "revision": self.revision,
            "supersedes": f"{entry.event_id}:{self.revision - 1}" if self.revision else None,
            "park": entry.park,
            "gate": entry.gate,
            "plate": entry.plate,
            "outcome": self.outcome,
            "rules": [
                {
                    "rule": r.rule,
                    "subject": r.subject,
                    "status": r.status,
                    "outcome": r.outcome,
                    "reason": r.reason,
                    "evidence": [
                        {"event_id": e[0], "topic": e[1], "partition": e[2], "offset": e[3]}
                        for e in r.evidence
                    ],
                }
                for r in self.results
            ],
            "occupants": [
                {
                    "person": o.person,
                    "role": o.role,
                    "outcome": self.outcome,
                    "own_outcome": own.get(o.person, "release"),
                }
                for o in entry.occupants
            ],
            "ruleset_version": self.version,
            "ruleset_hash": self.content_hash,
            "resolution": None
            if self.resolution is None
            else self.resolution.model_dump(mode="json"),
        }
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def rule_result(result: Result) -> RuleResult:
    return RuleResult.model_construct(
        rule=result.rule,
        subject=result.subject,
        status=result.status,
        outcome=result.outcome,
        reason=result.reason,
        evidence=tuple(wire_ref(r) for r in result.evidence),
    )


def new_alert(
    key: str,
    at: datetime,
    severity: Severity,
    rule: str,
    subject: str,
    park: str,
    message: str,
    *,
    detected_at: datetime,
    gate: str | None = None,
    entry_id: str | None = None,
    enterprise: str | None = None,
) -> Alert:
    """An open alert, its dedup key its event id."""
    return Alert.model_construct(
        schema_version=1,
        event_id=key,
        event_time=at,
        severity=severity,
        rule=rule,
        subject=subject,
        dedup_key=key,
        park=park,
        gate=gate,
        entry_id=entry_id,
        enterprise=enterprise,
        message=message,
        detected_at=detected_at,
        resolved_at=None,
    )

"""What every rule kind is made of: the kind itself, the result of judging one rule, the evidence
a judge reads, and the view of one entry it judges (:class:`Judging`).

Plain objects with slots: the engine builds thousands of results a second. They become the
decision's pydantic models only on the way out (``streams/engine/outputs.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, NamedTuple, Protocol

from schemas import Occupant, VehicleEntry
from schemas.decision import Outcome, Status
from streams.words import Language

Severity = Literal["critical", "warning", "info"]
Subjects = Literal[
    "all_occupants",
    "hazmat_crew",
    "out_of_area_drivers",
    "vehicle",
    "hazmat_vehicles",
    "out_of_area_vehicles",
]
RiskHistory = tuple[tuple[datetime, str], ...]
"""A region's colour changes, (from when, colour), in time order."""


class Rule(Protocol):
    """What a kind reads of one rule: a rule set's rule (``streams/rules/ruleset.py``), which
    names its kind in ``evidence``."""

    @property
    def id(self) -> str: ...
    @property
    def evidence(self) -> str: ...
    @property
    def window(self) -> timedelta | None: ...
    @property
    def grace(self) -> timedelta | None: ...
    @property
    def minimum(self) -> int: ...
    @property
    def subjects(self) -> Subjects: ...
    @property
    def on_failure(self) -> Outcome: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def alert(self) -> bool: ...
    @property
    def remedy(self) -> Literal["antigen_negative"] | None: ...


class Rules(Protocol):
    """What a kind reads of the rule set: the other rules of a kind (``RuleSet.of_kind``)."""

    def of_kind(self, evidence: str) -> Sequence[Rule]: ...


class Ref(NamedTuple):
    """Where a piece of evidence is kept: its event id, canonical topic and partition, and its
    offset when known."""

    event_id: str
    topic: str
    partition: int
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """One rule judged for the vehicle (``subject`` None) or for one occupant."""

    rule: str
    subject: str | None
    status: Status
    outcome: Outcome  # what it asks for: release when it passed
    reason: str
    evidence: tuple[Ref, ...] = ()

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """What makes a decision differ: evidence references are left out (the same answer
        from another copy of the evidence is the same answer)."""
        return (self.rule, self.subject or "", self.status, self.outcome, self.reason)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A test result about one person. ``time`` is what the rules measure windows from (a NAT:
    its sample time; an antigen: when it was read); ``reported`` when the result was known."""

    kind: Literal["nat", "antigen"]
    time: datetime
    result: Literal["negative", "positive"]
    ref: Ref
    reported: datetime
    park: str = "-"  # where it was taken; "-": a lab


@dataclass(frozen=True, slots=True)
class Stop:
    """A plate held or denied at a gate (evasion reads these)."""

    entry_id: str
    park: str
    gate: str
    time: datetime
    outcome: Outcome
    ref: Ref


@dataclass(slots=True)
class Judging:
    """One entry as a judge sees it, with everything the engine knows that it may read."""

    entry: VehicleEntry
    ref: Ref
    rules: Rules
    anchor: datetime  # its deadlines run from here: its time, or its arrival when it came late
    watermark: datetime  # the park's clock, trailing its latest event by the lateness
    antigen_clock: datetime  # how far the park's on-site antigen results are read
    lagging: frozenset[str]  # shared evidence streams read too late to trust an absence
    evidence: Callable[[str], Sequence[Evidence]]  # a person's test results
    stops: Callable[[], Sequence[Stop]] = lambda: ()  # the plate's stops, this park and others
    risk: RiskHistory = ()  # the origin region's colour history
    out_of_area: bool = False


@dataclass(slots=True)
class Obligation:
    """The health visits an enterprise owes one driver for one entry (``visits``)."""

    person: str
    enterprise: str
    due: datetime
    required: int
    visits: list[str] = field(default_factory=list)  # event ids of the visits that served it
    state: Literal["open", "met", "overdue"] = "open"


class Tracked(Protocol):
    """What the clock-driven kinds read of an entry the park keeps."""

    entry: VehicleEntry
    anchor: datetime
    outcome: Outcome | None
    released: bool
    exited: datetime | None
    obligation: Obligation | None
    not_passed: tuple[str, ...]  # the ids of the rules its last decision did not pass

    @property
    def resolved(self) -> bool: ...

    def alerted(self, key: str) -> bool: ...


def subject_applies(rule: Rule, entry: VehicleEntry, out_of_area: bool) -> bool:
    """Whether a vehicle rule's subjects take this vehicle (``vehicle``: every one)."""
    if rule.subjects == "hazmat_vehicles":
        return entry.hazmat
    if rule.subjects == "out_of_area_vehicles":
        return out_of_area
    return True


def occupant_applies(
    rule: Rule, entry: VehicleEntry, occupant: Occupant, out_of_area: bool
) -> bool:
    """Whether a person rule's subjects take this occupant (``all_occupants``: every one)."""
    if rule.subjects == "hazmat_crew":
        return entry.hazmat and occupant.role in ("driver", "escort")
    if rule.subjects == "out_of_area_drivers":
        return out_of_area and occupant.role == "driver"
    return True


PersonJudge = Callable[["Rule", Judging, Occupant], Result]
VehicleJudge = Callable[["Rule", Judging], Result]


@dataclass(frozen=True, slots=True)
class Alarm:
    """What a deadline of the park's clock raises when it passes: an alert."""

    rule: str
    severity: Severity
    key: str  # its dedup key
    message: str
    at: datetime  # when it was due
    subject: str | None = None  # None: the vehicle
    enterprise: str | None = None


Due = Callable[["Rule | None", Tracked, bool], datetime | None]
"""When the park's clock must act on an entry for a deadline kind (its rule, None when the set
has none; the entry; whether its origin is out of the park's area); None: not now."""
OnDue = Callable[["Rule | None", Tracked, Language], Alarm]
"""What the deadline does when the clock passes it (the words in the park's language)."""


def never_due(rule: Rule | None, t: Tracked, out_of_area: bool) -> datetime | None:
    return None


def no_deadline(rule: Rule | None, t: Tracked, language: Language) -> Alarm:
    raise AssertionError("a kind with no deadline was acted on by the clock")


def pages_if_alerting(rule: Rule, result: Result) -> Severity | None:
    """The usual paging: a failed result of a rule with ``alert: true``, at the rule's severity."""
    return rule.severity if rule.alert and result.status == "fail" else None


def never(result: Result) -> bool:
    return False


def reads_nothing(rule: Rule, evidence: Evidence, at: datetime) -> bool:
    return False


def reads_any(rule: Rule, evidence: Evidence, at: datetime) -> bool:
    return True


@dataclass(frozen=True)
class Kind:
    """A kind of evidence rules can ask for (the ``evidence:`` of a rule)."""

    name: str
    subject: Literal["person", "vehicle"]  # whom its rules judge: each occupant, or the vehicle
    needs_window: bool = False
    several: bool = True  # whether a rule set may hold several rules of this kind
    judge: PersonJudge | VehicleJudge | None = None  # None: acted on by the park's clock
    pages: Callable[[Rule, Result], Severity | None] = pages_if_alerting
    hard_limit: Callable[[Result], bool] = never  # an officer cannot release past this failure
    options: frozenset[str] = frozenset()  # rule fields it reads beyond the common ones
    # Whether a test result can change what its rule says of an entry at ``at``: only those
    # entries are judged again when the result comes (person kinds).
    reads: Callable[[Rule, Evidence, datetime], bool] = reads_any
    # A deadline on the park's clock (kinds not judged at the gate): when, and what it does.
    due: Due = never_due
    on_due: OnDue = no_deadline


def rule_window(rule: Rule) -> timedelta:
    """The window of a rule whose kind needs one (a rule set without it is refused)."""
    assert rule.window is not None, f"rule {rule.id} has no window"
    return rule.window


def result(
    rule: Rule,
    subject: str | None,
    status: Status,
    reason: str,
    evidence: Sequence[Ref] = (),
    outcome: Outcome | None = None,
) -> Result:
    """A result; its outcome by default is what its status asks for (a failure: the rule's)."""
    if outcome is None:
        outcome = (
            "release" if status == "pass" else "hold" if status == "pending" else rule.on_failure
        )
    return Result(rule.id, subject, status, outcome, reason, tuple(evidence))

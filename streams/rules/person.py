"""Stage 2, per person (key: pseudonym): evidence, checks of entries, visit obligations.

Pure: every function takes the person's state and returns the new state and what to send. Checks
are judged as of the entry's event time against *all* the evidence the person has, whatever order
it arrived in, so a late antigen result or NAT report re-judges the open checks it could change.
Deadlines (an antigen's grace, a visit obligation) fire from the watermark, not from new traffic
for this person.

Evidence read again sends again what the person's state says it sent (:func:`on_evidence`): after
a crash its new state may have reached the changelog and its verdicts not. A check read again is
answered again. Visits and obligations send nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from schemas import Alert, EvidenceRef, RuleResult
from schemas._base import Frozen
from schemas.decision import Outcome
from schemas.entry import CodeColour, Role, TestResult
from streams.rules.ruleset import Rule, RuleSet

CHECK_RETENTION = timedelta(days=3)  # an open check is re-judged on new evidence this long
EVIDENCE_RETENTION = timedelta(days=15)
VISIT_RETENTION = timedelta(days=8)  # longer than any visit window
CLOSED_RETENTION = timedelta(days=60)  # as the vehicle stage's forgotten entries
CROSSING = timedelta(hours=2)  # the default window of an on-site test around the crossing


class PersonCheck(Frozen):
    """Vehicle stage -> person stage: judge this occupant for this entry."""

    entry_id: str
    plate: str
    park: str
    gate: str
    entry_time: datetime
    person: str
    role: Role
    hazmat: bool
    out_of_area: bool
    nat_sample_time: datetime | None = None
    nat_result: TestResult | None = None
    code_colour: CodeColour = "green"
    on_roster: bool = True
    entry_ref: EvidenceRef


class PersonVerdict(Frozen):
    """Person stage -> vehicle stage (key: plate): this occupant's results for one entry."""

    entry_id: str
    plate: str
    person: str
    role: Role
    results: tuple[RuleResult, ...]
    ruleset_version: str


class Obligation(Frozen):
    """Vehicle stage -> person stage: the consignee owes this driver visits by ``due``."""

    entry_id: str
    person: str
    park: str
    enterprise: str
    entry_time: datetime
    due: datetime
    required: int = Field(ge=1)
    visits: tuple[str, ...] = ()


class PersonCheckOrObligation:
    """The messages on ``sentinel.person-checks``: {"check": ...} or {"obligation": ...}."""

    @staticmethod
    def check(check: PersonCheck) -> bytes:
        return b'{"check":' + check.model_dump_json().encode() + b"}"

    @staticmethod
    def obligation(obligation: Obligation) -> bytes:
        return b'{"obligation":' + obligation.model_dump_json().encode() + b"}"

    @staticmethod
    def parse(raw: bytes) -> PersonCheck | Obligation:
        data = json.loads(raw)
        if "check" in data:
            return PersonCheck.model_validate(data["check"])
        return Obligation.model_validate(data["obligation"])


class Evidence(Frozen):
    kind: Literal["nat", "antigen"]
    time: datetime  # NAT: sample time; antigen: when the result was read
    result: TestResult
    ref: EvidenceRef


class Visit(Frozen):
    event_id: str
    time: datetime
    entry_id: str | None = None


class PersonState(Frozen):
    evidence: tuple[Evidence, ...] = ()
    visits: tuple[Visit, ...] = ()  # kept, so that an obligation arriving later still counts them
    checks: tuple[PersonCheck, ...] = ()
    obligations: tuple[Obligation, ...] = ()
    sent: dict[str, str] = Field(default_factory=dict)  # entry id -> fingerprint of last verdict
    # Entry id -> deadline of each obligation met or fired, for CLOSED_RETENTION: one sent again
    # (at least once: a worker killed before its commit) is recognised, even after its visits
    # were pruned (tests/unit/test_rules_scenarios.py, an obligation sent again).
    closed: dict[str, datetime] = Field(default_factory=dict)
    swept: datetime | None = None  # the watermark of the last on_due: deadlines up to it are done


@dataclass
class PersonOutput:
    state: PersonState
    verdicts: list[PersonVerdict] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    resent: bool = False  # a replay: what the state says was sent, sent again


def on_check(
    state: PersonState,
    check: PersonCheck,
    rules: RuleSet,
    watermark: datetime,
    lagging: frozenset[str],
) -> PersonOutput:
    checks = tuple(c for c in state.checks if c.entry_id != check.entry_id) + (check,)
    state = state.model_copy(update={"checks": checks})
    sent = dict(state.sent)
    sent.pop(check.entry_id, None)  # a repeated check (redelivery) is answered again
    return _rejudge(state.model_copy(update={"sent": sent}), rules, watermark, lagging, [])


def on_evidence(
    state: PersonState,
    person: str,
    evidence: Evidence,
    rules: RuleSet,
    watermark: datetime,
    lagging: frozenset[str],
    park: str,
) -> PersonOutput:
    """New evidence re-judges the open checks; evidence read again (a replay) sends again what
    it sent, as the state says: its positive alert and every open check's verdict (as last sent,
    unless it changed since). Downstream all of it is idempotent."""
    known = next((e for e in state.evidence if e.ref.event_id == evidence.ref.event_id), None)
    if known is None:
        state = state.model_copy(update={"evidence": (*state.evidence, evidence)})
    else:
        evidence = known
        state = state.model_copy(update={"sent": {}})  # every verdict goes out again
    alerts = []
    if evidence.result == "positive":
        alerts.append(_positive_alert(state, person, evidence, park, rules))
    out = _rejudge(state, rules, watermark, lagging, alerts)
    out.resent = known is not None
    return out


def on_obligation(state: PersonState, obligation: Obligation) -> PersonState:
    if obligation.entry_id in state.closed or any(
        o.entry_id == obligation.entry_id for o in state.obligations
    ):
        return state  # sent again: changes nothing
    state = state.model_copy(update={"obligations": (*state.obligations, obligation)})
    for visit in sorted(state.visits, key=lambda v: v.time):  # visits read before it
        state = _serve(state, visit)
    return state


def on_visit(state: PersonState, visit: Visit) -> PersonState:
    if any(v.event_id == visit.event_id for v in state.visits):
        return state
    return _serve(state.model_copy(update={"visits": (*state.visits, visit)}), visit)


def _serve(state: PersonState, visit: Visit) -> PersonState:
    """A visit serves the obligation of the entry it names (an extra visit for an obligation
    already met serves nothing); a visit naming no entry serves the oldest open one."""
    open_ones = [
        o for o in state.obligations
        if o.entry_time <= visit.time <= o.due and visit.event_id not in o.visits
    ]  # fmt: skip
    if visit.entry_id is not None:
        target = next((o for o in open_ones if o.entry_id == visit.entry_id), None)
    else:
        target = min(open_ones, key=lambda o: o.entry_time, default=None)
    if target is None:
        return state
    updated = target.model_copy(update={"visits": (*target.visits, visit.event_id)})
    if len(updated.visits) >= target.required:  # met
        return state.model_copy(
            update={
                "obligations": tuple(o for o in state.obligations if o is not target),
                "closed": {**state.closed, target.entry_id: target.due},
            }
        )
    kept = tuple(updated if o is target else o for o in state.obligations)
    return state.model_copy(update={"obligations": kept})


def on_due(
    state: PersonState, rules: RuleSet, watermark: datetime, lagging: frozenset[str]
) -> PersonOutput:
    """Fire what the watermark has passed: lapsed antigen grace periods, overdue visits."""
    alerts = []
    kept = []
    closed = {k: due for k, due in state.closed.items() if due > watermark - CLOSED_RETENTION}
    for obligation in state.obligations:
        if obligation.due <= watermark:
            alerts.append(_overdue_alert(obligation, rules))
            closed[obligation.entry_id] = obligation.due
        else:
            kept.append(obligation)
    horizon = watermark - CHECK_RETENTION
    state = state.model_copy(
        update={
            "swept": watermark,
            "obligations": tuple(kept),
            "closed": closed,
            "checks": tuple(c for c in state.checks if c.entry_time >= horizon),
            "evidence": tuple(
                e for e in state.evidence if e.time >= watermark - EVIDENCE_RETENTION
            ),
            "visits": tuple(v for v in state.visits if v.time >= watermark - VISIT_RETENTION),
            "sent": {
                k: v for k, v in state.sent.items()
                if any(c.entry_id == k for c in state.checks if c.entry_time >= horizon)
            },
        }
    )  # fmt: skip
    return _rejudge(state, rules, watermark, lagging, alerts)


def next_due(state: PersonState, rules: RuleSet) -> datetime | None:
    """The earliest event time at which :func:`on_due` has something to do."""
    antigen = rules.one("antigen_negative")
    grace = antigen.grace if antigen and antigen.grace else timedelta(0)
    times = [c.entry_time + grace for c in state.checks if c.hazmat]
    times += [c.entry_time + CHECK_RETENTION for c in state.checks]
    times += [min(state.closed.values()) + CLOSED_RETENTION] if state.closed else []
    # An obligation leaves the state when it fires, so it is due even if the watermark had
    # passed its deadline before it arrived (its entry was decided late): it fires then.
    return min(
        [o.due for o in state.obligations]
        + [t for t in times if state.swept is None or t > state.swept],
        default=None,
    )


def judge(
    check: PersonCheck,
    evidence: tuple[Evidence, ...],
    rules: RuleSet,
    watermark: datetime,
    lagging: frozenset[str],
) -> tuple[RuleResult, ...]:
    """This occupant's results for this entry, as of the entry's event time."""
    results = []
    for rule in rules.rules:
        if not _applies(rule, check):
            continue
        judged = _JUDGES.get(rule.evidence)
        if judged is not None:
            results.append(judged(rule, check, evidence, rules, watermark, lagging))
    return tuple(results)


def _applies(rule: Rule, check: PersonCheck) -> bool:
    if rule.subjects == "all_occupants":
        return True
    if rule.subjects == "hazmat_crew":
        return check.hazmat and check.role in ("driver", "escort")
    if rule.subjects == "out_of_area_drivers":
        return check.out_of_area and check.role == "driver"
    return False


def _result(
    rule: Rule,
    check: PersonCheck,
    status: Literal["pass", "fail", "pending"],
    reason: str,
    evidence: list[EvidenceRef] | tuple[EvidenceRef, ...] = (),
    outcome: Outcome | None = None,
) -> RuleResult:
    if outcome is None:
        asked: dict[str, Outcome] = {"pass": "release", "pending": "hold", "fail": rule.on_failure}
        outcome = asked[status]
    return RuleResult(
        rule=rule.id,
        subject=check.person,
        status=status,
        outcome=outcome,
        reason=reason,
        evidence=tuple(evidence),
    )


def _nat(
    rule: Rule, check: PersonCheck, evidence: tuple[Evidence, ...], rules: RuleSet,
    watermark: datetime, lagging: frozenset[str],
) -> RuleResult:  # fmt: skip
    window = rule.window or timedelta(hours=48)
    earliest = check.entry_time - window
    presented = check.nat_sample_time
    if presented and check.nat_result == "negative" and earliest <= presented <= check.entry_time:
        return _result(rule, check, "pass", "negative NAT presented", [check.entry_ref])
    reports = [
        e for e in evidence
        if e.kind == "nat" and e.result == "negative" and earliest <= e.time <= check.entry_time
    ]  # fmt: skip
    if reports:
        return _result(rule, check, "pass", "negative NAT reported by a lab", [reports[-1].ref])
    hours = int(window.total_seconds() // 3600)
    if rule.remedy == "antigen_negative":
        negative = _antigens(check, evidence, rules, "negative")
        if negative:
            reason = f"no negative NAT within {hours} h; released on a negative on-site antigen"
            return _result(
                rule, check, "fail", reason + ": follow the NAT", [negative[-1].ref], "release"
            )
    if "nat" in lagging:
        return _result(rule, check, "pending", "pending: the NAT evidence stream is lagging")
    reason = f"no negative NAT sampled within {hours} h before entry"
    return _result(rule, check, "fail", reason, [check.entry_ref])  # what was presented


def _antigens(
    check: PersonCheck, evidence: tuple[Evidence, ...], rules: RuleSet, result: str
) -> list[Evidence]:
    rule = rules.one("antigen_negative")
    window = rule.window if rule and rule.window else CROSSING
    return [
        e for e in evidence
        if e.kind == "antigen" and e.result == result
        and check.entry_time - window <= e.time <= check.entry_time + window
    ]  # fmt: skip


def _antigen(
    rule: Rule, check: PersonCheck, evidence: tuple[Evidence, ...], rules: RuleSet,
    watermark: datetime, lagging: frozenset[str],
) -> RuleResult:  # fmt: skip
    positive = _antigens(check, evidence, rules, "positive")
    if positive:
        return _result(rule, check, "fail", "positive on-site antigen", [positive[-1].ref], "deny")
    negative = _antigens(check, evidence, rules, "negative")
    if negative:
        return _result(rule, check, "pass", "negative on-site antigen", [negative[-1].ref])
    grace = rule.grace or timedelta(0)
    if watermark < check.entry_time + grace:
        return _result(rule, check, "pending", "pending: on-site antigen result not in yet")
    if "antigen" in lagging:
        return _result(rule, check, "pending", "pending: the antigen evidence stream is lagging")
    minutes = int(grace.total_seconds() // 60)
    return _result(rule, check, "fail", f"no on-site antigen result within {minutes} min")


def _code(
    rule: Rule, check: PersonCheck, evidence: tuple[Evidence, ...], rules: RuleSet,
    watermark: datetime, lagging: frozenset[str],
) -> RuleResult:  # fmt: skip
    if check.code_colour == "green":
        return _result(rule, check, "pass", "green health code", [check.entry_ref])
    if check.code_colour == "red":
        return _result(rule, check, "fail", "red health code", [check.entry_ref], "deny")
    return _result(rule, check, "fail", "yellow health code", [check.entry_ref])


def _roster(
    rule: Rule, check: PersonCheck, evidence: tuple[Evidence, ...], rules: RuleSet,
    watermark: datetime, lagging: frozenset[str],
) -> RuleResult:  # fmt: skip
    if check.on_roster:
        return _result(rule, check, "pass", "on a roster or appointment", [check.entry_ref])
    return _result(rule, check, "fail", "on no roster and no appointment", [check.entry_ref])


def _no_positive(
    rule: Rule, check: PersonCheck, evidence: tuple[Evidence, ...], rules: RuleSet,
    watermark: datetime, lagging: frozenset[str],
) -> RuleResult:  # fmt: skip
    earliest = check.entry_time - (rule.window or timedelta(days=14))
    if check.nat_result == "positive":
        return _result(rule, check, "fail", "presented a positive NAT", [check.entry_ref])
    positives = [e for e in evidence if e.result == "positive" and e.time >= earliest]
    if positives:
        first = min(positives, key=lambda e: e.time)
        when = "before" if first.time <= check.entry_time else "after"
        reason = f"positive {first.kind} {when} the entry"
        return _result(rule, check, "fail", reason, [p.ref for p in positives])
    return _result(rule, check, "pass", "no positive result on record")


_JUDGES = {
    "nat_negative": _nat,
    "antigen_negative": _antigen,
    "code_colour": _code,
    "roster": _roster,
    "no_positive": _no_positive,
}


def _rejudge(
    state: PersonState,
    rules: RuleSet,
    watermark: datetime,
    lagging: frozenset[str],
    alerts: list[Alert],
) -> PersonOutput:
    """Judge every open check; send the verdicts that changed since last sent."""
    verdicts = []
    sent = dict(state.sent)
    for check in state.checks:
        results = judge(check, state.evidence, rules, watermark, lagging)
        fingerprint = _fingerprint(results, rules.version)
        if sent.get(check.entry_id) == fingerprint:
            continue
        sent[check.entry_id] = fingerprint
        verdicts.append(
            PersonVerdict(
                entry_id=check.entry_id,
                plate=check.plate,
                person=check.person,
                role=check.role,
                results=results,
                ruleset_version=rules.version,
            )
        )
    return PersonOutput(state.model_copy(update={"sent": sent}), verdicts, alerts)


def _fingerprint(results: tuple[RuleResult, ...], version: str) -> str:
    text = version + "|" + "|".join(f"{r.rule}:{r.status}:{r.outcome}:{r.reason}" for r in results)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _positive_alert(
    state: PersonState, person: str, evidence: Evidence, park: str, rules: RuleSet
) -> Alert:
    rule = rules.one("no_positive")
    window = rule.window if rule and rule.window else timedelta(days=14)
    entries = sorted({c.entry_id for c in state.checks if c.entry_time >= evidence.time - window})
    trace = f"; trace co-occupants and same-gate contacts of entries {', '.join(entries)}"
    return Alert(
        event_id=f"positive:{evidence.ref.event_id}",
        event_time=evidence.time,
        severity="critical",
        rule=rule.id if rule else "no_positive",
        subject=person,
        dedup_key=f"positive:{evidence.ref.event_id}",
        park=park,
        message=f"positive {evidence.kind} result" + (trace if entries else ""),
    )


def _overdue_alert(obligation: Obligation, rules: RuleSet) -> Alert:
    rule = rules.one("visits")
    key = f"visits-overdue:{obligation.entry_id}:{obligation.person}"
    return Alert(
        event_id=key,
        event_time=obligation.due,
        severity=rule.severity if rule else "warning",
        rule=rule.id if rule else "health_visits",
        subject=obligation.person,
        dedup_key=key,
        park=obligation.park,
        entry_id=obligation.entry_id,
        enterprise=obligation.enterprise,
        message=(
            f"enterprise {obligation.enterprise}: {len(obligation.visits)} of "
            f"{obligation.required} health visits made by the deadline"
        ),
    )

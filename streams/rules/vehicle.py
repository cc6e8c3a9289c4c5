"""Stage 3, per vehicle (key: plate): entries, the occupants' verdicts, decisions, exits.

Pure, like the person stage. An entry fans out one check per occupant; once every occupant's
verdict is in, the vehicle's rules and the verdicts make a decision (the worst outcome wins, and it
is every occupant's: one failing occupant taints the vehicle). A changed verdict makes a new
revision that supersedes the last one.

An input that changes nothing is a replay, and sends again what the plate's state says was sent
(:func:`resend`): after a crash, an input's new state may have reached the changelog while
what it sent did not, and the input is read again (docs/rules.md, "At least once").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import Field

from schemas import (
    Alert,
    Decision,
    EvidenceRef,
    Occupant,
    OccupantOutcome,
    RuleResult,
    VehicleEntry,
    VehicleExit,
    worst,
)
from schemas._base import Frozen
from schemas.decision import Outcome, Status
from schemas.entry import CodeColour
from streams.rules.person import Obligation, PersonCheck, PersonVerdict
from streams.rules.ruleset import Rule, RuleSet, Severity

ENTRY_RETENTION = timedelta(days=2)
# A forgotten entry's id is kept this long, so that a replay of it (a producer sending the same
# output again, a rewound consumer) changes nothing. Longer than the canonical topics' 30 days.
FORGET_AFTER = timedelta(days=60)

STOPPED = ("hold", "deny")  # the outcomes a later entry's evasion rule looks for

RiskHistory = tuple[tuple[datetime, CodeColour], ...]
"""A region's colour changes, (from when, colour), in time order."""


class EntryState(Frozen):
    entry: VehicleEntry
    ref: EvidenceRef
    vehicle_results: tuple[RuleResult, ...]
    verdicts: dict[str, PersonVerdict] = Field(default_factory=dict)
    revision: int = -1
    fingerprint: str = ""
    outcome: Outcome | None = None
    released: bool = False
    exited: datetime | None = None
    alerts: tuple[Alert, ...] = ()  # raised for this entry, kept whole to be sent again
    obligation_sent: bool = False

    def alerted(self, key: str) -> bool:
        return any(a.dedup_key == key for a in self.alerts)


class Stop(Frozen):
    """A held or denied entry, as the evasion rule sees it. Kept in the state after its entry
    is forgotten, while a later entry may cite it: judged again as if that stop never was, the
    later entry's evasion would pass, and a truck stopped two days ago be released."""

    entry_id: str
    gate: str
    time: datetime
    outcome: Outcome
    ref: EvidenceRef


class VehicleState(Frozen):
    entries: tuple[EntryState, ...] = ()
    stops: tuple[Stop, ...] = ()  # forgotten stops a kept entry's evasion may cite
    exits: tuple[VehicleExit, ...] = ()  # exits read before their entry, applied when it comes
    forgotten: dict[str, datetime] = Field(default_factory=dict)  # entry id -> entry time
    # The position of the last verdict read (the plate's verdicts come in order, on one
    # partition): a verdict at or before it is read again, and an older one must not replace
    # the newer (a replayed verdict once flipped a denial to a hold and back).
    verdict_offset: int = -1


@dataclass
class VehicleOutput:
    state: VehicleState
    checks: list[PersonCheck] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    obligations: list[Obligation] = field(default_factory=list)
    resent: bool = False  # a replay: what the state says was sent, sent again


def on_entry(
    state: VehicleState, entry: VehicleEntry, ref: EvidenceRef, rules: RuleSet, risk: RiskHistory
) -> VehicleOutput:
    if entry.event_id in state.forgotten:
        return VehicleOutput(state)  # decided and forgotten long ago: a replay changes nothing
    before = state
    known = next((e for e in state.entries if e.entry.event_id == entry.event_id), None)
    alerts: list[Alert] = []
    if known is None:
        known = EntryState(
            entry=entry, ref=ref, vehicle_results=vehicle_results(entry, ref, rules, risk)
        )
        state = state.model_copy(update={"entries": (*state.entries, known)})
        for early in [x for x in state.exits if x.entry_id == entry.event_id]:
            state = state.model_copy(
                update={"exits": tuple(x for x in state.exits if x is not early)}
            )
            closed = _exit(state, early, rules)
            state, alerts = closed.state, closed.alerts
    out = _decide_all(state, rules)
    out.alerts = alerts + out.alerts
    if out.state == before and not (out.decisions or out.obligations or out.alerts):
        out = resend(before, rules, entry.event_time)  # a replay: what it sent, again
    # Checks go out again for a repeated entry: the person stage answers them idempotently.
    out.checks = [_check(entry, ref, o, rules) for o in entry.occupants]
    return out


def on_verdict(
    state: VehicleState, verdict: PersonVerdict, offset: int, rules: RuleSet
) -> VehicleOutput:
    """``offset``: the verdict's position in its partition."""
    if offset <= state.verdict_offset:
        return resend(state, rules, _time_of(state, verdict.entry_id))
    entries = []
    for known in state.entries:
        if known.entry.event_id == verdict.entry_id:
            verdicts = {**known.verdicts, verdict.person: verdict}
            known = known.model_copy(update={"verdicts": verdicts})
        entries.append(known)
    update = {"entries": tuple(entries), "verdict_offset": offset}
    return _decide_all(state.model_copy(update=update), rules)


def on_exit(state: VehicleState, exit_: VehicleExit, rules: RuleSet) -> VehicleOutput:
    if exit_.entry_id in state.forgotten:
        return VehicleOutput(state)  # its entry is long gone: a replay, long sent
    closed = [
        e for e in state.entries
        if e.exited is not None and exit_.entry_id in (e.entry.event_id, None)
        and (exit_.entry_id is not None or e.exited == exit_.event_time)
    ]  # fmt: skip
    if closed:  # its entry has exited: a replay
        return resend(state, rules, min(e.entry.event_time for e in closed))
    return _exit(state, exit_, rules)


def resend(state: VehicleState, rules: RuleSet, since: datetime | None) -> VehicleOutput:
    """What the plate's state says was sent for its entries at or after ``since`` (those an
    input about an entry at ``since`` can have changed; None: none), to send again: each one's
    current decision (as sent, unless the rules changed since: then the replayed input has made
    a new revision), its visit obligation, its alerts. Downstream all of it is idempotent."""
    out = VehicleOutput(state, resent=True)
    for known in state.entries:
        if since is None or known.entry.event_time < since:
            continue
        judged = _judged(known, state, rules)
        if known.revision >= 0 and judged is not None and judged[2] == known.fingerprint:
            results, outcome, _ = judged
            out.decisions.append(_decision(known, results, outcome, known.revision, rules))
        if known.obligation_sent:
            _obligation(known, rules, out)
        out.alerts += known.alerts
    return out


def _time_of(state: VehicleState, entry_id: str) -> datetime | None:
    return next((e.entry.event_time for e in state.entries if e.entry.event_id == entry_id), None)


def _exit(state: VehicleState, exit_: VehicleExit, rules: RuleSet) -> VehicleOutput:
    inside = [
        e for e in state.entries if e.exited is None and e.entry.event_time <= exit_.event_time
    ]
    target = next((e for e in inside if e.entry.event_id == exit_.entry_id), None)
    if target is None and inside and exit_.entry_id is None:
        target = max(inside, key=lambda e: e.entry.event_time)
    if target is None:  # its entry is not read yet: keep the exit for it
        if exit_.entry_id is not None and all(x.event_id != exit_.event_id for x in state.exits):
            state = state.model_copy(update={"exits": (*state.exits, exit_)})
        return VehicleOutput(state)
    alerts = []
    closed = target.model_copy(update={"exited": exit_.event_time})
    rule = rules.one("exit_in_time")
    if rule and rule.window and _vehicle_subject(rule, target.entry, rules):
        dwell = exit_.event_time - target.entry.event_time
        if dwell > rule.window:
            message = f"inside for {_hours(dwell)}, over the {_hours(rule.window)} cap"
            closed, alert = _raise(
                closed, rule, f"dwell:{target.entry.event_id}", message, exit_.event_time
            )
            alerts += alert
    entries = tuple(closed if e is target else e for e in state.entries)
    return VehicleOutput(state.model_copy(update={"entries": entries}), alerts=alerts)


def on_due(state: VehicleState, rules: RuleSet, watermark: datetime) -> VehicleOutput:
    """Dwell caps passed without an exit; forget entries older than the retention."""
    rule = rules.one("exit_in_time")
    alerts: list[Alert] = []
    entries = []
    forgotten = {k: t for k, t in state.forgotten.items() if t > watermark - FORGET_AFTER}
    stops = list(state.stops)
    for known in state.entries:
        if known.entry.event_time <= watermark - ENTRY_RETENTION and known.revision >= 0:
            # An entry still waiting for verdicts is kept, however far the watermark is.
            forgotten[known.entry.event_id] = known.entry.event_time
            if known.outcome in STOPPED:
                stops.append(_stop(known))
            continue
        if (
            rule and rule.window and known.exited is None
            and _vehicle_subject(rule, known.entry, rules)
            and known.entry.event_time + rule.window <= watermark
        ):  # fmt: skip
            known, alert = _raise(known, rule, f"dwell:{known.entry.event_id}",
                                  f"no exit {_hours(rule.window)} after entry",
                                  known.entry.event_time + rule.window)  # fmt: skip
            alerts += alert
        entries.append(known)
    exits = tuple(x for x in state.exits if x.event_time > watermark - ENTRY_RETENTION)
    evasion = rules.one("other_gate")
    window = evasion.window if evasion and evasion.window else timedelta(0)
    cited = tuple(
        s for s in stops if any(s.time <= e.entry.event_time <= s.time + window for e in entries)
    )
    return VehicleOutput(
        state.model_copy(
            update={
                "entries": tuple(entries),
                "exits": exits,
                "forgotten": forgotten,
                "stops": cited,
            }
        ),
        alerts=alerts,
    )


def next_due(state: VehicleState, rules: RuleSet) -> datetime | None:
    rule = rules.one("exit_in_time")
    times = [e.entry.event_time + ENTRY_RETENTION for e in state.entries if e.revision >= 0]
    times += [x.event_time + ENTRY_RETENTION for x in state.exits]
    times += [min(state.forgotten.values()) + FORGET_AFTER] if state.forgotten else []
    if rule and rule.window:
        times += [
            e.entry.event_time + rule.window
            for e in state.entries
            if e.exited is None and not e.alerted(f"dwell:{e.entry.event_id}")
            and _vehicle_subject(rule, e.entry, rules)
        ]  # fmt: skip
    return min(times, default=None)


def vehicle_results(
    entry: VehicleEntry, ref: EvidenceRef, rules: RuleSet, risk: RiskHistory
) -> tuple[RuleResult, ...]:
    """The vehicle's own rules, judged from the entry (and the origin's risk history)."""
    results = []
    for rule in rules.rules:
        check = _VEHICLE_CHECKS.get(rule.evidence)
        if check is None or not _vehicle_subject(rule, entry, rules):
            continue
        status, reason, outcome = check(rule, entry, risk)
        if outcome is None:
            outcome = "release" if status == "pass" else rule.on_failure
        results.append(
            RuleResult(rule=rule.id, status=status, outcome=outcome, reason=reason, evidence=(ref,))
        )
    return tuple(results)


def _vehicle_subject(rule: Rule, entry: VehicleEntry, rules: RuleSet) -> bool:
    if rule.subjects == "vehicle":
        return True
    if rule.subjects == "hazmat_vehicles":
        return entry.hazmat
    if rule.subjects == "out_of_area_vehicles":
        return not rules.is_local(entry.origin_region)
    return False


Judged = tuple[Status, str, Outcome | None]


def _present(ok: bool, what: str) -> Judged:
    return ("pass", f"{what} present", None) if ok else ("fail", f"no {what}", None)


def _risk(rule: Rule, entry: VehicleEntry, risk: RiskHistory) -> Judged:
    start = entry.event_time - (rule.window or timedelta(days=14))
    before = [c for t, c in risk if t <= start]
    colours = ([before[-1]] if before else []) + [
        c for t, c in risk if start < t <= entry.event_time
    ]
    days = (rule.window or timedelta(days=14)).days
    if "red" in colours:
        return "fail", f"origin {entry.origin_region} was red within {days} days", "deny"
    if "yellow" in colours:
        return "fail", f"origin {entry.origin_region} was yellow within {days} days", None
    return "pass", "origin not red or yellow", None


def _gate(rule: Rule, entry: VehicleEntry, risk: RiskHistory) -> Judged:
    if entry.gate_class == "hazmat":
        return "pass", "hazmat gate", None
    return "fail", f"hazmat truck at general gate {entry.gate}", None


def _escort(rule: Rule, entry: VehicleEntry, risk: RiskHistory) -> Judged:
    return _present(any(o.role == "escort" for o in entry.occupants), "escort on board")


def _waybill(rule: Rule, entry: VehicleEntry, risk: RiskHistory) -> Judged:
    ok = bool(entry.waybill_id and entry.cargo and entry.consignee)
    return _present(ok, "waybill with UN number and consignee")


_VEHICLE_CHECKS = {
    "origin_risk": _risk,
    "pass_present": lambda rule, entry, risk: _present(bool(entry.pass_id), "pass"),
    "appointment_present": lambda rule, entry, risk: _present(
        bool(entry.appointment_id), "appointment"
    ),
    "hazmat_gate": _gate,
    "escort_present": _escort,
    "waybill_present": _waybill,
}


def _check(
    entry: VehicleEntry, ref: EvidenceRef, occupant: Occupant, rules: RuleSet
) -> PersonCheck:
    return PersonCheck(
        entry_id=entry.event_id,
        plate=entry.plate,
        park=entry.park,
        gate=entry.gate,
        entry_time=entry.event_time,
        person=occupant.person,
        role=occupant.role,
        hazmat=entry.hazmat,
        out_of_area=not rules.is_local(entry.origin_region),
        nat_sample_time=occupant.nat_sample_time,
        nat_result=occupant.nat_result,
        code_colour=occupant.code_colour,
        on_roster=occupant.on_roster,
        entry_ref=ref,
    )


def _decide_all(state: VehicleState, rules: RuleSet) -> VehicleOutput:
    """(Re)decide every entry of this plate whose inputs are complete. Evasion links entries,
    so a change in one can change another."""
    out = VehicleOutput(state)
    for _ in range(3):  # evasion can ripple once from one entry to another; then it is stable
        changed = False
        entries = []
        for known in out.state.entries:
            updated = _decide(known, out, rules)
            changed |= updated is not known
            entries.append(updated)
        out.state = out.state.model_copy(update={"entries": tuple(entries)})
        if not changed:
            break
    return out


def _decide(known: EntryState, out: VehicleOutput, rules: RuleSet) -> EntryState:
    judged = _judged(known, out.state, rules)
    if judged is None or judged[2] == known.fingerprint:
        return known
    results, outcome, fingerprint = judged
    revision = known.revision + 1
    out.decisions.append(_decision(known, results, outcome, revision, rules))
    known = known.model_copy(
        update={
            "revision": revision,
            "fingerprint": fingerprint,
            "outcome": outcome,
            "released": known.released or outcome == "release",
        }
    )
    known = _alerts_for(known, results, rules, out)
    if outcome == "release" and not known.obligation_sent:
        known = _obligation(known, rules, out)
    return known


def _judged(
    known: EntryState, state: VehicleState, rules: RuleSet
) -> tuple[list[RuleResult], Outcome, str] | None:
    """The entry's results, outcome and their fingerprint; None while verdicts are missing."""
    entry = known.entry
    if any(o.person not in known.verdicts for o in entry.occupants):
        return None
    results = list(known.vehicle_results)
    evasion = _evasion(known, state, rules)
    if evasion is not None:
        results.append(evasion)
    for occupant in entry.occupants:
        results.extend(known.verdicts[occupant.person].results)
    outcome = worst([r.outcome for r in results])
    text = (
        rules.version
        + "|"
        + "|".join(f"{r.rule}:{r.subject}:{r.status}:{r.outcome}:{r.reason}" for r in results)
    )
    return results, outcome, hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _decision(
    known: EntryState, results: list[RuleResult], outcome: Outcome, revision: int, rules: RuleSet
) -> Decision:
    entry = known.entry
    occupants = tuple(
        OccupantOutcome(
            person=o.person,
            role=o.role,
            outcome=outcome,
            own_outcome=worst([r.outcome for r in known.verdicts[o.person].results]),
        )
        for o in entry.occupants
    )
    return Decision(
        event_id=f"{entry.event_id}:{revision}",
        event_time=entry.event_time,
        entry_id=entry.event_id,
        revision=revision,
        supersedes=f"{entry.event_id}:{revision - 1}" if revision else None,
        park=entry.park,
        gate=entry.gate,
        plate=entry.plate,
        outcome=outcome,
        rules=tuple(results),
        occupants=occupants,
        ruleset_version=rules.version,
    )


def _evasion(known: EntryState, state: VehicleState, rules: RuleSet) -> RuleResult | None:
    rule = rules.one("other_gate")
    if rule is None or rule.window is None:
        return None
    entry = known.entry
    stopped = [
        _stop(e)
        for e in state.entries
        if e.entry.gate != entry.gate and e.outcome in STOPPED
        and e.entry.event_id != entry.event_id
        and e.entry.event_time <= entry.event_time <= e.entry.event_time + rule.window
    ] + [
        s for s in state.stops
        if s.gate != entry.gate and s.time <= entry.event_time <= s.time + rule.window
    ]  # fmt: skip
    if not stopped:
        return RuleResult(
            rule=rule.id,
            status="pass",
            outcome="release",
            reason="not stopped at another gate recently",
            evidence=(known.ref,),
        )
    first = min(stopped, key=lambda s: s.time)
    return RuleResult(
        rule=rule.id,
        status="fail",
        outcome=rule.on_failure,
        reason=f"{first.outcome} at gate {first.gate} at {first.time:%H:%M}, "
        f"now at gate {entry.gate}",
        evidence=(first.ref, known.ref),
    )


def _stop(known: EntryState) -> Stop:
    assert known.outcome is not None
    entry = known.entry
    return Stop(entry_id=entry.event_id, gate=entry.gate, time=entry.event_time,
                outcome=known.outcome, ref=known.ref)  # fmt: skip


def _alerts_for(
    known: EntryState, results: list[RuleResult], rules: RuleSet, out: VehicleOutput
) -> EntryState:
    by_id = {r.id: r for r in rules.rules}
    entry = known.entry
    for result in results:
        rule = by_id.get(result.rule)
        if rule is None or result.status != "fail":
            continue
        if rule.evidence == "no_positive":
            # The positive itself was paged by the person stage; page again only when the
            # vehicle had been released: a retroactive alert.
            if known.released:
                known, alert = _raise(
                    known, rule, f"late-positive:{entry.event_id}:{result.subject}",
                    f"released entry {entry.event_id}: an occupant has since tested positive",
                    entry.event_time, severity="critical", subject=result.subject,
                )  # fmt: skip
                out.alerts += alert
            continue
        if not rule.alert:
            continue
        subject = result.subject or entry.plate
        known, alert = _raise(
            known, rule, f"{rule.id}:{entry.event_id}:{subject}", result.reason,
            entry.event_time, subject=subject,
        )  # fmt: skip
        out.alerts += alert
    return known


def _raise(
    known: EntryState,
    rule: Rule,
    key: str,
    message: str,
    at: datetime,
    severity: Severity | None = None,
    subject: str | None = None,
) -> tuple[EntryState, list[Alert]]:
    if known.alerted(key):
        return known, []
    entry = known.entry
    alert = Alert(
        event_id=key,
        event_time=at,
        severity=severity or rule.severity,
        rule=rule.id,
        subject=subject or entry.plate,
        dedup_key=key,
        park=entry.park,
        gate=entry.gate,
        entry_id=entry.event_id,
        message=message,
    )
    return known.model_copy(update={"alerts": (*known.alerts, alert)}), [alert]


def _obligation(known: EntryState, rules: RuleSet, out: VehicleOutput) -> EntryState:
    rule = rules.one("visits")
    entry = known.entry
    if rule is None or rule.window is None or rules.is_local(entry.origin_region):
        return known
    driver = next(o for o in entry.occupants if o.role == "driver")
    out.obligations.append(
        Obligation(
            entry_id=entry.event_id,
            person=driver.person,
            park=entry.park,
            enterprise=entry.consignee or "unknown",
            entry_time=entry.event_time,
            due=entry.event_time + rule.window,
            required=rule.minimum,
        )
    )
    return known.model_copy(update={"obligation_sent": True})


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"

"""Judging a park's entries, pure: every rule of the set for the vehicle and each occupant, the
outcome (an officer's resolution over it, within the hard limits), a new revision when the
results changed; the alerts a decision raises and closes, the health-visit obligation a first
release starts, and the stops other gates and parks are told of.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from schemas import Alert, worst
from schemas.decision import Outcome, ResolutionRef
from schemas.notice import StopNotice
from streams.engine.keeping import Keeping
from streams.engine.outputs import Decided, ObligationMade, new_alert, wire_ref
from streams.engine.tracked import EPOCH, Entity, Tracked, Visit
from streams.rules.kinds import KINDS, Evidence, Judging, Result, Stop, dwell, gate_wait, visits
from streams.rules.kinds.base import Severity, occupant_applies, subject_applies
from streams.rules.ruleset import Rule, RuleSet
from streams.words import rule_words, say


class Judge(Keeping):
    if TYPE_CHECKING:  # the clock (streams/engine/clock.py)

        def _schedule(self, tracked: Tracked) -> None: ...

    def _judge(self, tracked: Tracked, people: Iterable[str] = (), vehicle: bool = False) -> None:
        """Judge the entry again: its vehicle's rules if ``vehicle``, the rules of the occupants
        in ``people``; the other results are those it had (everything, the first time, or when
        the rule set changed). A new revision when the results changed."""
        rules = self.rules
        entry = tracked.entry
        judging = self._judging(tracked)
        full = tracked.judged_with != rules.content_hash
        if full:
            tracked.judged_with = rules.content_hash
            tracked.by_person = {}
        if full or vehicle:
            tracked.vehicle_results = tuple(
                KINDS[rule.evidence].judge(rule, judging)  # type: ignore[call-arg, misc]
                for rule in rules.vehicle_rules
                if KINDS[rule.evidence].judge is not None
                and subject_applies(rule, entry, judging.out_of_area)
            )
        for occupant in entry.occupants:
            if full or occupant.person in people:
                tracked.by_person[occupant.person] = tuple(
                    KINDS[rule.evidence].judge(rule, judging, occupant)  # type: ignore[call-arg, misc]
                    for rule in rules.person_rules
                    if KINDS[rule.evidence].judge is not None
                    and occupant_applies(rule, entry, occupant, judging.out_of_area)
                )
        results = list(tracked.vehicle_results)
        for occupant in entry.occupants:
            results += tracked.by_person[occupant.person]
        outcome = worst([r.outcome for r in results])
        if tracked.resolution is not None:
            outcome, officer = self._resolved(tracked.resolution, results)
            results.append(officer)
        keys = tuple(r.key for r in results)
        if keys == tracked.keys:
            return
        tracked.keys = keys
        tracked.waiting = any(key[2] == "pending" for key in keys)
        text = "|".join([rules.version, *("\x1f".join(key) for key in keys)])
        fingerprint = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        if fingerprint == tracked.fingerprint:
            return  # the same as before a restore
        was_stop = tracked.outcome in ("hold", "deny")
        tracked.revision += 1
        tracked.fingerprint = fingerprint
        tracked.outcome = outcome
        tracked.not_passed = tuple(r.rule for r in results if r.status != "pass" and r.reason)
        first_release = outcome == "release" and not tracked.released
        tracked.released |= outcome == "release"
        self._mark(tracked)
        self._out.decisions.append(
            Decided(
                entry,
                tuple(results),
                outcome,
                tracked.revision,
                rules.version,
                rules.content_hash,
                tracked.resolution,
            )
        )
        self._alerts_for(tracked, results)
        if first_release:
            self._start_obligation(tracked, judging.out_of_area)
            if tracked.exited is not None and (rule := rules.clock_rule("exit_in_time")):
                self._dwell_at_exit(rule, tracked, tracked.exited)  # its exit was read first
        waiting = tracked.alerts.get(gate_wait.key(entry.event_id))
        if outcome != "hold" and waiting is not None and waiting.resolved_at is None:
            self._close(tracked, waiting, self._learnt)  # the hold ended
        self._schedule(tracked)
        if was_stop != (outcome in ("hold", "deny")):
            self._stop_changed(tracked)

    def _judging(self, tracked: Tracked) -> Judging:
        plate = tracked.entry.plate
        known: dict[str, list[Evidence]] = {}

        def stops() -> list[Stop]:
            here = [self._stop(self.entries[i]) for i in self.by_plate.get(plate, ())]
            return [s for s in here if s is not None] + self.shared.stops_of(plate, self.name)

        def evidence(person: str) -> list[Evidence]:
            found = known.get(person)
            if found is None:
                found = known[person] = self.evidence_of(person)
            return found

        return Judging(
            entry=tracked.entry,
            ref=tracked.ref,
            rules=self.rules,
            anchor=tracked.anchor,
            watermark=self.watermark,
            antigen_clock=max(self.antigen_clock, self.watermark)
            if self.complete_feed
            else self.antigen_clock,
            lagging=self.shared.lagging,
            evidence=evidence,
            stops=stops,
            risk=self.shared.risk_of(tracked.entry.origin_region),
            out_of_area=tracked.out_of_area(self.rules),
        )

    def _resolved(self, resolution: ResolutionRef, results: list[Result]) -> tuple[Outcome, Result]:
        """The outcome an officer's resolution gives, and its line in the decision. Hard limits
        stay in force: a release does not lift a positive or a red code found later."""
        by = f"officer {resolution.officer}: {resolution.reason}"
        if resolution.action == "released_after_check":
            limits = [r.outcome for r in results if _hard_limit(self.rules, r)]
            outcome: Outcome = worst(limits) if limits else "release"
            return outcome, Result(
                "resolution", None, "pass", "release", f"released after a manual check by {by}"
            )
        words = {
            "denied": "denied",
            "turned_away": "turned away",
            "left_without_entering": "left without entering, recorded",
        }[resolution.action]
        return "deny", Result("resolution", None, "fail", "deny", f"{words} by {by}")

    def _hard_limits(self, tracked: Tracked) -> list[str]:
        """What forbids releasing this entry: a positive or red-coded occupant."""
        judging = self._judging(tracked)
        found = []
        for occupant in tracked.entry.occupants:
            for rule in self.rules.person_rules:
                kind = KINDS[rule.evidence]
                if kind.judge is None or not occupant_applies(
                    rule, tracked.entry, occupant, judging.out_of_area
                ):
                    continue
                judged = kind.judge(rule, judging, occupant)  # type: ignore[call-arg]
                if kind.hard_limit(judged):
                    found.append(f"{occupant.role} {occupant.person}: {judged.reason}")
        return found

    def _alerts_for(self, tracked: Tracked, results: list[Result]) -> None:
        rules = {r.id: r for r in self.rules.rules}
        for result in results:
            rule = rules.get(result.rule)
            if rule is None or result.status != "fail":
                continue
            severity = KINDS[rule.evidence].pages(rule, result)
            if severity is None:
                continue
            subject = result.subject or tracked.entry.plate
            self._raise(
                tracked,
                severity,
                rule.id,
                f"{rule.id}:{tracked.entry.event_id}:{subject}",
                say(
                    self.language,
                    "alert.rule",
                    why=rule_words(self.language, rule.id, "why"),
                    todo=rule_words(self.language, rule.id, "release") or result.reason,
                ),
                tracked.entry.event_time,
                subject=subject,
            )

    def _start_obligation(self, tracked: Tracked, out_of_area: bool) -> None:
        rule = self.rules.clock_rule("visits")
        if rule is None or tracked.obligation is not None:
            return
        ob = visits.obligation(rule, tracked.entry, tracked.anchor, out_of_area)
        if ob is None:
            return
        tracked.obligation = ob
        self._out.obligations.append(
            ObligationMade(tracked.entry.event_id, ob.person, self.name, ob.enterprise, ob.due)
        )
        for visit in sorted(self.visits.get(ob.person, ()), key=lambda v: v.time):
            if visit.served is None:
                self._serve(visit)  # visits read before the obligation still count

    def _serve(self, visit: Visit) -> None:
        """A visit serves the obligation of the entry it names, or, naming none, the person's
        oldest open one; a visit for an obligation already met serves nothing."""
        candidates = [
            self.entries[i]
            for i in self.by_person.get(visit.person, ())
            if (ob := self.entries[i].obligation) is not None
            and ob.person == visit.person
            and visits.serves(ob, self.entries[i].entry.event_time, visit.time, visit.event_id)
        ]
        if visit.entry_id is not None:
            target = next((t for t in candidates if t.entry.event_id == visit.entry_id), None)
        else:
            target = min(candidates, key=lambda t: t.entry.event_time, default=None)
        if target is None or target.obligation is None:
            return
        visits.serve(target.obligation, visit.event_id)
        visit.served = target.entry.event_id
        self.dirty.add(Entity.VISIT.of(visit.event_id))
        self._mark(target)

    def _dwell_at_exit(self, rule: Rule, tracked: Tracked, left: datetime) -> None:
        out_of_area = tracked.out_of_area(self.rules)
        message = dwell.at_exit(rule, tracked, out_of_area, left, self.language)
        if message is not None:
            self._raise(
                tracked, rule.severity, rule.id, dwell.key(tracked.entry.event_id), message, left
            )

    def _raise(
        self,
        tracked: Tracked,
        severity: Severity,
        rule: str,
        key: str,
        message: str,
        at: datetime,
        *,
        subject: str | None = None,
        enterprise: str | None = None,
    ) -> None:
        if tracked.alerted(key):
            return
        entry = tracked.entry
        alert = new_alert(
            key,
            at,
            severity,
            rule,
            subject or entry.plate,
            entry.park,
            message,
            detected_at=max(self._learnt, at) if self._learnt > EPOCH else at,
            gate=entry.gate,
            entry_id=entry.event_id,
            enterprise=enterprise,
        )
        tracked.alerts[key] = alert
        self._mark(tracked)
        self._out.alerts.append(alert)

    def _close(self, tracked: Tracked, alert: Alert, at: datetime) -> None:
        closed = alert.model_copy(update={"resolved_at": at})
        tracked.alerts[alert.dedup_key] = closed
        self._mark(tracked)
        self._out.alerts.append(closed)

    def _close_alerts(self, tracked: Tracked, at: datetime) -> None:
        """Close the entry's open alerts (an officer dealt with its hold); the critical ones (a
        red code, a red origin, evasion, a refused release) stay open until acknowledged."""
        for alert in list(tracked.alerts.values()):
            if alert.resolved_at is None and alert.severity != "critical":
                self._close(tracked, alert, at)

    def _stop(self, tracked: Tracked) -> Stop | None:
        if tracked.outcome not in ("hold", "deny"):
            return None
        entry = tracked.entry
        return Stop(
            entry.event_id, self.name, entry.gate, entry.event_time, tracked.outcome, tracked.ref
        )

    def _stop_changed(self, tracked: Tracked) -> None:
        """A plate stopped or let go: the plate's later entries here may now be (or no longer
        be) evasion, and other parks are told."""
        entry = tracked.entry
        assert tracked.outcome is not None
        self._out.notices.append(
            StopNotice(
                plate=entry.plate,
                park=self.name,
                gate=entry.gate,
                entry_id=entry.event_id,
                time=entry.event_time,
                outcome=tracked.outcome,
                ref=wire_ref(tracked.ref),
            )
        )
        rule = self.rules.clock_rule("other_gate")
        if rule is None or rule.window is None:
            return
        for entry_id in self.by_plate.get(entry.plate, ()):
            later = self.entries[entry_id]
            after = entry.event_time <= later.entry.event_time <= entry.event_time + rule.window
            if later is not tracked and after:
                self._judge(later, vehicle=True)


def _hard_limit(rules: RuleSet, result: Result) -> bool:
    rule = next((r for r in rules.rules if r.id == result.rule), None)
    return rule is not None and KINDS[rule.evidence].hard_limit(result)

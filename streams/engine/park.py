"""One park: its entries, the evidence taken there, its clock and deadlines; pure.

Everything a park's gates and its enterprises send arrives here in one stream (entries, exits,
heartbeats, on-site antigen results, health visits, officers' resolutions), so the join of
people and vehicles is in memory. What is not the park's own (lab NAT reports, positives and stops
at other parks) is read from :class:`~streams.engine.shared.Shared`, which every park of a worker
reads.

An input changes only what it can change: an entry is judged when it arrives; a test result
judges again the entries of its person (those within ``RECHECK``); a stop judges again the
plate's later entries; a deadline judges again its entry. A judged entry whose results differ
from the last decision makes a new revision.

State changes are recorded as the keys of the entities that changed (:attr:`Park.dirty`): the
shell writes each of them once per batch to the changelog (``streams/engine/records.py``).

Time is event time. The park's clock is the largest event time it has read; its watermark trails
it by the rule set's lateness (and waits for inputs not read yet: the shell's bound). An input
behind the watermark is late: counted and kept aside (``Outputs.late``), and judged as any other
on its evidence, but its deadlines run from its arrival (the watermark then), never from a time
the park's clock had already passed: a deadline that passed only because another source ran ahead
would otherwise fail it at once.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import itertools
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from schemas import Alert, AntigenTest, HealthVisit, VehicleEntry, VehicleExit, worst
from schemas.decision import Outcome, ResolutionRef
from schemas.notice import PositiveNotice, StopNotice
from schemas.resolution import Resolution, ResolutionOutcome
from schemas.trace import ContactTrace
from streams.engine.outputs import Decided, Late, ObligationMade, Outputs, new_alert, wire_ref
from streams.engine.shared import Shared
from streams.engine.tracing import Tracing, positive_rule
from streams.engine.tracked import (
    EARLY_EXIT_RETENTION,
    ENTRY_RETENTION,
    EPOCH,
    FORGET_AFTER,
    RECHECK,
    VISIT_RETENTION,
    Tracked,
    Visit,
    retention,
)
from streams.rules.kinds import (
    KINDS,
    Evidence,
    Judging,
    Ref,
    Result,
    Stop,
    antigen,
    dwell,
    gate_wait,
    visits,
)
from streams.rules.kinds.base import Severity, occupant_applies, subject_applies
from streams.rules.ruleset import Rule, RuleSet
from streams.words import Language, rule_words, say


class Park:
    def __init__(
        self,
        name: str,
        rules: Callable[[], RuleSet],
        shared: Shared,
        complete_feed: bool = True,
        language: Language = "en",
    ) -> None:
        self.name = name
        self.language = language  # of the alerts' summaries (streams/words.py)
        # Whether everything up to the watermark has been fed (a file, a test): then the park's
        # antigen results are read as far as its clock. A live worker cannot know that a gate's
        # antigen station is late; it goes by the results it has read.
        self.complete_feed = complete_feed
        self._rules = rules
        self.shared = shared
        self.entries: dict[str, Tracked] = {}
        self.by_person: dict[str, list[str]] = {}
        self.by_plate: dict[str, list[str]] = {}
        self.by_gate: dict[str, list[tuple[datetime, str]]] = {}  # in time order, for tracing
        self.tracing = Tracing(self)
        self.antigens: dict[str, list[Evidence]] = {}  # by person
        self.antigen_ids: dict[str, str] = {}  # event id -> person
        self.visits: dict[str, list[Visit]] = {}  # by person
        self.visit_ids: dict[str, Visit] = {}
        self.early_exits: dict[str, VehicleExit] = {}
        self.forgotten: dict[str, datetime] = {}
        self.clock = EPOCH
        self.antigen_clock = EPOCH
        self.watermark = EPOCH
        self.dirty: set[str] = set()
        self._heap: list[tuple[float, int, str]] = []  # (when, order, entry id)
        self._expiry: list[tuple[float, str, str]] = []  # (when, entity kind, id)
        self._antigen_waits: list[tuple[float, str]] = []
        self._seq = itertools.count()
        self._out = Outputs()
        self._learnt = EPOCH  # event time of the input being handled: alerts' detected_at

    # -- inputs ---------------------------------------------------------------------------

    @property
    def rules(self) -> RuleSet:
        return self._rules()

    def on_entry(self, entry: VehicleEntry, ref: Ref, out: Outputs) -> None:
        if entry.event_id in self.forgotten or entry.event_id in self.entries:
            return  # read again: its outputs were delivered before its state was written
        self._begin(out, entry.event_time, (entry, ref.topic))
        tracked = Tracked(
            entry=entry,
            ref=ref,
            anchor=max(entry.event_time, self.watermark),
            late=entry.event_time < self.watermark,
        )
        self.entries[entry.event_id] = tracked
        for occupant in entry.occupants:
            self.by_person.setdefault(occupant.person, []).append(entry.event_id)
        self.by_plate.setdefault(entry.plate, []).append(entry.event_id)
        bisect.insort(self.by_gate.setdefault(entry.gate, []), (entry.event_time, entry.event_id))
        self._mark(tracked)
        early = self.early_exits.pop(entry.event_id, None)
        if early is not None:
            self.dirty.add(f"x:{entry.event_id}")
            tracked.exited = early.event_time
        self._judge(tracked)
        if tracked.exited is not None and (rule := self.rules.clock_rule("exit_in_time")):
            self._dwell_at_exit(rule, tracked, tracked.exited)
        self._wait_for_antigens(tracked)
        self._trace_around(tracked)

    def on_exit(self, exit_: VehicleExit, out: Outputs) -> None:
        if exit_.entry_id is not None and exit_.entry_id in self.forgotten:
            return
        target = self.entries.get(exit_.entry_id) if exit_.entry_id else None
        if target is not None and target.exited is not None or exit_.entry_id in self.early_exits:
            return  # read again
        self._begin(out, exit_.event_time, (exit_, "canonical.exits"))
        if exit_.entry_id is None:
            inside = [
                self.entries[i]
                for i in self.by_plate.get(exit_.plate, ())
                if self.entries[i].exited is None
                and self.entries[i].entry.event_time <= exit_.event_time
            ]
            target = max(inside, key=lambda t: t.entry.event_time, default=None)
        if target is None:
            if exit_.entry_id is not None and exit_.entry_id not in self.early_exits:
                self.early_exits[exit_.entry_id] = exit_  # its entry is still to come
                self.expire("x", exit_.entry_id, exit_.event_time + EARLY_EXIT_RETENTION)
                self.dirty.add(f"x:{exit_.entry_id}")
            return
        if target.exited is not None:
            return  # read again (an exit naming no entry)
        target.exited = exit_.event_time
        self._mark(target)
        rule = self.rules.clock_rule("exit_in_time")
        if rule is not None:
            self._dwell_at_exit(rule, target, exit_.event_time)
        self._schedule(target)

    def on_heartbeat(self, out: Outputs, at: datetime) -> None:
        self._begin(out, at)

    def on_antigen(self, test: AntigenTest, ref: Ref, out: Outputs) -> None:
        person = test.person
        if test.event_id in self.antigen_ids:
            return  # read again
        self._begin(out, test.event_time, (test, ref.topic))
        evidence = Evidence(
            "antigen", test.event_time, test.result, ref, test.event_time, self.name
        )
        self.antigens.setdefault(person, []).append(evidence)
        self.antigen_ids[test.event_id] = person
        self.expire("a", test.event_id, test.event_time + retention(test.result))
        self.dirty.add(f"a:{test.event_id}")
        self.antigen_clock = max(self.antigen_clock, test.event_time)
        self.dirty.add("c:")
        if test.result == "positive":
            self._out.alerts.append(
                self.tracing.positive_page(person, evidence, test.site, self._learnt)
            )
            self._page_releases(person, evidence)
            out.notices.append(
                PositiveNotice(
                    person=person,
                    park=self.name,
                    result_kind="antigen",
                    time=test.event_time,
                    reported=test.event_time,
                    ref=wire_ref(ref),
                )
            )
            self._trace(person, evidence)
        self._judge_person(person, evidence)
        self._antigen_caught_up()

    def on_visit(self, visit: HealthVisit, out: Outputs) -> None:
        if (known := self.visit_ids.get(visit.event_id)) is not None:
            # Read again. A kill can keep a visit's record but not that of the obligation it
            # served (a batch's state records are not written at once): serve it again if no
            # obligation of the person holds it (serving is per visit id, so never twice).
            if not any(
                visit.event_id in ob.visits
                for i in self.by_person.get(known.person, ())
                if (ob := self.entries[i].obligation) is not None
            ):
                self._serve(known)
            return
        self._begin(out, visit.event_time, (visit, "canonical.visits"))
        seen = Visit(visit.event_id, visit.person, visit.event_time, visit.entry_id)
        self.visits.setdefault(visit.person, []).append(seen)
        self.visit_ids[visit.event_id] = seen
        self.expire("v", visit.event_id, visit.event_time + VISIT_RETENTION)
        self.dirty.add(f"v:{visit.event_id}")
        self._serve(seen)

    def on_resolution(self, resolution: Resolution, out: Outputs) -> None:
        tracked = self.entries.get(resolution.entry_id)
        if (
            tracked is not None
            and tracked.resolution is not None
            and (tracked.resolution.event_id == resolution.event_id)
        ):
            return  # read again
        # An officer's word is stamped with the wall clock (`sentinel resolve`), not with the
        # gates' time: it does not move the park's clock (history replayed at the park would
        # otherwise all arrive late after it).
        self._begin(
            out,
            resolution.event_time,
            (resolution, "gate.resolutions"),
            move_clock=False,
        )
        if tracked is None:
            why = (
                "the entry was decided too long ago to change"
                if resolution.entry_id in self.forgotten
                else f"no entry {resolution.entry_id} at park {self.name}"
            )
            out.resolutions.append(_outcome(resolution, accepted=False, refusal=why))
            return
        if resolution.action == "released_after_check":
            limits = self._hard_limits(tracked)
            if limits:
                why = "; ".join(limits)
                out.resolutions.append(
                    _outcome(resolution, False, f"cannot release: {why}", tracked, tracked.revision)
                )
                self._raise(
                    tracked,
                    "critical",
                    "resolution_refused",
                    f"release-refused:{resolution.event_id}",
                    say(
                        self.language,
                        "alert.release_refused",
                        officer=resolution.officer,
                        plate=tracked.entry.plate,
                        gate=tracked.entry.gate,
                        why=why,
                    ),
                    resolution.event_time,
                )
                return
        superseded = tracked.revision
        tracked.resolution = ResolutionRef.model_construct(
            event_id=resolution.event_id,
            officer=resolution.officer,
            action=resolution.action,
            reason=resolution.reason,
            at=resolution.event_time,
        )
        self._mark(tracked)
        self._judge(tracked)
        out.resolutions.append(
            _outcome(resolution, True, "", tracked, superseded, revision=tracked.revision)
        )
        self._close_alerts(tracked, resolution.event_time)

    # -- evidence from elsewhere ------------------------------------------------------------

    def learn_evidence(self, person: str, evidence: Evidence, out: Outputs) -> None:
        """A lab NAT report, or a positive at another park, about someone this park knows."""
        if person not in self.by_person:
            return
        self._begin(out, evidence.reported, move_clock=False)
        if evidence.result == "positive":
            self._page_releases(person, evidence)
            self._trace(person, evidence)
        self._judge_person(person, evidence)

    def learn_stop(self, notice: StopNotice, out: Outputs) -> None:
        """A plate stopped or let go at another park: its later entries here judged again."""
        if notice.park == self.name or notice.plate not in self.by_plate:
            return
        self._begin(out, notice.time, move_clock=False)
        rule = self.rules.clock_rule("other_gate")
        window = rule.window if rule and rule.window else timedelta(0)
        for entry_id in self.by_plate[notice.plate]:
            tracked = self.entries[entry_id]
            if notice.time <= tracked.entry.event_time <= notice.time + window:
                self._judge(tracked, vehicle=True)

    def rejudge_recent(self, out: Outputs) -> None:
        self._begin(out, self.watermark, move_clock=False)
        horizon = self.watermark - RECHECK
        for tracked in list(self.entries.values()):
            if tracked.anchor >= horizon:
                self._judge(tracked, people=_crew(tracked), vehicle=True)

    def _judge_person(self, person: str, evidence: Evidence) -> None:
        """Judge again the person's results on the entries recent enough to change, where a rule
        reads this evidence."""
        horizon = self.watermark - RECHECK
        rules = self.rules.person_rules
        for entry_id in list(self.by_person.get(person, ())):
            tracked = self.entries[entry_id]
            at = tracked.entry.event_time
            if tracked.anchor >= horizon and any(
                KINDS[r.evidence].reads(r, evidence, at) for r in rules
            ):
                self._judge(tracked, people=(person,))

    # -- the clock --------------------------------------------------------------------------

    def advance(self, watermark: datetime, out: Outputs) -> None:
        """Move the watermark (never back) and act on every deadline it has passed."""
        if watermark <= self.watermark:
            return
        self._out = out
        self.watermark = watermark
        self.dirty.add("c:")
        until = watermark.timestamp()
        done: set[str] = set()
        while self._heap and self._heap[0][0] <= until:
            _, _, entry_id = heapq.heappop(self._heap)
            tracked = self.entries.get(entry_id)
            if tracked is None or entry_id in done:
                continue
            done.add(entry_id)
            self._on_due(tracked)
        self._prune()

    def _on_due(self, tracked: Tracked) -> None:
        rules = self.rules
        w = self.watermark
        self._learnt = w
        if tracked.anchor >= w - RECHECK and tracked.pending:  # older decisions are final
            self._judge(tracked, people=_crew(tracked))  # an antigen's grace may have passed
        entry_id = tracked.entry.event_id
        waiting = rules.clock_rule("gate_wait")
        if waiting and (due := gate_wait.due(waiting, tracked)) and due <= w:
            self._learnt = due
            failed = [reason.split(":", 1)[0] for reason in tracked.reasons]
            message = gate_wait.message(waiting, tracked.entry.gate, failed, self.language)
            self._raise(
                tracked, waiting.severity, waiting.id, gate_wait.key(entry_id), message, due
            )
        inside = rules.clock_rule("exit_in_time")
        out_of_area = tracked.out_of_area(rules)
        if inside and (due := dwell.due(inside, tracked, out_of_area)) and due <= w:
            self._learnt = due
            message = dwell.overdue(inside, self.language)
            self._raise(tracked, inside.severity, inside.id, dwell.key(entry_id), message, due)
        ob = tracked.obligation
        if ob is not None and ob.state == "open" and ob.due <= w:
            rule = rules.clock_rule("visits")
            ob.state = "overdue"
            self._mark(tracked)
            self._learnt = ob.due
            self._raise(
                tracked,
                rule.severity if rule else "warning",
                rule.id if rule else "health_visits",
                visits.key(tracked.entry.event_id, ob.person),
                visits.message(ob, self.language),
                ob.due,
                subject=ob.person,
                enterprise=ob.enterprise,
            )
        if tracked.anchor + ENTRY_RETENTION <= w and tracked.revision >= 0:
            self._forget(tracked)  # after its other deadlines, which a jump of the clock passes too
            return
        self._schedule(tracked)

    def _wait_for_antigens(self, tracked: Tracked) -> None:
        """A hazmat entry's antigen deadline, to be looked at again when the park's antigen
        results are read past it (their absence may then be a failure, no longer lag)."""
        due = antigen_kind_deadline(self.rules, tracked)
        if tracked.entry.hazmat and due is not None and tracked.anchor >= self.watermark - RECHECK:
            heapq.heappush(self._antigen_waits, (due.timestamp(), tracked.entry.event_id))

    def _antigen_caught_up(self) -> None:
        """The park's antigen results moved on: entries waiting on them are judged again."""
        until = self.antigen_clock.timestamp()
        horizon = self.watermark - RECHECK
        while self._antigen_waits and self._antigen_waits[0][0] <= until:
            _, entry_id = heapq.heappop(self._antigen_waits)
            tracked = self.entries.get(entry_id)
            if tracked is not None and tracked.pending and tracked.anchor >= horizon:
                self._judge(tracked, people=_crew(tracked))

    def _schedule(self, tracked: Tracked) -> None:
        """Push the next time the clock must look at this entry."""
        rules = self.rules
        times = [tracked.anchor + ENTRY_RETENTION] if tracked.revision >= 0 else []
        if tracked.entry.hazmat:
            due = antigen_kind_deadline(rules, tracked)
            if due is not None and due > self.watermark:
                times.append(due)
        out_of_area = tracked.out_of_area(rules)
        if rule := rules.clock_rule("gate_wait"):
            times.append(gate_wait.due(rule, tracked) or EPOCH)
        if rule := rules.clock_rule("exit_in_time"):
            times.append(dwell.due(rule, tracked, out_of_area) or EPOCH)
        if tracked.obligation is not None and tracked.obligation.state == "open":
            times.append(tracked.obligation.due)
        times = [t for t in times if t > EPOCH]
        if times:
            heapq.heappush(
                self._heap, (min(times).timestamp(), next(self._seq), tracked.entry.event_id)
            )

    def schedule_all(self) -> None:
        """Rebuild the deadlines from the state (after a restore)."""
        self._heap.clear()
        self._antigen_waits.clear()
        for tracked in self.entries.values():
            self._schedule(tracked)
            self._wait_for_antigens(tracked)

    # -- judging ----------------------------------------------------------------------------

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
        tracked.reasons = tuple(
            f"{r.rule}: {r.reason}" for r in results if r.status != "pass" and r.reason
        )
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

    def evidence_of(self, person: str) -> list[Evidence]:
        return [*self.antigens.get(person, ()), *self.shared.evidence_of(person, self.name)]

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
        self.dirty.add(f"v:{visit.event_id}")
        self._mark(target)

    def _dwell_at_exit(self, rule: Rule, tracked: Tracked, left: datetime) -> None:
        out_of_area = tracked.out_of_area(self.rules)
        message = dwell.at_exit(rule, tracked, out_of_area, left, self.language)
        if message is not None:
            self._raise(
                tracked, rule.severity, rule.id, dwell.key(tracked.entry.event_id), message, left
            )

    # -- positives and tracing (streams/engine/tracing.py) -----------------------------------

    def _page_releases(self, person: str, evidence: Evidence) -> None:
        """A critical page to this park for every entry that let the person in."""
        rule = positive_rule(self.rules)
        for tracked, key, message in self.tracing.release_pages(person, evidence):
            self._raise(tracked, "critical", rule, key, message, evidence.reported)

    def _trace(self, person: str, evidence: Evidence) -> None:
        found = self.tracing.trace(person, evidence, self._learnt)
        if found is not None:
            self._send_trace(*found)

    def _trace_around(self, tracked: Tracked) -> None:
        for found in self.tracing.around(tracked, self._ever_positive, self._learnt):
            self._send_trace(*found)

    def _send_trace(self, trace: ContactTrace, page: Alert) -> None:
        self._out.traces.append(trace)
        self._out.alerts.append(page)

    def _ever_positive(self, person: str) -> bool:
        """A positive of the person on record: elsewhere, or taken here (told to the others,
        and not yet come back as a notice)."""
        return self.shared.ever_positive(person) or any(
            e.result == "positive" for e in self.antigens.get(person, ())
        )

    # -- alerts -----------------------------------------------------------------------------

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

    # -- stops --------------------------------------------------------------------------------

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

    # -- keeping and forgetting -------------------------------------------------------------

    def _begin(
        self,
        out: Outputs,
        at: datetime,
        read: tuple[Any, str] | None = None,
        move_clock: bool = True,
    ) -> None:
        """Start handling an input learnt at ``at``; ``read``: the event and the topic it was
        read from, kept aside as late when it is behind the watermark."""
        self._out = out
        self._learnt = at
        if read is not None and at < self.watermark:
            event, topic = read
            out.late.append(Late(topic, event.event_id, self.name, at, self.watermark, event))
        if move_clock and at > self.clock:
            self.clock = at
            self.dirty.add("c:")

    def _mark(self, tracked: Tracked) -> None:
        self.dirty.add(f"e:{tracked.entry.event_id}")

    def _forget(self, tracked: Tracked) -> None:
        entry = tracked.entry
        del self.entries[entry.event_id]
        for occupant in entry.occupants:
            _discard(self.by_person, occupant.person, entry.event_id)
        _discard(self.by_plate, entry.plate, entry.event_id)
        gate = self.by_gate.get(entry.gate, [])
        if (entry.event_time, entry.event_id) in gate:
            gate.remove((entry.event_time, entry.event_id))
        self.forgotten[entry.event_id] = tracked.anchor
        self.expire("f", entry.event_id, tracked.anchor + FORGET_AFTER)
        self.dirty |= {f"e:{entry.event_id}", f"f:{entry.event_id}"}

    def expire(self, kind: str, ident: str, at: datetime) -> None:
        """Keep ``kind``:``ident`` until the watermark passes ``at``."""
        heapq.heappush(self._expiry, (at.timestamp(), kind, ident))

    def _prune(self) -> None:
        """Forget what the watermark has made useless: old test results and visits, exits whose
        entry never came, the ids of entries forgotten long ago."""
        until = self.watermark.timestamp()
        while self._expiry and self._expiry[0][0] <= until:
            _, kind, ident = heapq.heappop(self._expiry)
            if kind == "a" and (person := self.antigen_ids.pop(ident, None)) is not None:
                _replace(
                    self.antigens,
                    person,
                    [e for e in self.antigens[person] if e.ref.event_id != ident],
                )
            elif kind == "v" and (visit := self.visit_ids.pop(ident, None)) is not None:
                _replace(
                    self.visits,
                    visit.person,
                    [v for v in self.visits[visit.person] if v.event_id != ident],
                )
            elif (
                kind == "x"
                and self.early_exits.pop(ident, None) is None
                or kind == "f"
                and self.forgotten.pop(ident, None) is None
            ):
                continue
            self.dirty.add(f"{kind}:{ident}")

    def take_dirty(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty


def _crew(tracked: Tracked) -> list[str]:
    return [o.person for o in tracked.entry.occupants]


def antigen_kind_deadline(rules: RuleSet, tracked: Tracked) -> datetime | None:
    rule = next(iter(rules.of_kind("antigen_negative")), None)
    return antigen.deadline(rule, tracked.anchor) if rule is not None else None


def _hard_limit(rules: RuleSet, result: Result) -> bool:
    rule = next((r for r in rules.rules if r.id == result.rule), None)
    return rule is not None and KINDS[rule.evidence].hard_limit(result)


def _outcome(
    resolution: Resolution,
    accepted: bool,
    refusal: str,
    tracked: Tracked | None = None,
    superseded: int | None = None,
    revision: int | None = None,
) -> ResolutionOutcome:
    return ResolutionOutcome.model_construct(
        **resolution.model_dump(),
        accepted=accepted,
        refusal=refusal,
        gate=tracked.entry.gate if tracked else "",
        plate=tracked.entry.plate if tracked else "",
        superseded_revision=superseded if superseded is not None and superseded >= 0 else None,
        revision=revision,
    )


def _discard(index: dict[str, list[str]], key: str, value: str) -> None:
    values = index.get(key)
    if values is not None:
        if value in values:
            values.remove(value)
        if not values:
            del index[key]


def _replace(
    index: dict[str, list[Evidence]] | dict[str, list[Visit]], key: str, kept: Iterable[object]
) -> None:
    values = list(kept)
    if values:
        index[key] = values  # type: ignore[assignment]
    else:
        del index[key]

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
from datetime import datetime, timedelta

from schemas import Alert, AntigenTest, HealthVisit, VehicleEntry, VehicleExit
from schemas.decision import ResolutionRef
from schemas.notice import PositiveNotice, StopNotice
from schemas.resolution import Resolution, ResolutionOutcome
from schemas.trace import ContactTrace
from streams.engine.clock import Clock
from streams.engine.outputs import Outputs, wire_ref
from streams.engine.tracing import positive_rule
from streams.engine.tracked import (
    EARLY_EXIT_RETENTION,
    RECHECK,
    VISIT_RETENTION,
    Entity,
    Tracked,
    Visit,
    retention,
)
from streams.rules.kinds import KINDS, Evidence, Ref
from streams.words import say


class Park(Clock):
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
            self.dirty.add(Entity.EARLY_EXIT.of(entry.event_id))
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
                self.expire(
                    Entity.EARLY_EXIT, exit_.entry_id, exit_.event_time + EARLY_EXIT_RETENTION
                )
                self.dirty.add(Entity.EARLY_EXIT.of(exit_.entry_id))
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
        self.expire(Entity.ANTIGEN, test.event_id, test.event_time + retention(test.result))
        self.dirty.add(Entity.ANTIGEN.of(test.event_id))
        self.antigen_clock = max(self.antigen_clock, test.event_time)
        self.dirty.add(Entity.CLOCKS.of())
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
        self.expire(Entity.VISIT, visit.event_id, visit.event_time + VISIT_RETENTION)
        self.dirty.add(Entity.VISIT.of(visit.event_id))
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
                self._judge(tracked, people=tracked.crew, vehicle=True)

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

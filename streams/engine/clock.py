"""A park's clock, pure: the watermark moved on, and every deadline it passes acted on: an
entry's antigen grace, the gate wait, the time on site, the health visits owed, and forgetting
the entry (``streams/engine/tracked.py``). Deadlines live in a heap of (when, entry id); an entry
is pushed again with its next deadline after each look.
"""

from __future__ import annotations

import heapq
from datetime import datetime

from streams.engine.judge import Judge
from streams.engine.outputs import Outputs
from streams.engine.tracked import ENTRY_RETENTION, EPOCH, RECHECK, Entity, Tracked
from streams.rules.kinds import DEADLINES, antigen
from streams.rules.ruleset import RuleSet


class Clock(Judge):
    """The park's clock, over its judging (a deadline passed may judge an entry again)."""

    def advance(self, watermark: datetime, out: Outputs) -> None:
        """Move the watermark (never back) and act on every deadline it has passed."""
        if watermark <= self.watermark:
            return
        self._out = out
        self.watermark = watermark
        self.dirty.add(Entity.CLOCKS.of())
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
            self._judge(tracked, people=tracked.crew)  # an antigen's grace may have passed
        out_of_area = tracked.out_of_area(rules)
        for kind in DEADLINES:
            rule = rules.clock_rule(kind.name)
            due = kind.due(rule, tracked, out_of_area)
            if due is not None and due <= w:
                alarm = kind.on_due(rule, tracked, self.language)
                self._mark(tracked)  # (an obligation is overdue now)
                self._learnt = alarm.at
                self._raise(
                    tracked,
                    alarm.severity,
                    alarm.rule,
                    alarm.key,
                    alarm.message,
                    alarm.at,
                    subject=alarm.subject,
                    enterprise=alarm.enterprise,
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
                self._judge(tracked, people=tracked.crew)

    def _schedule(self, tracked: Tracked) -> None:
        """Push the next time the clock must look at this entry."""
        rules = self.rules
        times = [tracked.anchor + ENTRY_RETENTION] if tracked.revision >= 0 else []
        if tracked.entry.hazmat:
            due = antigen_kind_deadline(rules, tracked)
            if due is not None and due > self.watermark:
                times.append(due)
        out_of_area = tracked.out_of_area(rules)
        for kind in DEADLINES:
            due = kind.due(rules.clock_rule(kind.name), tracked, out_of_area)
            if due is not None:
                times.append(due)
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


def antigen_kind_deadline(rules: RuleSet, tracked: Tracked) -> datetime | None:
    rule = next(iter(rules.of_kind("antigen_negative")), None)
    return antigen.deadline(rule, tracked.anchor) if rule is not None else None

"""What the stages of one worker share: the rule set in force, the watermark, evidence lag."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from streams.rules.ruleset import RuleSet
from streams.topics import RAW_TO_CANONICAL

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Partition = tuple[str, int]  # (topic catalogue name, partition)

# Topics whose unread messages freeze the watermark: they carry no event time we track, and
# they hold events (raw ones not yet ingested) or work (the stages' messages) still to come.
UPSTREAM = frozenset({*RAW_TO_CANONICAL, "sentinel.person-checks", "sentinel.person-verdicts"})
# Topics whose partitions hold the watermark at the largest event time read from them.
INPUTS = frozenset(RAW_TO_CANONICAL.values())
EVIDENCE = {"canonical.antigen": "antigen", "canonical.nat": "nat"}


def next_watermark(
    previous: datetime,
    seen: Mapping[Partition, datetime],
    backlog: Mapping[Partition, int],
    lateness: timedelta,
) -> datetime:
    """The event time up to which this worker takes its inputs to be complete.

    A canonical partition that is caught up holds nothing back. One with unread messages holds
    the watermark at the largest event time read from it (the epoch if none yet): topics and
    partitions are read at different speeds, and a deadline must not fire for an entry whose
    exit or antigen result is still unread. While raw topics or the stages' internal topics have
    unread messages, the watermark stays where it is: events or work are still to come.
    Other topics (changelogs, outputs) do not count.
    """
    behind = [p for p, n in backlog.items() if n > 0]
    if any(p[0] in UPSTREAM for p in behind):
        return previous
    external = [seen.get(p, EPOCH) for p in behind if p[0] in INPUTS]
    if external:
        candidate = min(external)
    elif seen:
        candidate = max(seen.values())
    else:
        return previous
    if candidate <= EPOCH:
        return previous
    return max(previous, candidate - lateness)


class WorkerState:
    """Mutable, per worker, touched only from the event loop."""

    def __init__(self, rules: RuleSet, evidence_lag_max: int) -> None:
        self.rules = rules
        self.watermark = EPOCH
        self.lagging: frozenset[str] = frozenset()
        self._seen: dict[Partition, datetime] = {}
        self._lag_max = evidence_lag_max

    def observe(self, partition: Partition, event_time: datetime) -> None:
        if event_time > self._seen.get(partition, EPOCH):
            self._seen[partition] = event_time

    def progress(self, backlog: Mapping[Partition, int]) -> frozenset[str]:
        """Take the unread counts of this worker's partitions; move the watermark and the set of
        lagging evidence streams. Returns the evidence streams that stopped lagging."""
        self.watermark = next_watermark(self.watermark, self._seen, backlog, self.rules.lateness)
        unread = dict.fromkeys(EVIDENCE.values(), 0)
        for (topic, _), count in backlog.items():
            if topic in EVIDENCE:
                unread[EVIDENCE[topic]] += count
        lagging = frozenset(kind for kind, count in unread.items() if count > self._lag_max)
        if lagging != self.lagging:
            log.warning("evidence streams lagging: %s", ", ".join(sorted(lagging)) or "none")
        recovered, self.lagging = self.lagging - lagging, lagging
        return recovered

    def use(self, rules: RuleSet) -> None:
        if rules.version != self.rules.version:
            log.info("rule set %s in force (was %s)", rules.version, self.rules.version)
        self.rules = rules

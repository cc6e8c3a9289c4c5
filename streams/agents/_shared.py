"""What the stages of one worker share: the rule set in force, the watermark, evidence lag.

The watermark is the group's, not the worker's. Every worker publishes, for each partition it
owns, how far it has processed it (after flushing what that processing sent: see
``watermark.py``), so each worker sees every partition of every topic the stages read.

Only the raw topics, written by the gates and the labs in event-time order, say anything about
event time: a raw partition with unprocessed messages holds the watermark at the largest event
time processed from it. The derived topics (canonical events, checks, obligations, verdicts)
are written by several workers at different speeds, so their order says nothing; instead, a
message still unprocessed in them was sent because of a raw event processed since an earlier
moment, which is found by following back when the derived partitions were last drained of
what they held (:func:`settled_time`). A test caught both mistakes this replaces: a worker
whose own partitions were done let the heartbeats move it past visit obligations still queued
on the other worker, and a verdict partition holding a late verdict behind later ones.
"""

from __future__ import annotations

import bisect
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from streams.rules.ruleset import RuleSet
from streams.topics import RAW_TO_CANONICAL

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Partition = tuple[str, int]  # (topic catalogue name, partition)

# The topics the stages' agents read. Reference data and the canonical heartbeats are read
# whole by every worker, outside the group, and hold nothing back.
_OUTSIDE = ("ref.risk-areas", "canonical.risk-areas", "canonical.heartbeats")
SOURCES = tuple(raw for raw in RAW_TO_CANONICAL if raw not in _OUTSIDE)
DERIVED = (
    *(c for c in RAW_TO_CANONICAL.values() if c not in _OUTSIDE),
    "sentinel.person-checks",
    "sentinel.person-verdicts",
)
STAGED = SOURCES + DERIVED
# Derived hops from a raw event to the last message it causes: canonical event, check,
# verdict, visit obligation.
DEPTH = 4
HISTORY = 900  # ticks (seconds) kept to follow back; further back, the watermark waits
EVIDENCE = {"canonical.antigen": "antigen", "canonical.nat": "nat"}


@dataclass(frozen=True)
class Lane:
    """One partition of a staged topic, as the group stands: the next offset its owner will
    process, its end, and the largest event time processed from it (raw topics only)."""

    processed: int
    end: int
    seen: datetime = EPOCH

    @property
    def unprocessed(self) -> int:
        return max(self.end - self.processed, 0)


@dataclass(frozen=True)
class Tick:
    """One look at the group: the derived partitions' processed offsets and ends, and the
    event time every raw message still to be processed is at or after (``sources``)."""

    processed: Mapping[Partition, int]
    ends: Mapping[Partition, int]
    sources: datetime


def sources_time(lanes: Mapping[Partition, Lane], clock: datetime) -> datetime:
    """A raw partition behind holds at what was processed from it; when none is behind, the
    latest event time anywhere, the gates' heartbeats (``clock``) included, so that deadlines
    fire when traffic stops. EPOCH: nothing known yet."""
    raw = {part: lane for part, lane in lanes.items() if part[0] in SOURCES}
    behind = [lane.seen for lane in raw.values() if lane.unprocessed]
    return min(behind) if behind else max([clock, *(lane.seen for lane in raw.values())])


def tick(lanes: Mapping[Partition, Lane], clock: datetime) -> Tick:
    derived = {part: lane for part, lane in lanes.items() if part[0] in DERIVED}
    return Tick(
        processed={part: lane.processed for part, lane in derived.items()},
        ends={part: lane.end for part, lane in derived.items()},
        sources=sources_time(lanes, clock),
    )


def drained(before: Tick, after: Tick) -> bool:
    """Whether every derived message there was at ``before`` was processed by ``after``."""
    return all(after.processed.get(part, 0) >= end for part, end in before.ends.items())


def settled_time(history: Sequence[Tick], depth: int = DEPTH) -> datetime:
    """The event time every message still to be processed descends from, at or after.

    A derived message unprocessed now was sent after the latest earlier tick whose derived
    messages have all been processed since, because of a message unprocessed then: a raw one
    (at or after that tick's ``sources``) or a derived one, followed back the same way, at most
    ``depth`` times. Ends only grow, so that tick is found by bisection. EPOCH: not known.
    """
    if not history:
        return EPOCH
    i = len(history) - 1
    bound = history[i].sources
    for _ in range(depth):
        if drained(history[i], history[i]):
            return bound
        # drained(history[j], history[i]) holds for every j up to some point: find the last.
        found = bisect.bisect_left(
            range(i), True, key=lambda j: not drained(history[j], history[i])
        )
        if found == 0:
            return EPOCH
        i = found - 1
        bound = min(bound, history[i].sources)
    return bound


class WorkerState:
    """Mutable, per worker, touched only from the event loop."""

    def __init__(self, rules: RuleSet, evidence_lag_max: int) -> None:
        self.rules = rules
        self.watermark = EPOCH
        self.lagging: frozenset[str] = frozenset()
        self.clock = EPOCH  # the latest gate heartbeat
        self.seen: dict[Partition, datetime] = {}  # raw partitions: largest event time ingested
        self.processed: dict[Partition, int] = {}  # the next offset to process, per partition
        self.published: dict[Partition, tuple[int, datetime]] = {}  # every owner's progress
        self.recovered: frozenset[str] = frozenset()  # for the person stage's next sweep
        self._history: deque[Tick] = deque(maxlen=HISTORY)
        self._lag_max = evidence_lag_max

    def observe(self, partition: Partition, event_time: datetime) -> None:
        if event_time > self.seen.get(partition, EPOCH):
            self.seen[partition] = event_time

    def done(self, partition: Partition, offset: int) -> None:
        """The message at ``offset`` is processed, and what it sent is handed to the producer."""
        self.processed[partition] = offset + 1

    def beat(self, event_time: datetime) -> None:
        self.clock = max(self.clock, event_time)

    def progress(self, lanes: Mapping[Partition, Lane]) -> None:
        """Take the group's lanes; move the watermark (trailing by the rule set's lateness, never
        back) and the set of lagging evidence streams, adding those that stop lagging to
        :attr:`recovered`."""
        self._history.append(tick(lanes, self.clock))
        settled = settled_time(self._history)
        if settled > EPOCH:
            self.watermark = max(self.watermark, settled - self.rules.lateness)
        unprocessed = dict.fromkeys(EVIDENCE.values(), 0)
        for (topic, _), lane in lanes.items():
            if topic in EVIDENCE:
                unprocessed[EVIDENCE[topic]] += lane.unprocessed
        lagging = frozenset(kind for kind, n in unprocessed.items() if n > self._lag_max)
        if lagging != self.lagging:
            log.warning("evidence streams lagging: %s", ", ".join(sorted(lagging)) or "none")
        self.recovered |= self.lagging - lagging
        self.lagging = lagging

    def use(self, rules: RuleSet) -> None:
        if rules.version != self.rules.version:
            log.info("rule set %s in force (was %s)", rules.version, self.rules.version)
        self.rules = rules

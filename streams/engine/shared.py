"""What every park of a worker reads and no park owns: lab NAT reports, positives and stops at
other parks, and the origins' risk colours. Each worker reads these whole, from the beginning
(``canonical.nat``, ``sentinel.evidence``, ``canonical.risk-areas``), so it is rebuilt at start
rather than kept in a changelog."""

from __future__ import annotations

import bisect
import heapq
from datetime import UTC, datetime, timedelta

from schemas import NatReport, RiskAreaUpdate
from schemas.notice import PositiveNotice, StopNotice
from streams.engine.outputs import to_ref
from streams.rules.kinds import Evidence, Ref, Stop
from streams.rules.kinds.base import RiskHistory

NAT_RETENTION = timedelta(days=6)  # a negative NAT: the window (48 h) and RECHECK, and a margin
POSITIVE_RETENTION = timedelta(days=17)
STOP_RETENTION = timedelta(days=4)


class Shared:
    def __init__(self) -> None:
        self.nats: dict[str, list[Evidence]] = {}
        self.positives: dict[str, list[Evidence]] = {}  # found at a park (any park)
        self.stops: dict[str, dict[str, Stop]] = {}  # plate -> entry id -> stop
        self.risk: dict[str, RiskHistory] = {}
        # Shared streams read too late for an absence in them to be trusted: "nat", "positives".
        self.lagging: frozenset[str] = frozenset()
        self.pruned = datetime(1970, 1, 1, tzinfo=UTC)  # the watermark of the last prune
        self._expiry: list[tuple[float, str, str, str]] = []  # (when, kind, person/plate, id)

    def learn_nat(self, nat: NatReport, ref: Ref) -> Evidence | None:
        """Keep a lab report; None if it was known."""
        known = self.nats.setdefault(nat.person, [])
        if any(e.ref.event_id == nat.event_id for e in known):
            return None
        evidence = Evidence("nat", nat.sample_time, nat.result, ref, nat.event_time)
        known.append(evidence)
        keep = POSITIVE_RETENTION if nat.result == "positive" else NAT_RETENTION
        heapq.heappush(
            self._expiry, ((nat.sample_time + keep).timestamp(), "n", nat.person, nat.event_id)
        )
        return evidence

    def learn_positive(self, notice: PositiveNotice) -> Evidence | None:
        known = self.positives.setdefault(notice.person, [])
        if any(e.ref.event_id == notice.ref.event_id for e in known):
            return None
        ref = to_ref(notice.ref)
        evidence = Evidence(
            notice.result_kind, notice.time, "positive", ref, notice.reported, notice.park
        )
        known.append(evidence)
        heapq.heappush(
            self._expiry,
            (
                (notice.time + POSITIVE_RETENTION).timestamp(),
                "p",
                notice.person,
                notice.ref.event_id,
            ),
        )
        return evidence

    def learn_stop(self, notice: StopNotice) -> None:
        ref = to_ref(notice.ref)
        stop = Stop(notice.entry_id, notice.park, notice.gate, notice.time, notice.outcome, ref)
        self.stops.setdefault(notice.plate, {})[notice.entry_id] = stop
        heapq.heappush(
            self._expiry,
            ((notice.time + STOP_RETENTION).timestamp(), "s", notice.plate, notice.entry_id),
        )

    def learn_risk(self, update: RiskAreaUpdate) -> None:
        history = self.risk.get(update.region, ())
        if all(t != update.event_time for t, _ in history):
            changes = list(history)
            bisect.insort(changes, (update.event_time, update.colour))
            self.risk[update.region] = tuple(changes)

    def ever_positive(self, person: str) -> bool:
        """Whether a positive about the person is on record here (lab or another park)."""
        return person in self.positives or any(
            e.result == "positive" for e in self.nats.get(person, ())
        )

    def evidence_of(self, person: str, park: str) -> list[Evidence]:
        """Lab reports, and positives found at other parks (a park has its own at hand)."""
        found = list(self.nats.get(person, ()))
        found += [e for e in self.positives.get(person, ()) if e.park != park]
        return found

    def stops_of(self, plate: str, park: str) -> list[Stop]:
        """The plate's stops at other parks."""
        return [s for s in self.stops.get(plate, {}).values() if s.park != park]

    def risk_of(self, region: str) -> RiskHistory:
        return self.risk.get(region, ())

    def prune(self, now: datetime) -> None:
        """Forget what no rule can read any more, ``now`` being the latest park watermark."""
        if now <= self.pruned:
            return
        self.pruned = now
        until = now.timestamp()
        while self._expiry and self._expiry[0][0] <= until:
            _, kind, key, ident = heapq.heappop(self._expiry)
            if kind == "s":
                stops = self.stops.get(key, {})
                stops.pop(ident, None)
                if not stops:
                    self.stops.pop(key, None)
                continue
            index = self.nats if kind == "n" else self.positives
            kept = [e for e in index.get(key, ()) if e.ref.event_id != ident]
            if kept:
                index[key] = kept
            else:
                index.pop(key, None)

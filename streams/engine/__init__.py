"""The rule engine: the one orchestration of the release rules, pure.

The decide stage's Faust agent (``streams/agents/decide.py``) drives it with the events it reads
from Kafka; ``sentinel backtest``, the bench's replay path and the scenario tests drive the very
same object with events from a file or a test, on a simulated clock (their events' own times).
Only the shell differs: what it reads, where the outputs go, and how far the inputs are read
(:attr:`Engine.bound`, which holds each park's watermark back while some of its input is unread).

- :class:`~streams.engine.park.Park`: one park's entries, evidence, clock and deadlines;
  what it keeps of an entry (:mod:`~streams.engine.tracked`), its positives' pages and contact
  tracing (:mod:`~streams.engine.tracing`);
- :class:`~streams.engine.shared.Shared`: what every park reads (lab reports, positives and
  stops at other parks, risk colours);
- :mod:`~streams.engine.records`: the parks' state as changelog records, and back.

With ``loopback`` (the default: tests, backtest), what a park tells the others (positives, stops)
and the lab reports it ingests are learnt at once; in a worker they go out on Kafka
(``sentinel.evidence``, ``canonical.nat``) and come back through every worker's reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import (
    Alert,
    AntigenTest,
    Decision,
    GateHeartbeat,
    HealthVisit,
    NatReport,
    RiskAreaUpdate,
    VehicleEntry,
    VehicleExit,
)
from schemas.notice import PositiveNotice, StopNotice
from schemas.resolution import Resolution, ResolutionOutcome
from schemas.trace import ContactTrace
from streams.engine import records
from streams.engine.outputs import Late, Outputs, new_alert
from streams.engine.park import Park
from streams.engine.shared import Shared
from streams.engine.tracing import positive_rule
from streams.engine.tracked import EPOCH
from streams.rules.kinds import Evidence, Ref
from streams.rules.ruleset import RuleSet
from streams.topics import CANONICAL_TOPIC_OF
from streams.words import Language, say

FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)
SHARED_PRUNE_EVERY = timedelta(hours=1)  # of a park's watermark
ParkEvent = VehicleEntry | VehicleExit | GateHeartbeat | AntigenTest | HealthVisit | Resolution
Notice = PositiveNotice | StopNotice


class Engine:
    def __init__(
        self,
        rules: RuleSet,
        *,
        loopback: bool = True,
        record: bool = True,
        live: bool = False,
        language: Language = "en",
    ) -> None:
        self.rules = rules
        self.language = language  # of the alerts' summaries (streams/words.py)
        self.live = live  # fed from Kafka as it comes (a worker), not from a complete file
        self.shared = Shared()
        self.parks: dict[str, Park] = {}
        self.loopback = loopback
        self.record = (
            record  # keep every decision and alert (tests, backtest), not only the last take
        )
        self.decisions: list[Decision] = []
        self.alerts: list[Alert] = []
        self.traces: list[ContactTrace] = []
        self.resolutions: list[ResolutionOutcome] = []
        self.late: list[Late] = []
        self.bound: Callable[[str], datetime] = lambda park: FAR_FUTURE
        self._out = Outputs()
        self._offsets: dict[str, int] = {}

    # -- inputs ---------------------------------------------------------------------------

    def feed(self, event: Any, ref: Ref | None = None) -> None:
        """One canonical event, then whatever deadlines its time lets pass."""
        ref = ref or self._ref(event)
        if isinstance(event, NatReport):
            self.ingest_nat(event, ref)
            if self.loopback:
                self.learn_nat(event, ref)
        elif isinstance(event, RiskAreaUpdate):
            self.shared.learn_risk(event)
        elif isinstance(event, ParkEvent):
            self.feed_park(event, ref)
        else:
            raise TypeError(f"not a canonical event: {type(event).__name__}")
        self._loop_back()

    def feed_park(self, event: ParkEvent, ref: Ref) -> None:
        park = self.park(event.park)
        out = self._out
        if isinstance(event, VehicleEntry):
            park.on_entry(event, ref, out)
        elif isinstance(event, VehicleExit):
            park.on_exit(event, out)
        elif isinstance(event, AntigenTest):
            park.on_antigen(event, ref, out)
        elif isinstance(event, HealthVisit):
            park.on_visit(event, out)
        elif isinstance(event, Resolution):
            park.on_resolution(event, out)
        else:
            park.on_heartbeat(out, event.event_time)
        self._tick(park)

    def ingest_nat(self, nat: NatReport, ref: Ref) -> None:
        """A lab report read from ``health.nat`` by the worker that owns its partition: a
        positive pages here, once (no park owns a lab result)."""
        if nat.result == "positive":
            key = f"positive:{nat.event_id}"
            self._out.alerts.append(
                new_alert(
                    key,
                    nat.event_time,
                    "critical",
                    positive_rule(self.rules),
                    nat.person,
                    "-",
                    say(
                        self.language,
                        "alert.positive_nat",
                        lab=nat.lab,
                        sampled=nat.sample_time.isoformat(timespec="minutes"),
                    ),
                    detected_at=nat.event_time,
                )
            )

    def learn_nat(self, nat: NatReport, ref: Ref) -> None:
        """A lab report as every worker reads it (``canonical.nat``)."""
        evidence = self.shared.learn_nat(nat, ref)
        if evidence is not None:
            self._learn(nat.person, evidence)

    def learn(self, notice: Notice) -> None:
        """What another park told (``sentinel.evidence``)."""
        if isinstance(notice, PositiveNotice):
            evidence = self.shared.learn_positive(notice)
            if evidence is not None:
                self._learn(notice.person, evidence, skip=notice.park)
        else:
            self.shared.learn_stop(notice)
            for park in self.parks.values():
                park.learn_stop(notice, self._out)

    def rejudge(self) -> None:
        """Judge again every park's recent entries (a shared stream stopped or started being
        read too late: results that waited on it, or failed on an absence in it, may change)."""
        for park in self.parks.values():
            park.rejudge_recent(self._out)
        self._loop_back()

    def _learn(self, person: str, evidence: Evidence, skip: str | None = None) -> None:
        for park in self.parks.values():
            if park.name != skip:
                park.learn_evidence(person, evidence, self._out)

    # -- the clock --------------------------------------------------------------------------

    def advance(self, until: datetime | None = None) -> None:
        """Move every park's watermark: to ``until`` (a simulated clock: tests, the end of a
        backtest), or as far as its clock and its bound allow."""
        for park in self.parks.values():
            if until is not None:
                park.advance(until, self._out)
            else:
                self._tick(park)
        self._loop_back()
        if self.parks:
            self.shared.prune(max(p.watermark for p in self.parks.values()))

    def _tick(self, park: Park) -> None:
        if park.clock > EPOCH:
            park.advance(min(park.clock, self.bound(park.name)) - self.rules.lateness, self._out)
            if park.watermark - self.shared.pruned >= SHARED_PRUNE_EVERY:
                self.shared.prune(park.watermark)

    @property
    def watermark(self) -> datetime:
        """The latest park watermark (one park: its watermark)."""
        return max((p.watermark for p in self.parks.values()), default=EPOCH)

    # -- rules and state ---------------------------------------------------------------------

    def use(self, rules: RuleSet) -> None:
        self.rules = rules

    def park(self, name: str) -> Park:
        park = self.parks.get(name)
        if park is None:
            park = Park(
                name,
                lambda: self.rules,
                self.shared,
                complete_feed=not self.live,
                language=self.language,
            )
            self.parks[name] = park
        return park

    def take(self) -> Outputs:
        """What to send since the last take."""
        out, self._out = self._out, Outputs()
        if self.record:
            self.decisions += [d.wire() for d in out.decisions]
            self.alerts += out.alerts
            self.traces += out.traces
            self.resolutions += out.resolutions
            self.late += out.late
        return out

    def dirty(self) -> Iterator[tuple[Park, str]]:
        """Each park's entities changed since the last call, once each, in the order their
        records must be written (:func:`records.write_order`)."""
        for park in self.parks.values():
            for key in records.write_order(park, park.take_dirty()):
                yield park, key

    def current(self) -> dict[str, Decision]:
        """The latest decision of every entry (with ``record``)."""
        self.take()
        latest: dict[str, Decision] = {}
        for decision in self.decisions:
            if decision.revision >= latest.get(decision.entry_id, decision).revision:
                latest[decision.entry_id] = decision
        return latest

    def _loop_back(self) -> None:
        if not self.loopback:
            return
        while self._out.notices:
            notices, self._out.notices = self._out.notices, []
            for notice in notices:
                self.learn(notice)
        if self.record:
            self.take()

    def _ref(self, event: Any) -> Ref:
        """A made-up place in a single-partition topic, for events not read from Kafka."""
        topic = CANONICAL_TOPIC_OF.get(type(event), type(event).__name__)
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        return Ref(event.event_id, topic, 0, offset)

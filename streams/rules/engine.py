"""The rule engine in one process: both stages over in-memory dicts, no Kafka, no Faust.

It runs the same pure functions as the Faust agents, with the messages between the stages passed
through a queue instead of topics. What a replayed event sends again (``resent``) is dropped: in
one process nothing was lost. The backtest, the scenario tests and the replay benchmark use
it; events go in in the order given (event-time order for a faithful replay).
"""

from __future__ import annotations

import heapq
from collections import deque
from datetime import UTC, datetime
from typing import Any

from schemas import (
    Alert,
    AntigenTest,
    Decision,
    EvidenceRef,
    GateHeartbeat,
    HealthVisit,
    NatReport,
    RiskAreaUpdate,
    VehicleEntry,
    VehicleExit,
)
from streams.rules import person as person_stage
from streams.rules import vehicle as vehicle_stage
from streams.rules.person import (
    Evidence,
    Obligation,
    PersonCheck,
    PersonState,
    PersonVerdict,
    Visit,
)
from streams.rules.ruleset import RuleSet
from streams.rules.vehicle import RiskHistory, VehicleState
from streams.topics import CANONICAL_TOPIC_OF

NO_LAG: frozenset[str] = frozenset()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Engine:
    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.people: dict[str, PersonState] = {}
        self.vehicles: dict[str, VehicleState] = {}
        self.risk: dict[str, RiskHistory] = {}
        self.decisions: list[Decision] = []
        self.alerts: list[Alert] = []
        self.obligations: list[Obligation] = []  # as sent to the person stage
        self.latest = EPOCH
        # (when as a POSIX timestamp, "person"|"vehicle", key): floats, as aware datetimes are
        # slow to compare and this heap is the engine's busiest structure.
        self._due: list[tuple[float, str, str]] = []
        self._queue: deque[Any] = deque()
        self._offsets: dict[str, int] = {}

    @property
    def watermark(self) -> datetime:
        return self.latest - self.rules.lateness if self.latest > EPOCH else EPOCH

    def feed(self, event: Any, ref: EvidenceRef | None = None) -> None:
        """One canonical event, then whatever deadlines its time lets pass."""
        ref = ref or self._ref(event)
        self.latest = max(self.latest, event.event_time)
        if isinstance(event, VehicleEntry):
            risk = self.risk.get(event.origin_region, ())
            self._vehicle_out(
                event.plate,
                vehicle_stage.on_entry(self._vehicle(event.plate), event, ref, self.rules, risk),
            )
        elif isinstance(event, VehicleExit):
            self._vehicle_out(
                event.plate, vehicle_stage.on_exit(self._vehicle(event.plate), event, self.rules)
            )
        elif isinstance(event, AntigenTest | NatReport):
            kind = "antigen" if isinstance(event, AntigenTest) else "nat"
            time = event.event_time if isinstance(event, AntigenTest) else event.sample_time
            park = event.park if isinstance(event, AntigenTest) else "-"
            evidence = Evidence(kind=kind, time=time, result=event.result, ref=ref)
            self._person_out(
                event.person,
                person_stage.on_evidence(
                    self._person(event.person), event.person, evidence, self.rules,
                    self.watermark, NO_LAG, park,
                ),
            )  # fmt: skip
        elif isinstance(event, HealthVisit):
            visit = Visit(event_id=event.event_id, time=event.event_time, entry_id=event.entry_id)
            state = person_stage.on_visit(self._person(event.person), visit)
            self._set_person(event.person, state)
        elif isinstance(event, GateHeartbeat):
            pass  # it only moves the clock
        elif isinstance(event, RiskAreaUpdate):
            self.risk[event.region] = (
                *self.risk.get(event.region, ()),
                (event.event_time, event.colour),
            )
        else:
            raise TypeError(f"not a canonical event: {type(event).__name__}")
        self._drain()
        self.advance(self.watermark)

    def advance(self, watermark: datetime) -> None:
        """Fire every deadline at or before ``watermark`` (each key at most once per call)."""
        done: set[tuple[str, str]] = set()
        until = watermark.timestamp()
        while self._due and self._due[0][0] <= until:
            _, stage, key = heapq.heappop(self._due)
            if (stage, key) in done:
                continue
            done.add((stage, key))
            if stage == "person" and key in self.people:
                due = person_stage.next_due(self.people[key], self.rules)
                if due is not None and due <= watermark:
                    self._person_out(
                        key, person_stage.on_due(self.people[key], self.rules, watermark, NO_LAG)
                    )
            elif stage == "vehicle" and key in self.vehicles:
                due = vehicle_stage.next_due(self.vehicles[key], self.rules)
                if due is not None and due <= watermark:
                    self._vehicle_out(
                        key, vehicle_stage.on_due(self.vehicles[key], self.rules, watermark)
                    )
            self._drain()

    def current(self) -> dict[str, Decision]:
        """The latest decision of every entry."""
        latest: dict[str, Decision] = {}
        for decision in self.decisions:
            if decision.revision >= latest.get(decision.entry_id, decision).revision:
                latest[decision.entry_id] = decision
        return latest

    def _drain(self) -> None:
        while self._queue:
            message = self._queue.popleft()
            if isinstance(message, PersonCheck):
                self._person_out(
                    message.person,
                    person_stage.on_check(
                        self._person(message.person), message, self.rules, self.watermark, NO_LAG
                    ),
                )
            elif isinstance(message, PersonVerdict):
                self._vehicle_out(
                    message.plate,
                    vehicle_stage.on_verdict(
                        self._vehicle(message.plate),
                        message,
                        self._next_offset("sentinel.person-verdicts"),
                        self.rules,
                    ),  # fmt: skip
                )
            elif isinstance(message, Obligation):
                state = person_stage.on_obligation(self._person(message.person), message)
                self._set_person(message.person, state)

    def _person(self, key: str) -> PersonState:
        return self.people.get(key) or PersonState()

    def _vehicle(self, key: str) -> VehicleState:
        return self.vehicles.get(key) or VehicleState()

    def _set_person(self, key: str, state: PersonState) -> None:
        self.people[key] = state
        due = person_stage.next_due(state, self.rules)
        if due is not None:
            heapq.heappush(self._due, (due.timestamp(), "person", key))

    def _person_out(self, key: str, output: person_stage.PersonOutput) -> None:
        self._set_person(key, output.state)
        if not output.resent:
            self._queue.extend(output.verdicts)
            self.alerts.extend(output.alerts)

    def _vehicle_out(self, plate: str, output: vehicle_stage.VehicleOutput) -> None:
        self.vehicles[plate] = output.state
        due = vehicle_stage.next_due(output.state, self.rules)
        if due is not None:
            heapq.heappush(self._due, (due.timestamp(), "vehicle", plate))
        self._queue.extend(output.checks)  # sent again for a repeated entry, as by the agent
        if output.resent:
            return
        self._queue.extend(output.obligations)
        self.obligations.extend(output.obligations)
        self.decisions.extend(output.decisions)
        self.alerts.extend(output.alerts)

    def _ref(self, event: Any) -> EvidenceRef:
        topic = CANONICAL_TOPIC_OF[type(event)]
        offset = self._next_offset(topic)
        return EvidenceRef(event_id=event.event_id, topic=topic, partition=0, offset=offset)

    def _next_offset(self, topic: str) -> int:
        """Where the next message of ``topic`` would be, were it one partition."""
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        return offset

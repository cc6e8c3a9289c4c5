"""The decide stage's work, pure: a batch of raw records in; what to send, in the order to send it,
out. No Faust, no Kafka: the decide stage's agent feeds it what it reads and sends what it says
(``streams/agents/decide.py``); ``sentinel backtest``, the bench and the tests drive this same
object with records from a file or a test.

A batch, record by record (:meth:`Processor.read`):

- ingested (``streams/ingest.py``): validated and pseudonymised, or dead-lettered with the reason
  (and counted towards the partition's DLQ limit, which quarantines it when tripped);
- an event keyed by the old scheme (by plate or person) lands on a partition that is not its
  park's: it is sent again to its topic keyed by its park, and decided when it arrives there;
- fed to the rule engine (``streams/engine``), its canonical form sent on; an event the engine
  cannot take is dead-lettered too: nothing stops the stage.

Then the engine's clock advances as far as the inputs allow (:meth:`Processor.advance`), and
:meth:`Processor.take` says what came of it: the outputs (canonical events, decisions, alerts,
traces, resolutions, notices, late events, dead letters), the rollups folded, and the state
records of what changed, which go out only once the outputs are delivered
(``streams/agents/batches.py``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from schemas import (
    Alert,
    AntigenTest,
    GateHeartbeat,
    NatReport,
    RiskAreaUpdate,
    VehicleEntry,
    VehicleExit,
)
from schemas.notice import PositiveNotice
from schemas.operations import Quarantine
from streams import metrics
from streams.engine import Engine, records
from streams.engine.lanes import Lanes
from streams.engine.outputs import Decided, Outputs
from streams.ingest import Accepted, BadShareGuard, Ingestor, describe
from streams.outbox import Headers, Send, dead_letter
from streams.parktime import local_day
from streams.rollups import Rollups
from streams.rules.kinds import Ref
from streams.settings import Settings
from streams.topics import PARK_TOPICS, RAW_TO_CANONICAL, partition_of

log = logging.getLogger(__name__)
ROLLUPS = "\x1drollups"  # the "park" of a shard's rollup facts (no park name holds \x1d)
LANES = (*PARK_TOPICS, "health.nat")  # the inputs whose progress holds the parks' clocks
FACT_RETENTION = timedelta(days=60)  # rollup facts of days this far behind are final


@dataclass(frozen=True, slots=True)
class Raw:
    """A record of a raw topic, as read."""

    topic: str  # the catalogue name
    value: bytes | None
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    timestamp: float = 0.0  # the record's, in seconds
    headers: Headers = ()


@dataclass(slots=True)
class Batch:
    """What came of a batch: first ``outputs`` (delivered), then ``state`` (in this order)."""

    outputs: list[Send] = field(default_factory=list)
    state: list[Send] = field(default_factory=list)
    decisions: list[Decided] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


class DlqLimit(Protocol):
    """The DLQ limit's quarantine (``streams/agents/quarantine.py``): which bad records count
    towards it, and what to do when it trips."""

    def read(self, topic: str, partition: int, offset: int) -> None: ...

    def counts(self, topic: str, partition: int, offset: int) -> bool: ...

    def trip(self, topic: str, message: Any, guard: BadShareGuard) -> Quarantine: ...


@dataclass(frozen=True)
class Limits:
    """The DLQ limit: more than ``max_share`` of a partition's last ``window`` records bad."""

    window: int = Settings.model_fields["dlq_window"].default
    max_share: float = Settings.model_fields["dlq_max_share"].default


class Processor:
    def __init__(
        self,
        engine: Engine,
        ingestor: Ingestor,
        rollups: Rollups | None = None,
        *,
        partitions: int = 1,
        lanes: Lanes | None = None,
        limits: Limits = Limits(),
        quarantine: DlqLimit | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        prefix: str = "",
    ) -> None:
        self.engine = engine
        self.ingestor = ingestor
        self.rollups = rollups or Rollups()
        self.partitions = partitions
        self.lanes = lanes or Lanes(LANES, 0.0)
        self.limits = limits
        self.quarantine = quarantine
        self.wall = wall  # what "now" is to ingestion (an event from the future is refused)
        self.prefix = prefix  # of the topics' names (a dead letter names its source's)
        self.parks_of: dict[int, set[str]] = {}  # partition -> the parks seen there
        self.guards: dict[tuple[str, int], BadShareGuard] = {}
        self._out = Batch()
        self._folds: list[tuple[int, Any]] = []  # (shard, event) read, for rollups
        self._arrived: dict[str, float] = {}  # entry id -> its record's timestamp, until decided

    # -- reading -----------------------------------------------------------------------------

    def read(self, raw: Raw, now: float | None = None) -> None:
        """One raw record. ``now``: monotonic seconds, for how long an input lane is idle."""
        source, partition = raw.topic, raw.partition
        if self.quarantine is not None:
            self.quarantine.read(source, partition, raw.offset)
        result = self.ingestor.ingest(source, raw.value, now=self.wall())
        metrics.EVENTS_IN.labels(source).inc()
        guard = self.guards.get((source, partition))
        if guard is None:
            window = self.limits.window
            guard = self.guards[(source, partition)] = BadShareGuard(
                window=window, max_share=self.limits.max_share, min_messages=window // 4
            )
        if not isinstance(result, Accepted):
            self._dead(raw, "ingest", result.error_class, result.error_message)
            log.warning(
                "dead-lettered %s[%d]@%d: %s: %s",
                source,
                partition,
                raw.offset,
                result.error_class,
                result.error_message,
            )
            self._count_bad(raw, guard)
            return
        guard.record(bad=False)
        park = result.park
        if park is not None and partition_of(park.encode(), self.partitions) != partition:
            self._rekey(raw, park)
            return
        try:
            self._decide(source, partition, result, raw.timestamp)
        except Exception as exc:  # noqa: BLE001 - the stage goes on; the event is kept
            reason = (
                describe(exc)
                if isinstance(exc, ValidationError)
                else f"{type(exc).__name__}: {exc}"
            )
            log.exception("the engine could not take %s[%d]@%d", source, partition, raw.offset)
            self._dead(raw, "decide", type(exc).__name__, reason[:500])
        if source in self.lanes.topics:
            self.lanes.processed(
                source,
                partition,
                raw.offset,
                result.event_time,
                time.monotonic() if now is None else now,
            )

    def forget_guard(self, topic: str, partition: int) -> None:
        """A quarantine lifted: the partition's window starts afresh."""
        self.guards.pop((topic, partition), None)

    def _count_bad(self, raw: Raw, guard: BadShareGuard) -> None:
        if self.quarantine is None:
            guard.record(bad=True)
            return
        counted = self.quarantine.counts(raw.topic, raw.partition, raw.offset)
        if counted and guard.record(bad=True):
            record = self.quarantine.trip(raw.topic, raw, guard)
            self._out.outputs.append(
                Send("sentinel.quarantine", record.key(), record.model_dump_json().encode(), 0)
            )

    def _dead(self, raw: Raw, stage: Any, error_class: str, message: str) -> None:
        source = replace(raw, topic=self.prefix + raw.topic)
        self._out.outputs.append(dead_letter(source, raw.topic, stage, error_class, message))

    def _rekey(self, raw: Raw, park: str) -> None:
        """Keyed by the old scheme: to its park's partition, where it is decided."""
        metrics.REKEYED.labels(raw.topic).inc()
        headers = (("rekeyed_from", f"{raw.partition}:{raw.offset}".encode()),)
        self._out.outputs.append(Send(raw.topic, park.encode(), raw.value, None, headers))

    def _decide(self, source: str, partition: int, accepted: Accepted, timestamp: float) -> None:
        """The engine takes the event (with ``loopback``, it also learns at once what a worker
        learns from the shared topics: a lab report, a risk colour)."""
        event = accepted.event
        canonical = RAW_TO_CANONICAL[source]
        if isinstance(event, NatReport):
            shard = partition_of(accepted.key, self.partitions)
            self.engine.feed(event, Ref(accepted.event_id, "canonical.nat", shard))
            self._send("canonical.nat", accepted.key, accepted.value)
            self._folds.append((partition, event))
            return
        if isinstance(event, RiskAreaUpdate):
            if self.engine.loopback:
                self.engine.feed(event)
            self._send("canonical.risk-areas", accepted.key, accepted.value, 0)
            return
        assert accepted.park is not None
        self.parks_of.setdefault(partition, set()).add(accepted.park)
        self.engine.feed(event, Ref(accepted.event_id, canonical or source, partition))
        if canonical is not None and canonical != "canonical.resolutions":
            self._send(canonical, accepted.key, accepted.value, partition)
        if isinstance(event, VehicleEntry | VehicleExit | AntigenTest):
            self._folds.append((partition, event))
        if isinstance(event, VehicleEntry | VehicleExit | GateHeartbeat):
            metrics.GATE_LAST_SEEN.labels(event.park, event.gate).set(time.time())
        if isinstance(event, VehicleEntry):
            metrics.GATE_ENTRIES.labels(event.park, event.gate).inc()
            self._arrived[event.event_id] = timestamp

    # -- the clock -----------------------------------------------------------------------------

    def advance(self, until: datetime | None = None) -> None:
        """Move the parks' clocks: as far as their inputs allow (``Engine.bound``), or to
        ``until`` (the end of a file)."""
        self.engine.advance(until)

    # -- state -----------------------------------------------------------------------------------

    def restore(self, partition: int, grouped: dict[str, dict[str, bytes]]) -> None:
        """A partition's state records, read back: ``park -> entity -> value`` (the latest
        value of each key; :data:`ROLLUPS` for the partition's rollup facts)."""
        for park, entities in grouped.items():
            if park == ROLLUPS:
                for key, value in entities.items():
                    self.rollups.put(partition, key, json.loads(value))
                continue
            records.load(self.engine.park(park), entities)
            self.parks_of.setdefault(partition, set()).add(park)

    def snapshot(self, partition: int) -> dict[str, dict[str, bytes]]:
        """A partition's state as :meth:`restore` takes it back: what its changelog holds once
        the records of the last :meth:`take` are written (the local store keeps it,
        ``streams/agents/local.py``)."""
        grouped: dict[str, dict[str, bytes]] = {}
        facts = {
            key: json.dumps(fact, separators=(",", ":")).encode()
            for key, fact in self.rollups.facts_of(partition)
        }
        if facts:
            grouped[ROLLUPS] = facts
        for name in self.parks_of.get(partition, ()):
            park = self.engine.parks.get(name)
            if park is None:
                continue
            kept = {}
            for entity in records.entities(park):
                value = records.dump(park, entity)
                if value is not None:
                    kept[entity] = value
            grouped[name] = kept
        return grouped

    def prune_facts(self, shards: Iterable[int]) -> None:
        """Drop the rollup facts of days more than ``FACT_RETENTION`` behind each shard's
        parks: their groups are final (call it once their snapshots are written)."""
        for shard in shards:
            held = self.engine.parks
            parks = [held[p] for p in self.parks_of.get(shard, ()) if p in held]
            if parks:
                horizon = local_day(min(p.watermark for p in parks) - FACT_RETENTION)
                self.rollups.prune(shard, horizon)

    def drop(self, partition: int) -> None:
        """A partition another worker holds now: its parks and rollup facts go."""
        for park in self.parks_of.pop(partition, set()):
            self.engine.parks.pop(park, None)
        self.rollups.drop_shard(partition)

    # -- what came of it -------------------------------------------------------------------------

    def take(self, state: bool = True) -> Batch:
        """What to send since the last take: the outputs, then the state records (without
        ``state``, none are made: a replay that keeps no state, such as the backtest)."""
        out = self.engine.take()
        self._outputs(out)
        batch, self._out = self._out, Batch()
        batch.decisions, batch.alerts = out.decisions, out.alerts
        if state:
            batch.state = list(self._state())
        else:  # what changed is taken all the same: it would be written with the next batch
            self.rollups.take_changed()
            all(True for _ in self.engine.dirty())
        return batch

    def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
        headers: Headers = (),
    ) -> None:
        self._out.outputs.append(Send(topic, key, value, partition, headers))

    def _to_park(self, topic: str, park: str, model: Any) -> None:
        """A record keyed by its park, on the park's partition (as Kafka's partitioner would)."""
        key = park.encode()
        self._send(topic, key, model.model_dump_json().encode(), partition_of(key, self.partitions))

    def _shard(self, park: str) -> int:
        return partition_of(park.encode(), self.partitions)

    def _outputs(self, out: Outputs) -> None:
        debug = log.isEnabledFor(logging.DEBUG)
        for shard, event in self._folds:
            self.rollups.fold(shard, event)
        self._folds = []
        for decision in out.decisions:
            self._send("sentinel.decisions", decision.entry_id.encode(), decision.json())
            self.rollups.fold(self._shard(decision.park), decision)
            metrics.DECISIONS.labels(decision.outcome).inc()
            if (arrived := self._arrived.pop(decision.entry_id, None)) is not None:
                metrics.DECISION_LATENCY.observe(max(0.0, time.time() - arrived))
            for rule in decision.failed_rules:
                metrics.RULE_FAILURES.labels(rule).inc()
            if debug:
                log.debug(
                    "decision %s: %s %s",
                    decision.event_id,
                    decision.outcome,
                    ",".join(decision.failed_rules + decision.pending_rules) or "-",
                )
        for alert in out.alerts:
            self._send(
                "sentinel.alerts", alert.dedup_key.encode(), alert.model_dump_json().encode()
            )
            if alert.park != "-":
                self.rollups.fold(self._shard(alert.park), alert)
            if alert.resolved_at is None:
                metrics.ALERTS.labels(alert.severity, alert.rule).inc()
                log.warning("alert %s %s: %s", alert.severity, alert.rule, alert.dedup_key)
        for obligation in out.obligations:
            self.rollups.fold(self._shard(obligation.park), obligation)
        for trace in out.traces:
            self._to_park("sentinel.traces", trace.park, trace)
        for resolution in out.resolutions:
            self._to_park("canonical.resolutions", resolution.park, resolution)
            log.info(
                "resolution %s of %s by %s: %s",
                resolution.event_id,
                resolution.entry_id,
                resolution.officer,
                "accepted" if resolution.accepted else f"refused ({resolution.refusal})",
            )
        for notice in out.notices:
            key = notice.person if isinstance(notice, PositiveNotice) else notice.plate
            self._send("sentinel.evidence", key.encode(), notice.model_dump_json().encode())
        for late in out.late:
            metrics.LATE.labels(late.topic).inc()
            log.warning(
                "late: %s %s at park %s, %s behind its watermark",
                late.topic,
                late.event_id,
                late.park,
                late.watermark - late.event_time,
            )
            self._send(
                "sentinel.late",
                late.park.encode(),
                late.event.model_dump_json().encode(),
                self._shard(late.park),
                (
                    ("watermark", late.watermark.isoformat().encode()),
                    ("topic", late.topic.encode()),
                ),
            )

    def _state(self) -> Iterator[Send]:
        """The state records of what changed: the rollup facts first, then the parks' state, in
        one changelog partition per park (so in this order there). A crash can leave a prefix of
        these records delivered: an event whose park state was kept is not decided again when
        read again, so its facts must have been kept before it; an event whose state was not is
        decided and folded again (a fold is idempotent). Parks' state first lost the facts of
        the last decisions before a SIGKILL (the story test's rollups fell short of the raw
        tables). Within a park, the engine gives the order that keeps any prefix whole
        (``records.write_order``)."""
        topic = "sentinel.decide-state"
        for shard, key in self.rollups.take_changed():
            fact = self.rollups.fact(shard, key)
            value = None if fact is None else json.dumps(fact, separators=(",", ":")).encode()
            yield Send(topic, records.key_of(ROLLUPS, key), value, shard)
        for park, entity in self.engine.dirty():
            yield Send(
                topic,
                records.key_of(park.name, entity),
                records.dump(park, entity),
                self._shard(park.name),
            )

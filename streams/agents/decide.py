"""The decide stage: one agent reads every raw topic and, a park's partition at a time, validates
and pseudonymises each event, runs the rule engine (``streams/engine``), folds the rollups, and
sends what came of it. One Faust message per raw event.

A batch is committed in one order, written here once:

1. read: each event ingested, fed to the engine, or dead-lettered with the reason (an event the
   engine cannot take is dead-lettered too: nothing stops the stage);
2. decide: the engine's clock advances as far as every input of the batch's partitions allows
   (:class:`~streams.engine.lanes.Lanes`);
3. send the outputs (canonical events, decisions, alerts, traces, notices, late events, dead
   letters) and wait for the broker to have them all;
4. only then send the state records of what changed (``streams/agents/state.py``): the
   rollup facts first, then the parks' state;
5. return: Faust acks the batch, and commits its offsets after flushing the producer.

A crash before 4 leaves no state saying "sent" for outputs that were not: the inputs are read
again and send them again (downstream everything is idempotent, by event id). A crash between 4
and 5 reads inputs again whose effects are in the state: they change nothing, and what they sent
was delivered in 3. A timer runs steps 2 to 4 every second, for deadlines when no traffic comes.

An event keyed by the old scheme (by plate or person) lands on a partition that is not its
park's: it is sent again to its topic keyed by its park, and decided when it arrives there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from faust.types import TP
from mode import CrashingSupervisor
from pydantic import ValidationError

from schemas import (
    AntigenTest,
    GateHeartbeat,
    NatReport,
    RiskAreaUpdate,
    VehicleEntry,
    VehicleExit,
)
from schemas.notice import PositiveNotice
from schemas.operations import Quarantine
from streams import access, metrics
from streams.agents._topics import Topics
from streams.agents.batches import exit_unacked
from streams.agents.dead_letters import DeadLetters
from streams.agents.follow import Follower
from streams.agents.quarantine import Quarantines
from streams.agents.state import ROLLUPS, StateStore
from streams.engine import Engine
from streams.engine.lanes import Lanes
from streams.engine.outputs import Outputs
from streams.ingest import Accepted, BadShareGuard, Ingestor, describe
from streams.parktime import local_day
from streams.pseudonym import Pseudonymiser
from streams.rollups import TABLES, Rollups, VersionClock
from streams.rules.kinds import Ref
from streams.settings import Settings
from streams.sink.clickhouse import ClickHouseWriter
from streams.topics import PARK_TOPICS, RAW_TO_CANONICAL, partition_of

log = logging.getLogger(__name__)
RAW_TOPICS = (*PARK_TOPICS, "health.nat", "ref.risk-areas")
FACT_RETENTION = timedelta(days=60)  # rollup facts of days this far behind are final


class DecideStage:
    def __init__(
        self,
        app: faust.App,
        topics: Topics,
        settings: Settings,
        engine: Engine,
        store: StateStore,
        rollups: Rollups,
        followers: list[Follower],
    ) -> None:
        self.app = app
        self.topics = topics
        self.settings = settings
        self.engine = engine
        self.store = store
        self.rollups = rollups
        self.followers = followers
        self.lanes = Lanes((*PARK_TOPICS, "health.nat"), settings.source_idle_seconds)
        self.lock = asyncio.Lock()
        self.ingestor = Ingestor(
            Pseudonymiser(access.pseudonym_key(settings)),
            max_message_bytes=settings.max_message_bytes,
            future_tolerance=timedelta(seconds=settings.future_tolerance_seconds),
        )
        self.dlq = DeadLetters(app.producer, settings.topic("sentinel.dlq"))
        self.guards: dict[tuple[str, int], BadShareGuard] = {}
        self.quarantines = Quarantines(app, settings)
        self.rebalancing = False  # between a revocation and the next assignment
        self._folds: list[tuple[int, Any]] = []  # (shard, event) read this batch, for rollups
        self._pending: list[Awaitable[Any]] = []  # outputs sent this batch
        self._queue: list[tuple[str, bytes | None, bytes | None, int | None, Any]] = []
        # What the followers read that changes decisions (lab reports, other parks' notices):
        # applied under the lock, between batches, so that its outputs and state go out in order.
        self.inbox: list[Callable[[], None]] = []
        self._arrived: dict[str, float] = {}  # entry id -> its record's timestamp, until decided
        engine.bound = self._bound

    # -- reading -----------------------------------------------------------------------------

    async def ready(self) -> None:
        """Nothing is decided before the rule sets, risk areas, lab reports and other parks'
        notices are read to their end: the bundled rules or a green origin would decide."""
        await asyncio.gather(*(f.caught_up.wait() for f in self.followers))

    async def handle(self, batch: list[faust.EventT[bytes]]) -> None:
        await self.ready()
        async with self.lock:
            self._drain_inbox()
            now = time.monotonic()
            metrics.DECIDE_BATCH_EVENTS.observe(len(batch))
            for event in batch:
                message = event.message
                await self.store.ready(message.partition)
                await self._one(self.topics.base(message.topic), message, now)
            self.engine.advance()
            await self._flush()

    async def _one(self, source: str, message: Any, now: float) -> None:
        self.quarantines.read(source, message.partition, message.offset)
        result = self.ingestor.ingest(source, message.value, now=datetime.now(UTC))
        metrics.EVENTS_IN.labels(source).inc()
        guard = self.guards.setdefault(
            (source, message.partition),
            BadShareGuard(
                window=self.settings.dlq_window,
                max_share=self.settings.dlq_max_share,
                min_messages=self.settings.dlq_window // 4,
            ),
        )
        if not isinstance(result, Accepted):
            self._pending.append(
                await self.dlq.send(
                    message,
                    source,
                    "ingest",
                    result.error_class,
                    result.error_message,
                    result.schema_version,
                )
            )
            log.warning(
                "dead-lettered %s[%d]@%d: %s: %s",
                message.topic,
                message.partition,
                message.offset,
                result.error_class,
                result.error_message,
            )
            counted = self.quarantines.counts(source, message.partition, message.offset)
            if counted and guard.record(bad=True):
                record = self.quarantines.trip(source, message, guard)
                self._send(
                    "sentinel.quarantine", record.key(), record.model_dump_json().encode(), 0
                )
            return
        guard.record(bad=False)
        partition = message.partition
        if (
            result.park is not None
            and partition_of(result.park.encode(), self.settings.partitions) != partition
        ):
            await self._rekey(source, message, result.park)
            return
        try:
            self._decide(source, partition, result, message.timestamp)
        except Exception as exc:  # noqa: BLE001 - the stage goes on; the event is kept
            reason = (
                describe(exc)
                if isinstance(exc, ValidationError)
                else f"{type(exc).__name__}: {exc}"
            )
            log.exception(
                "the engine could not take %s[%d]@%d", message.topic, partition, message.offset
            )
            self._pending.append(
                await self.dlq.send(message, source, "decide", type(exc).__name__, reason[:500])
            )
        if source in self.lanes.topics:
            self.lanes.processed(source, partition, message.offset, result.event_time, now)

    def learn_quarantine(self, record: Quarantine) -> None:
        """A record of ``sentinel.quarantine`` (``streams/agents/quarantine.py``)."""
        self.quarantines.learn(record)
        if record.state == "lifted":
            self.guards.pop((record.topic, record.partition), None)  # its window starts afresh

    def _decide(self, source: str, partition: int, accepted: Accepted, timestamp: float) -> None:
        event = accepted.event
        canonical = RAW_TO_CANONICAL[source]
        ref = Ref(accepted.event_id, canonical or source, partition)
        if isinstance(event, NatReport):
            ref = Ref(
                accepted.event_id,
                "canonical.nat",
                partition_of(accepted.key, self.settings.partitions),
            )
            self.engine.ingest_nat(event, ref)
            self._send("canonical.nat", accepted.key, accepted.value)
            self._folds.append((partition, event))
            return
        if isinstance(event, RiskAreaUpdate):
            self._send("canonical.risk-areas", accepted.key, accepted.value, 0)
            return
        assert accepted.park is not None
        self.store.parks_of.setdefault(partition, set()).add(accepted.park)
        self.engine.feed_park(event, ref)
        if canonical is not None and canonical != "canonical.resolutions":
            self._send(canonical, accepted.key, accepted.value, partition)
        if isinstance(event, VehicleEntry | VehicleExit | AntigenTest):
            self._folds.append((partition, event))
        if isinstance(event, VehicleEntry | VehicleExit | GateHeartbeat):
            metrics.GATE_LAST_SEEN.labels(event.park, event.gate).set(time.time())
        if isinstance(event, VehicleEntry):
            metrics.GATE_ENTRIES.labels(event.park, event.gate).inc()
            self._arrived[event.event_id] = timestamp

    async def _rekey(self, source: str, message: Any, park: str) -> None:
        """Keyed by the old scheme: to its park's partition, where it is decided."""
        metrics.REKEYED.labels(source).inc()
        headers = [("rekeyed_from", f"{message.partition}:{message.offset}".encode())]
        self._pending.append(
            await self.app.producer.send(
                message.topic, park.encode(), message.value, None, None, headers
            )
        )

    def _drain_inbox(self) -> None:
        inbox, self.inbox = self.inbox, []
        for learn in inbox:
            try:
                learn()
            except Exception:  # noqa: BLE001 - the record stays in its topic
                log.exception("could not apply a record read by a follower")

    # -- the clock -----------------------------------------------------------------------------

    def _highwater(self, topic: str, partition: int) -> int | None:
        try:
            value = self.app.consumer.highwater(TP(self.settings.topic(topic), partition))
        except AssertionError:  # aiokafka: not assigned (any more): nothing to wait for
            return None
        return None if value is None else int(value)

    def _committed(self, topic: str, partition: int) -> int | None:
        consumer: Any = self.app.consumer
        value = consumer._committed_offset.get(TP(self.settings.topic(topic), partition))
        return None if value is None else int(value)

    def _bound(self, park: str) -> datetime:
        partition = partition_of(park.encode(), self.settings.partitions)
        return self.lanes.bound(
            partition, self._highwater, self._committed, time.monotonic(), PARK_TOPICS
        )

    async def revoked(self) -> None:
        """A rebalance began: Faust has let the batch in flight finish and flushed the producer.
        Until the new assignment, nothing more is decided, sent or flushed for the parks held
        now: their next owner restores them from what is in the changelog at that moment, and
        a decision sent after it (a deadline of the clock, a lab result read meanwhile) would be
        missing from that owner's state and rollups."""
        async with self.lock:
            self.rebalancing = True
            await self.app.producer.flush()

    def assigned(self, taken: list[int], given_up: list[int]) -> None:
        """Partitions this worker has just taken (their lanes hold the clock for a moment) and
        given up (their lanes go)."""
        self.lanes.revoked(given_up)
        self.lanes.assigned(taken, time.monotonic())
        self.quarantines.given_up(given_up)
        self.rebalancing = False

    async def tick(self) -> None:
        """Deadlines with no traffic (the bound moves when a lane drains or goes idle), the
        lag of the shared streams, and the metrics."""
        if self.rebalancing or not self.followers:
            return
        if not all(f.caught_up.is_set() for f in self.followers):
            return
        async with self.lock:
            if self.rebalancing:
                return
            self._drain_inbox()
            await self.quarantines.read_lifted()
            self._lagging()
            self.engine.advance()
            await self._flush()
        metrics.CLOCK_TICKS.inc()
        parks = self.engine.parks.values()
        metrics.WATERMARK.clear()  # the parks this worker holds now
        for park in parks:
            metrics.WATERMARK.labels(park.name).set(park.watermark.timestamp())
        metrics.PENDING_TIMERS.labels("decide").set(sum(len(p._heap) for p in parks))

    def _lagging(self) -> None:
        highwater = self._highwater
        lag_max = self.settings.evidence_lag_max
        by_topic = {f.base: f.lag for f in self.followers}
        nat = by_topic.get("canonical.nat", 0) + self.lanes.behind("health.nat", highwater)
        lagging = frozenset(
            name
            for name, behind in (("nat", nat), ("positives", by_topic.get("sentinel.evidence", 0)))
            if behind > lag_max
        )
        if lagging != self.engine.shared.lagging:
            log.warning("shared evidence read too late: %s", ", ".join(sorted(lagging)) or "none")
            self.engine.shared.lagging = lagging
            self.engine.rejudge()  # what was pending on an absence, or failed on one: again
        for topic in (*PARK_TOPICS, "health.nat"):
            metrics.CONSUMER_LAG.labels(topic).set(self.lanes.behind(topic, highwater))

    # -- sending -------------------------------------------------------------------------------

    def _send(
        self,
        base: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        self._queue.append((self.settings.topic(base), key, value, partition, headers))

    def _send_to_park(self, base: str, park: str, model: Any) -> None:
        """A record keyed by its park, on the park's partition (as Kafka's partitioner would)."""
        key = park.encode()
        self._send(
            base, key, model.model_dump_json().encode(), partition_of(key, self.settings.partitions)
        )

    async def _flush(self) -> None:
        """Steps 3 and 4 (see the module docstring)."""
        out = self.engine.take()
        self._outputs(out)
        producer = self.app.producer
        queue, self._queue = self._queue, []
        for topic, key, value, partition, headers in queue:
            self._pending.append(await producer.send(topic, key, value, partition, None, headers))
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)
        state = self.settings.topic("sentinel.decide-state")
        # The rollup facts first, then the parks' state, in one changelog partition per park (so
        # in this order there). A crash can leave a prefix of these records delivered: an event
        # whose park state was kept is not decided again when read again, so its facts must have
        # been kept before it; an event whose state was not is decided and folded again (a fold
        # is idempotent). Parks' state first lost the facts of the last decisions before a
        # SIGKILL (the story test's rollups fell short of the raw tables). Within a park, the
        # engine gives the order that keeps any prefix whole (``records.write_order``).
        dirty = [(ROLLUPS, key, shard) for shard, key in self.rollups.take_changed()]
        dirty += [
            (park.name, entity, partition_of(park.name.encode(), self.settings.partitions))
            for park, entity in self.engine.dirty()
        ]
        size = 0
        for partition, key, value in self.store.records(dirty):
            await producer.send(state, key, value, partition, None, None)
            size += len(key) + len(value or b"")
        metrics.STATE_RECORDS.inc(len(dirty))
        metrics.STATE_BYTES.inc(size)

    def _outputs(self, out: Outputs) -> None:
        partitions = self.settings.partitions
        for shard, event in self._folds:
            self.rollups.fold(shard, event)
        self._folds = []
        for decision in out.decisions:
            self._send("sentinel.decisions", decision.entry_id.encode(), decision.json())
            shard = partition_of(decision.park.encode(), partitions)
            self.rollups.fold(shard, decision)
            metrics.DECISIONS.labels(decision.outcome).inc()
            if (arrived := self._arrived.pop(decision.entry_id, None)) is not None:
                metrics.DECISION_LATENCY.observe(max(0.0, time.time() - arrived))
            for rule in decision.failed_rules:
                metrics.RULE_FAILURES.labels(rule).inc()
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
                self.rollups.fold(partition_of(alert.park.encode(), partitions), alert)
            if alert.resolved_at is None:
                metrics.ALERTS.labels(alert.severity, alert.rule).inc()
                log.warning("alert %s %s: %s", alert.severity, alert.rule, alert.dedup_key)
        for obligation in out.obligations:
            self.rollups.fold(partition_of(obligation.park.encode(), partitions), obligation)
        for trace in out.traces:
            self._send_to_park("sentinel.traces", trace.park, trace)
        for resolution in out.resolutions:
            self._send_to_park("canonical.resolutions", resolution.park, resolution)
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
            behind = late.watermark - late.event_time
            log.warning(
                "late: %s %s at park %s, %s behind its watermark",
                late.topic,
                late.event_id,
                late.park,
                behind,
            )
            self._send(
                "sentinel.late",
                late.park.encode(),
                late.event.model_dump_json().encode(),
                partition_of(late.park.encode(), partitions),
                [
                    ("watermark", late.watermark.isoformat().encode()),
                    ("topic", late.topic.encode()),
                ],
            )

    # -- rollups ---------------------------------------------------------------------------------

    async def flush_rollups(self, writer: ClickHouseWriter, versions: VersionClock) -> None:
        """Snapshots of the changed groups to ClickHouse; then the facts of days older than
        ``FACT_RETENTION`` behind a shard's parks are dropped, once their groups are written
        (a write held up by a ClickHouse hang may see the clock run weeks on meanwhile)."""
        shards = self.store.restored_partitions
        if not shards or self.rebalancing:
            return  # (rebalancing: a later owner's snapshot must not be overwritten by ours)
        metrics.ROLLUP_FLUSHES.inc()
        async with self.lock:  # snapshots of facts the batch in flight has not changed halfway
            if self.rebalancing:
                return
            flushed = self.rollups.flush(shards, versions.next(datetime.now(UTC)))
        try:
            for table, rows in flushed.items():
                for index in await writer.write(table, TABLES[table].columns, rows):
                    # Derived from the state, so no record to dead-letter: said loudly instead.
                    log.error(
                        "ClickHouse refused a row of %s (%s): %s",
                        table,
                        ", ".join(map(str, rows[index][: len(TABLES[table].keys)])),
                        writer.refusals[index],
                    )
        except BaseException:
            self.rollups.not_written()
            raise
        self.rollups.written()
        for shard in shards & self.store.restored_partitions:  # still held after the write
            parks = [
                self.engine.parks[p]
                for p in self.store.parks_of.get(shard, ())
                if p in self.engine.parks
            ]
            if parks:
                horizon = local_day(min(p.watermark for p in parks) - FACT_RETENTION)
                self.rollups.prune(shard, horizon)


def register(app: faust.App, topics: Topics, settings: Settings, stage: DecideStage) -> None:
    @app.agent(topics(*RAW_TOPICS), name="decide_releases", supervisor_strategy=CrashingSupervisor)
    async def decide_releases(stream: faust.StreamT[bytes]) -> None:
        async for batch in stream.take_events(  # type: ignore[attr-defined]
            settings.decide_batch, within=settings.decide_wait_seconds
        ):
            try:
                await stage.handle(batch)
            except BaseException as exc:  # noqa: BLE001
                exit_unacked("the decide stage", exc)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def decide_by_the_clock() -> None:
        await _survive("the decide stage's clock", stage.tick())

    writer = ClickHouseWriter(access.clickhouse_url(settings))
    versions = VersionClock()

    @app.timer(interval=settings.sink_flush_seconds)  # type: ignore[untyped-decorator]
    async def flush_rollups() -> None:
        await _survive("the rollups' flush", stage.flush_rollups(writer, versions))


_failing: dict[str, float] = {}


async def _survive(what: str, step: Awaitable[None]) -> None:
    """Run a timer's step; an error is logged (its traceback at most once a minute) and the
    timer runs again: a timer that raises would stop the whole worker."""
    try:
        await step
        _failing.pop(what, None)
    except Exception as exc:  # noqa: BLE001
        first = what not in _failing or time.monotonic() - _failing[what] > 60
        if first:
            _failing[what] = time.monotonic()
        log.error(
            "%s failed (%s: %s); it runs again in a second",
            what,
            type(exc).__name__,
            str(exc)[:200],
            exc_info=first,
        )

"""The decide stage: one consumer reads every raw topic and, a park's partition at a time, feeds
what it reads to the batch processor (``streams/processor.py``: ingestion, dead letters, the rule
engine, rollups, state records), then sends what the processor says, in the order every stage
commits in (``streams/agents/batches.py``): the outputs delivered, then the state records, then
the offsets. A timer advances the parks' clocks every second, for deadlines when no traffic
comes.

Not a Faust agent: a message through Faust's stream costs about as much as the rule engine's
work for an event (a bare Faust agent reads ~10,000 events/s on this kind of machine, aiokafka's
``getmany`` ~100,000: ``make bench``), and the stage needs nothing of Faust's stream but
offsets. Its consumer (aiokafka, group ``<app id>``) uses the range assignor, which gives
partition N of every raw topic (all have the catalogue's count) to one worker; it commits the
offsets of what it handled itself, once the batch's outputs and state records are delivered. A
batch read before a rebalance is dropped, not decided: the partitions' next owner, this worker
or another, reads it again from the last commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError

from schemas.operations import Quarantine
from streams import access, metrics
from streams.agents._topics import Topics
from streams.agents.batches import deliver, exit_unacked, survive
from streams.agents.follow import Follower
from streams.agents.quarantine import Quarantines
from streams.agents.state import StateStore, last_records
from streams.outbox import header
from streams.processor import LANES, Processor, Raw
from streams.rollups import TABLES, VersionClock
from streams.settings import Settings
from streams.sink.clickhouse import ClickHouseWriter
from streams.topics import PARK_TOPICS, partition_of

log = logging.getLogger(__name__)
RAW_TOPICS = (*PARK_TOPICS, "health.nat", "ref.risk-areas")


class DecideStage(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        app: faust.App,
        topics: Topics,
        settings: Settings,
        processor: Processor,
        store: StateStore,
        quarantines: Quarantines,
        followers: list[Follower],
    ) -> None:
        self.app = app
        self.topics = topics
        self.settings = settings
        self.processor = processor
        self.engine = processor.engine
        self.store = store
        self.quarantines = quarantines
        self.followers = followers
        self.lanes = processor.lanes
        self.lock = asyncio.Lock()
        self.rebalancing = False  # between a revocation and the next assignment
        self.stopping = False  # from a clean stop on: nothing more is decided
        # What the followers read that changes decisions (lab reports, other parks' notices):
        # applied under the lock, between batches, so that its outputs and state go out in order.
        self.inbox: list[Callable[[], None]] = []
        self.engine.bound = self._bound
        self.consumer: AIOKafkaConsumer | None = None  # while it runs
        self.generation = 0  # rebalances so far: a batch read before the last one is stale
        self._committed: dict[TopicPartition, int] = {}  # by this group, of what is held
        self.on_ready: Callable[[], Awaitable[None]] | None = None  # after each assignment

    # -- the consumer ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Read batches of up to ``decide_batch`` raw records (waiting at most
        ``decide_wait_seconds`` for one to fill) and decide them, until stopped. A batch that
        fails ends the process (:func:`exit_unacked`): the engine may have taken half of it in,
        and a restart restores the state from the changelog and reads the batch again."""
        settings = self.settings
        self.consumer = consumer = AIOKafkaConsumer(
            **access.aiokafka(settings),
            group_id=settings.app_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),
            # A worker killed without a goodbye is noticed after this long, and its parks move.
            session_timeout_ms=20_000,
            heartbeat_interval_ms=3_000,
            max_partition_fetch_bytes=4 << 20,
        )
        self.quarantines.consumer = consumer
        await consumer.start()
        consumer.subscribe([settings.topic(t) for t in RAW_TOPICS], listener=self)
        try:
            while True:
                records, generation = await self._take(consumer)
                if not records:
                    continue  # (the clock's timer advances the parks meanwhile)
                try:
                    await self.handle(records, generation)
                except asyncio.CancelledError:
                    raise  # a stop: nothing of the batch was committed
                except BaseException as exc:  # noqa: BLE001
                    exit_unacked("the decide stage", exc)
        finally:
            await consumer.stop()

    async def _take(self, consumer: AIOKafkaConsumer) -> tuple[list[ConsumerRecord], int]:
        """A batch, and the generation (rebalances so far) it was read in. What was read before
        a rebalance is let go: each assignment starts from the committed offsets."""
        size = self.settings.decide_batch
        records: list[ConsumerRecord] = []
        generation = self.generation
        deadline = None
        while len(records) < size:
            wait = 1.0 if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                break
            fetched = await consumer.getmany(
                timeout_ms=int(wait * 1000), max_records=size - len(records)
            )
            if generation != self.generation:
                records, generation = [], self.generation
            for part in fetched.values():
                records.extend(part)
            if records and deadline is None:
                deadline = time.monotonic() + self.settings.decide_wait_seconds
        return records, generation

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """A rebalance began: the batch in flight is finished (and committed) first. Until the
        new assignment, nothing more is decided, sent or flushed for the parks held now: their
        next owner restores them from what is in the changelog at that moment, and a decision
        sent after it (a deadline of the clock, a lab result read meanwhile) would be missing
        from that owner's state and rollups."""
        async with self.lock:
            self.rebalancing = True
            self.generation += 1
            await self.app.producer.flush()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self.consumer
        assert consumer is not None
        held = sorted(assigned)
        offsets = await asyncio.gather(*(consumer.committed(tp) for tp in held))
        self._committed = {tp: o for tp, o in zip(held, offsets, strict=True) if o is not None}
        partitions = {tp.partition for tp in held if self.topics.base(tp.topic) in LANES}
        new, gone = self.store.assign(partitions)
        self.assigned(new, gone)
        self.quarantines.pause()
        if self.on_ready is not None:
            asyncio.ensure_future(self.on_ready())

    # -- reading -----------------------------------------------------------------------------

    async def ready(self) -> None:
        """Nothing is decided before the rule sets, risk areas, lab reports and other parks'
        notices are read to their end: the bundled rules or a green origin would decide."""
        await asyncio.gather(*(f.caught_up.wait() for f in self.followers))

    async def handle(self, records: list[ConsumerRecord], generation: int) -> None:
        """Decide a batch read in ``generation``; commit what was handled."""
        await self.ready()
        async with self.lock:
            if generation != self.generation or self.rebalancing or self.stopping:
                return  # read before a rebalance (or a stop): the partitions' owner reads it again
            self._drain_inbox()
            now = time.monotonic()
            metrics.DECIDE_BATCH_EVENTS.observe(len(records))
            quarantined = self.quarantines.quarantined
            handled: dict[TopicPartition, int] = {}
            for record in records:
                topic = self.topics.base(record.topic)
                if (topic, record.partition) in quarantined:
                    continue  # paused now; read again from here when lifted
                if not self.store.restored(record.partition):
                    await self.store.ready(record.partition)
                self.processor.read(
                    Raw(
                        topic,
                        record.value,
                        record.partition,
                        record.offset,
                        record.key,
                        record.timestamp / 1000,
                        _replayed(record),
                    ),
                    now,
                )
                handled[TopicPartition(record.topic, record.partition)] = record.offset + 1
            self.processor.advance()
            await self._flush(handled)

    def learn_quarantine(self, record: Quarantine) -> None:
        """A record of ``sentinel.quarantine`` (``streams/agents/quarantine.py``)."""
        self.quarantines.learn(record)
        if record.state == "lifted":
            self.processor.forget_guard(record.topic, record.partition)

    def _drain_inbox(self) -> None:
        inbox, self.inbox = self.inbox, []
        for learn in inbox:
            try:
                learn()
            except Exception:  # noqa: BLE001 - the record stays in its topic
                log.exception("could not apply a record read by a follower")

    # -- the clock -----------------------------------------------------------------------------

    def _highwater(self, topic: str, partition: int) -> int | None:
        if self.consumer is None:
            return None
        try:
            value = self.consumer.highwater(TopicPartition(self.settings.topic(topic), partition))
        except AssertionError:  # aiokafka: not assigned (any more): nothing to wait for
            return None
        return None if value is None else int(value)

    def _committed_offset(self, topic: str, partition: int) -> int | None:
        return self._committed.get(TopicPartition(self.settings.topic(topic), partition))

    def _bound(self, park: str) -> datetime:
        partition = partition_of(park.encode(), self.settings.partitions)
        return self.lanes.bound(
            partition, self._highwater, self._committed_offset, time.monotonic(), PARK_TOPICS
        )

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
            if self.rebalancing or self.stopping:
                return
            self._drain_inbox()
            await self.quarantines.read_lifted()
            self._lagging()
            self.processor.advance()
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
        for topic in LANES:
            metrics.CONSUMER_LAG.labels(topic).set(self.lanes.behind(topic, highwater))

    async def _flush(self, handled: dict[TopicPartition, int] | None = None) -> None:
        """Deliver what the processor has to send; then commit ``handled`` (the next offset of
        each raw partition a batch read)."""
        batch = self.processor.take()

        async def commit() -> None:
            assert self.consumer is not None and handled
            try:
                await self.consumer.commit(handled)
            except CommitFailedError:
                # The group rebalanced meanwhile: the partitions' owner reads the batch again
                # from the last commit; its effects are in the state records by now, so it
                # changes nothing.
                log.info("the decide stage's group rebalanced during a batch: read again")
                return
            self._committed.update(handled)

        await deliver(
            self.app.producer,
            self.settings.topic,
            batch.outputs,
            batch.state,
            commit if handled else None,
        )

    # -- a clean stop --------------------------------------------------------------------------

    async def stop(self) -> None:
        """A clean stop, before the producer stops: the batch in flight is finished, nothing more
        is decided, what is pending goes out, and each restored partition's state is saved to
        the local store with the changelog's last record then (``streams/agents/local.py``), so
        that a restart reads only what comes after it."""
        local = self.store.local
        async with self.lock:
            self.stopping = True
            if self.rebalancing or self.consumer is None or local is None:
                return
            try:
                await self._flush()
                await self.app.producer.flush()
            except Exception as exc:  # noqa: BLE001 - then a restart reads the changelog
                log.warning(
                    "state not saved locally: its last records were not delivered (%s)", exc
                )
                return
            snapshots = {p: self.processor.snapshot(p) for p in self.store.restored_partitions}
        started = time.monotonic()
        try:
            anchors = await last_records(self.settings, local.topic, sorted(snapshots))
            for partition, anchor in anchors.items():
                await asyncio.to_thread(local.save, partition, anchor, snapshots[partition])
        except Exception as exc:  # noqa: BLE001 - a restart reads the changelog then
            log.warning("state not saved locally (%s: %s)", type(exc).__name__, exc)
            return
        log.info(
            "state of %d partitions saved to %s in %.1f s",
            len(anchors),
            local.path,
            time.monotonic() - started,
        )

    # -- rollups ---------------------------------------------------------------------------------

    async def flush_rollups(self, writer: ClickHouseWriter, versions: VersionClock) -> None:
        """Snapshots of the changed groups to ClickHouse; then the old facts are dropped, once
        their groups are written (:meth:`Processor.prune_facts`; a write held up by a
        ClickHouse hang may see the clock run weeks on meanwhile)."""
        shards = self.store.restored_partitions
        if not shards or self.rebalancing:
            return  # (rebalancing: a later owner's snapshot must not be overwritten by ours)
        metrics.ROLLUP_FLUSHES.inc()
        async with self.lock:  # snapshots of facts the batch in flight has not changed halfway
            if self.rebalancing or self.stopping:
                return
            flushed = self.processor.rollups.flush(shards, versions.next(datetime.now(UTC)))
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
            self.processor.rollups.not_written()
            raise
        self.processor.rollups.written()
        self.processor.prune_facts(shards & self.store.restored_partitions)  # still held


def register(app: faust.App, settings: Settings, stage: DecideStage) -> None:
    @app.task  # type: ignore[untyped-decorator]
    async def decide_releases() -> None:
        await stage.run()

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def decide_by_the_clock() -> None:
        await survive("the decide stage's clock", stage.tick())

    @app.on_before_shutdown.connect
    async def save_state(sender: Any, /, *_: Any, signal: Any, **__: Any) -> None:
        # Faust stops its producer after this signal, and the stage's task after that.
        await stage.stop()

    writer = ClickHouseWriter(access.clickhouse_url(settings))
    versions = VersionClock()

    @app.timer(interval=settings.sink_flush_seconds)  # type: ignore[untyped-decorator]
    async def flush_rollups() -> None:
        await survive("the rollups' flush", stage.flush_rollups(writer, versions))


def _replayed(message: Any) -> tuple[tuple[str, bytes], ...]:
    """The header a dead letter needs from its record: which letter it replays, if one."""
    replayed = header(message, "replayed_from_dlq_offset")
    return () if replayed is None else (("replayed_from_dlq_offset", replayed),)

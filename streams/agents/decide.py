"""The decide stage: one agent reads every raw topic and, a park's partition at a time, feeds
what it reads to the batch processor (``streams/processor.py``: ingestion, dead letters, the rule
engine, rollups, state records), then sends what the processor says, in the order every stage
commits in (``streams/agents/batches.py``): the outputs delivered, then the state records, then
the offsets (Faust acks the batch when the handler returns, and commits after flushing its
producer). One Faust message per raw event. A timer advances the parks' clocks every second, for
deadlines when no traffic comes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import TP
from mode import CrashingSupervisor

from schemas.operations import Quarantine
from streams import access, metrics
from streams.agents._topics import Topics
from streams.agents.batches import deliver, exit_unacked, survive
from streams.agents.follow import Follower
from streams.agents.quarantine import Quarantines
from streams.agents.state import StateStore
from streams.outbox import header
from streams.processor import LANES, Processor, Raw
from streams.rollups import TABLES, VersionClock
from streams.settings import Settings
from streams.sink.clickhouse import ClickHouseWriter
from streams.topics import PARK_TOPICS, partition_of

log = logging.getLogger(__name__)
RAW_TOPICS = (*PARK_TOPICS, "health.nat", "ref.risk-areas")


class DecideStage:
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
        # What the followers read that changes decisions (lab reports, other parks' notices):
        # applied under the lock, between batches, so that its outputs and state go out in order.
        self.inbox: list[Callable[[], None]] = []
        self.engine.bound = self._bound

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
                self.processor.read(
                    Raw(
                        self.topics.base(message.topic),
                        message.value,
                        message.partition,
                        message.offset,
                        message.key,
                        message.timestamp,
                        _replayed(message),
                    ),
                    now,
                )
            self.processor.advance()
            await self._flush()

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

    async def _flush(self) -> None:
        batch = self.processor.take()
        await deliver(self.app.producer, self.settings.topic, batch.outputs, batch.state)

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
            if self.rebalancing:
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
        await survive("the decide stage's clock", stage.tick())

    writer = ClickHouseWriter(access.clickhouse_url(settings))
    versions = VersionClock()

    @app.timer(interval=settings.sink_flush_seconds)  # type: ignore[untyped-decorator]
    async def flush_rollups() -> None:
        await survive("the rollups' flush", stage.flush_rollups(writer, versions))


def _replayed(message: Any) -> tuple[tuple[str, bytes], ...]:
    """The header a dead letter needs from its record: which letter it replays, if one."""
    replayed = header(message, "replayed_from_dlq_offset")
    return () if replayed is None else (("replayed_from_dlq_offset", replayed),)

"""The decide stage's state: one changelog record per entity (``sentinel.decide-state``, compacted,
one partition per park partition), restored when a partition is assigned.

Not a Faust table. A table writes a changelog record at every assignment, restores every
partition it holds from its start at every rebalance, and cannot be written by a timer; here the
stage writes each entity that changed once per batch, after that batch's outputs were delivered
(``streams/agents/decide.py``), and a partition is read back only when this worker did not hold it.
Compaction keeps the topic the size of the live state (short segments, tombstones for what was
forgotten), so a restore takes time in proportion to what is kept, not to history; and after a
clean stop, a partition is read from the snapshot the worker left on its disk and the changelog
only from where that snapshot ends (``streams/agents/local.py``).

Records: ``<park>\\x1f<entity>`` for a park's entities (``streams/engine/records.py``), and
``<ROLLUPS>\\x1f<fact key>`` for the shard's rollup facts (``streams/rollups.py``); the batch
processor writes them (``streams/processor.py``) and loads them back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import access, metrics
from streams.agents.local import Anchor, Grouped, LocalStore, Snapshot, digest
from streams.engine import records as park_records
from streams.processor import ROLLUPS, Processor
from streams.settings import Settings

log = logging.getLogger(__name__)


class StateStore:
    """Which partitions this worker holds, restored or being restored. The partitions of one
    assignment are restored together, by one consumer."""

    def __init__(
        self, settings: Settings, processor: Processor, local: LocalStore | None = None
    ) -> None:
        self._settings = settings
        self._topic = settings.topic("sentinel.decide-state")
        self._processor = processor
        self.local = local  # snapshots of a clean stop, read before the changelog
        self._restored: dict[int, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def partitions(self) -> set[int]:
        return set(self._restored)

    def assign(self, partitions: Iterable[int]) -> tuple[list[int], list[int]]:
        """Hold exactly ``partitions`` from now on: drop the others' state, start restoring the
        new ones. Returns the partitions taken (their restore started) and those given up."""
        wanted = set(partitions)
        gone = sorted(set(self._restored) - wanted)
        for partition in gone:
            self._drop(partition)
        new = sorted(wanted - set(self._restored))
        self._start(new)
        return new, gone

    async def ready(self, partition: int) -> None:
        """Wait until ``partition``'s state is restored (at once if it is)."""
        if partition not in self._restored:
            self._start([partition])
        await asyncio.shield(self._restored[partition])

    async def all_ready(self) -> None:
        await asyncio.gather(*(asyncio.shield(f) for f in self._restored.values()))

    @property
    def restored_partitions(self) -> set[int]:
        return {p for p in self._restored if self.restored(p)}

    def restored(self, partition: int) -> bool:
        future = self._restored.get(partition)
        return future is not None and future.done() and not future.exception()

    def _start(self, partitions: list[int]) -> None:
        if not partitions:
            return
        futures = {p: asyncio.get_running_loop().create_future() for p in partitions}
        self._restored.update(futures)
        task = asyncio.ensure_future(self._restore(futures))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _drop(self, partition: int) -> None:
        future = self._restored.pop(partition)
        future.cancel()
        self._processor.drop(partition)

    async def _restore(self, futures: dict[int, asyncio.Future[None]]) -> None:
        try:
            snapshots: dict[int, Snapshot] = {}
            if self.local is not None:
                snapshots = await asyncio.to_thread(self.local.load_all, list(futures))
            reader = Restore(self._settings, self._topic, snapshots, self._restored_one(futures))
            await reader.run(list(futures))
        except Exception as exc:  # noqa: BLE001 - each waiter sees it
            for future in futures.values():
                if not future.done():
                    future.set_exception(exc)
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise

    def _restored_one(
        self, futures: dict[int, asyncio.Future[None]]
    ) -> Callable[[int, Grouped, int, str, float], None]:
        def done(partition: int, grouped: Grouped, count: int, source: str, seconds: float) -> None:
            future = futures[partition]
            if future.done() or self._restored.get(partition) is not future:
                return  # given up meanwhile
            self._processor.restore(partition, grouped)
            future.set_result(None)
            if all(f.done() for f in futures.values()):  # the assignment's last
                metrics.RESTORE_SECONDS.observe(seconds)
            if count or grouped:
                log.info(
                    "partition %d restored from %s: %d parks, %d records read in %.1f s",
                    partition,
                    source,
                    len(grouped) - (ROLLUPS in grouped),
                    count,
                    seconds,
                )

        return done


class Restore:
    """Reads the changelog partitions of an assignment with one consumer: each from its start,
    or, with a snapshot, from the snapshot's anchor on, once the anchor's record is found there
    (otherwise that partition starts again from its start, without the snapshot). Calls
    ``done(partition, records, records read, from what, seconds)`` as each reaches its end."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        snapshots: dict[int, Snapshot],
        done: Callable[[int, Grouped, int, str, float], None],
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.snapshots = snapshots
        self.done = done

    async def run(self, partitions: list[int]) -> None:
        started = time.monotonic()
        consumer = AIOKafkaConsumer(
            **access.aiokafka(self.settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 << 20,
        )
        await consumer.start()
        try:
            tps = {TopicPartition(self.topic, p): p for p in partitions}
            consumer.assign(list(tps))
            ends = await consumer.end_offsets(list(tps))
            grouped: dict[int, Grouped] = {p: {} for p in partitions}
            counts = dict.fromkeys(partitions, 0)
            anchors: dict[int, Anchor] = {}
            for tp, p in tps.items():
                snapshot = self.snapshots.get(p)
                if snapshot is not None and snapshot.anchor.offset < ends[tp]:
                    grouped[p], anchors[p] = snapshot.grouped, snapshot.anchor
                    consumer.seek(tp, snapshot.anchor.offset)
                else:
                    await consumer.seek_to_beginning(tp)
            pending = set(tps)

            async def start_again(tp: TopicPartition) -> None:
                p = tps[tp]
                log.info(
                    "partition %d: the local snapshot does not match the changelog (made "
                    "again, or written over since); reading it from its start",
                    p,
                )
                anchors.pop(p, None)
                grouped[p] = {}
                await consumer.seek_to_beginning(tp)

            async def finish_read_up() -> None:
                for tp in list(pending):
                    if await consumer.position(tp) < ends[tp]:
                        continue
                    p = tps[tp]
                    if p in anchors:  # its record gone, and all after it: compacted
                        await start_again(tp)
                    else:
                        pending.discard(tp)
                        source = "the changelog"
                        if p in self.snapshots and grouped[p] is self.snapshots[p].grouped:
                            source = "the local snapshot and the changelog since"
                        self.done(p, grouped[p], counts[p], source, time.monotonic() - started)

            await finish_read_up()
            while pending:
                batches: Any = await consumer.getmany(*pending, timeout_ms=1000)
                for tp, part in batches.items():
                    p = tps[tp]
                    into = grouped[p]
                    for record in part:
                        anchor = anchors.pop(p, None)
                        if anchor is not None:
                            if anchor.matches(record.offset, record.key, record.value):
                                continue
                            await start_again(tp)
                            break
                        counts[p] += 1
                        park, entity = park_records.split_key(record.key)
                        if record.value is None:
                            into.get(park, {}).pop(entity, None)
                        else:
                            into.setdefault(park, {})[entity] = record.value
                await finish_read_up()
        finally:
            await consumer.stop()


async def read_partition(settings: Settings, topic: str, partition: int) -> Grouped:
    """A state partition's records now, from its start: the latest value of each key (a
    tombstone removes it)."""
    found: dict[int, Grouped] = {}

    def done(p: int, grouped: Grouped, *_: Any) -> None:
        found[p] = grouped

    await Restore(settings, topic, {}, done).run([partition])
    return found[partition]


async def last_records(settings: Settings, topic: str, partitions: list[int]) -> dict[int, Anchor]:
    """The last record of each of a topic's ``partitions`` now (none for an empty one)."""
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(
        **access.aiokafka(settings), group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    found: dict[int, Anchor] = {}
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        wanted = {tp: end - 1 for tp, end in ends.items() if end > 0}
        for tp, offset in wanted.items():
            consumer.seek(tp, offset)
        pending = set(wanted)
        while pending:
            batches: Any = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, part in batches.items():
                for record in part:
                    if record.offset == wanted[tp]:
                        found[tp.partition] = Anchor(
                            record.offset, record.key, digest(record.value)
                        )
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return found

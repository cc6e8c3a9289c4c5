"""The decide stage's state: one changelog record per entity (``sentinel.decide-state``, compacted,
one partition per park partition), restored when a partition is assigned.

Not a Faust table. A table writes a changelog record at every assignment, restores every
partition it holds from its start at every rebalance, and cannot be written by a timer; here the
stage writes each entity that changed once per batch, after that batch's outputs were delivered
(``streams/agents/decide.py``), and a partition is read back only when this worker did not hold it.
Compaction keeps the topic the size of the live state (short segments, tombstones for what was
forgotten), so a restore takes time in proportion to what is kept, not to history.

Records: ``<park>\\x1f<entity>`` for a park's entities (``streams/engine/records.py``), and
``<ROLLUPS>\\x1f<fact key>`` for the shard's rollup facts (``streams/rollups.py``); the batch
processor writes them (``streams/processor.py``) and loads them back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import access, metrics
from streams.engine import records as park_records
from streams.processor import ROLLUPS, Processor
from streams.settings import Settings

log = logging.getLogger(__name__)


class StateStore:
    """Which partitions this worker holds, restored or being restored."""

    def __init__(self, settings: Settings, processor: Processor) -> None:
        self._settings = settings
        self._topic = settings.topic("sentinel.decide-state")
        self._processor = processor
        self._restored: dict[int, asyncio.Future[None]] = {}

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
        for partition in new:
            self._restored[partition] = asyncio.ensure_future(self._restore(partition))
        return new, gone

    async def ready(self, partition: int) -> None:
        """Wait until ``partition``'s state is restored (at once if it is)."""
        future = self._restored.get(partition)
        if future is None:
            future = self._restored[partition] = asyncio.ensure_future(self._restore(partition))
        await asyncio.shield(future)

    async def all_ready(self) -> None:
        await asyncio.gather(*(asyncio.shield(f) for f in self._restored.values()))

    @property
    def restored_partitions(self) -> set[int]:
        return {p for p in self._restored if self.restored(p)}

    def restored(self, partition: int) -> bool:
        future = self._restored.get(partition)
        return future is not None and future.done() and not future.exception()

    def _drop(self, partition: int) -> None:
        future = self._restored.pop(partition)
        future.cancel()
        self._processor.drop(partition)

    async def _restore(self, partition: int) -> None:
        started = time.monotonic()
        grouped: dict[str, dict[str, bytes]] = {}
        count = await read_partition(self._settings, self._topic, partition, grouped)
        self._processor.restore(partition, grouped)
        seconds = time.monotonic() - started
        metrics.RESTORE_SECONDS.observe(seconds)
        log.info(
            "partition %d restored: %d parks, %d records read in %.1f s",
            partition,
            len(grouped) - (ROLLUPS in grouped),
            count,
            seconds,
        )


async def read_partition(
    settings: Settings, topic: str, partition: int, into: dict[str, dict[str, bytes]]
) -> int:
    """Read a state partition from its start to its end now, keeping the latest value of each
    key (a tombstone removes it); how many records were read."""
    consumer = AIOKafkaConsumer(
        **access.aiokafka(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    count = 0
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        await consumer.seek_to_beginning(tp)
        while await consumer.position(tp) < end:
            batches: Any = await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)
            for record in batches.get(tp, ()):
                count += 1
                park, entity = park_records.split_key(record.key)
                if record.value is None:
                    into.get(park, {}).pop(entity, None)
                else:
                    into.setdefault(park, {})[entity] = record.value
    finally:
        await consumer.stop()
    return count

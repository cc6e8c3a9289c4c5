"""The topics every worker reads whole, outside the consumer group, from the beginning: the rule
sets (``sentinel.rulesets``), the risk areas (``canonical.risk-areas``), the lab reports
(``canonical.nat``) and what parks tell each other (``sentinel.evidence``).

Each reader says when it has caught up with the end the topic had when it started
(:attr:`Follower.caught_up`): the decide stage decides nothing until all have, so a restarted
worker never takes a red origin for green or the bundled rules for the published ones. A record
that cannot be read is logged with its offset and counted, and skipped: it stays in its topic,
where ``sentinel dlq`` and the operator can see it; a worker never stops on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from streams import access, metrics
from streams.ingest import describe
from streams.settings import Settings
from streams.topics import spec

log = logging.getLogger(__name__)
Handle = Callable[[Any], None]  # called with each record (aiokafka's ConsumerRecord)


class Follower:
    def __init__(
        self, settings: Settings, base: str, handle: Handle, tail: int | None = None
    ) -> None:
        self.base = base
        self.topic = settings.topic(base)
        self.caught_up = asyncio.Event()
        self.lag = 0  # records between the position and the topic's end, at the last look
        self._settings = settings
        self._handle = handle
        self._tail = tail

    async def run(self) -> None:
        """Read from the beginning (or the last ``tail`` records per partition), then follow."""
        consumer = AIOKafkaConsumer(
            **access.aiokafka(self._settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 << 20,
        )
        await consumer.start()
        try:
            # The catalogue knows the partitions (aiokafka's metadata may not list a topic that
            # no consumer of it has subscribed to).
            partitions = [
                TopicPartition(self.topic, p)
                for p in range(spec(self.base).partitions(self._settings))
            ]
            consumer.assign(partitions)
            starts = await consumer.beginning_offsets(partitions)
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                first = starts[tp] if self._tail is None else max(starts[tp], ends[tp] - self._tail)
                consumer.seek(tp, first)
            target = ends
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for record in records:
                        self._read(record)
                if not self.caught_up.is_set():
                    positions = await asyncio.gather(*(consumer.position(tp) for tp in partitions))
                    if all(p >= target[tp] for p, tp in zip(positions, partitions, strict=True)):
                        self.caught_up.set()
                        log.info("%s read to its end", self.topic)
                positions = await asyncio.gather(*(consumer.position(tp) for tp in partitions))
                self.lag = sum(
                    max(0, (consumer.highwater(tp) or 0) - position)
                    for tp, position in zip(partitions, positions, strict=True)
                )
        finally:
            await consumer.stop()

    def _read(self, record: Any) -> None:
        try:
            self._handle(record)
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the worker
            metrics.UNREADABLE.labels(self.base).inc()
            why = describe(exc) if isinstance(exc, ValidationError) else str(exc)[:200]
            log.error(
                "skipped an unreadable record at %s[%d]@%d (%s: %s)",
                record.topic,
                record.partition,
                record.offset,
                type(exc).__name__,
                why,
            )

"""The DLQ limit's quarantine, on a worker: raw partitions left unread, on every worker and
across restarts, until an operator lifts them (``sentinel quarantine``, ``streams/quarantine.py``).

When more than ``SENTINEL_DLQ_MAX_SHARE`` of a raw partition's recent messages are invalid, the
decide stage stops reading it rather than dead-letter the whole topic: its consumer pauses it,
and a record on ``sentinel.quarantine`` (read whole by every worker) keeps it paused, on this
worker and on whichever holds it next (each assignment pauses the quarantined partitions it
holds). Lifting reads the partition again from the first message not read; what was in it when
it was lifted is dead-lettered without counting.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.operations import Quarantine
from streams.ingest import BadShareGuard
from streams.outbox import WORKER_ID
from streams.settings import Settings

log = logging.getLogger(__name__)
Where = tuple[str, int]  # (raw topic's catalogue name, partition)


class Quarantines:
    def __init__(self, settings: Settings) -> None:
        self.consumer: AIOKafkaConsumer | None = None  # the decide stage's, while it runs
        self._settings = settings
        self.quarantined: dict[Where, Quarantine] = {}
        self._allowed_below: dict[Where, int] = {}  # lifted: bad ones below are not counted
        self._lifted: list[Where] = []  # to read again at the next tick
        self._next_offset: dict[Where, int] = {}  # per raw partition: the next to read

    def read(self, topic: str, partition: int, offset: int) -> None:
        """A message of a raw partition is being read."""
        self._next_offset[(topic, partition)] = offset + 1

    def counts(self, topic: str, partition: int, offset: int) -> bool:
        """Whether a bad message counts towards the DLQ limit: not when its partition is
        quarantined already, nor when it was in the partition when the quarantine was lifted."""
        where = (topic, partition)
        return where not in self.quarantined and offset >= self._allowed_below.get(where, 0)

    def trip(self, topic: str, message: Any, guard: BadShareGuard) -> Quarantine:
        """The limit tripped on the message's partition: pause it; the record to send."""
        record = Quarantine(
            topic=topic,
            partition=message.partition,
            state="quarantined",
            offset=message.offset + 1,
            reason=f"{guard.bad} of the last {guard.seen} messages were invalid (limit "
            f"{self._settings.dlq_max_share:.0%})",
            at=datetime.now(UTC),
            by=WORKER_ID,
        )
        self.quarantined[(topic, message.partition)] = record
        self.pause()
        log.critical(
            "%s[%d] quarantined: %s; stopped reading it rather than dead-lettering the topic. "
            "Fix the producer, then `sentinel quarantine lift %s:%d` (what is in it by then is "
            "dead-lettered without counting, and reading goes on); the dead letters so far are "
            "in %s",
            message.topic,
            message.partition,
            record.reason,
            topic,
            message.partition,
            self._settings.topic("sentinel.dlq"),
        )
        return record

    def learn(self, record: Quarantine) -> None:
        """A record of ``sentinel.quarantine``: a partition to leave unread, or to read again."""
        where = (record.topic, record.partition)
        if record.state == "quarantined":
            self.quarantined[where] = record
            self.pause()
            return
        self._allowed_below[where] = record.offset
        if self.quarantined.pop(where, None) is None:
            return
        log.warning(
            "%s:%d lifted by %s: %s", record.topic, record.partition, record.by, record.reason
        )
        self._lifted.append(where)

    async def read_lifted(self) -> None:
        """Read lifted partitions again, from the first message not read (the consumer's
        position went past what it fetched before the pause, and the decide stage skipped it)."""
        lifted, self._lifted = self._lifted, []
        consumer = self.consumer
        if consumer is None:
            return
        for where in lifted:
            tp = self._tp(where)
            if where in self.quarantined or tp not in consumer.assignment():
                continue
            offset = self._next_offset.get(where)
            if offset is None:
                offset = await consumer.committed(tp)
            if offset is not None:
                consumer.seek(tp, offset)
            else:
                await consumer.seek_to_beginning(tp)
            consumer.resume(tp)

    def pause(self) -> None:
        """Pause the quarantined partitions this worker holds (when a partition trips here,
        another worker's record arrives, or partitions are assigned)."""
        consumer = self.consumer
        if not self.quarantined or consumer is None:
            return
        held = consumer.assignment()
        consumer.pause(*(tp for tp in map(self._tp, self.quarantined) if tp in held))

    def given_up(self, partitions: list[int]) -> None:
        """Partitions another worker holds now: what was read of them here is stale."""
        gone = set(partitions)
        self._next_offset = {w: o for w, o in self._next_offset.items() if w[1] not in gone}

    def _tp(self, where: Where) -> TopicPartition:
        return TopicPartition(self._settings.topic(where[0]), where[1])

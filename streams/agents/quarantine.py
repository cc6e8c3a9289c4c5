"""The DLQ limit's quarantine, on a worker: raw partitions left unread, on every worker and
across restarts, until an operator lifts them (``sentinel quarantine``, ``streams/quarantine.py``).

When more than ``SENTINEL_DLQ_MAX_SHARE`` of a raw partition's recent messages are invalid, the
decide stage stops reading it rather than dead-letter the whole topic: Faust's consumer pauses it,
and a record on ``sentinel.quarantine`` (read whole by every worker) keeps it paused, on this
worker and on whichever holds it next. Faust resumes every partition after a rebalance, so its
``resume_partitions`` is made to leave these alone. Lifting reads the partition again from the
first message not read; what was in it when it was lifted is dead-lettered without counting.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import TP

from schemas.operations import Quarantine
from streams.ingest import BadShareGuard
from streams.outbox import WORKER_ID
from streams.settings import Settings

log = logging.getLogger(__name__)
Where = tuple[str, int]  # (raw topic's catalogue name, partition)


class Quarantines:
    def __init__(self, app: faust.App, settings: Settings) -> None:
        self._app = app
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
        """Read lifted partitions again, from the first message not read. (Faust drops what
        its fetcher brings for a paused partition, and would count the hole as acked: the
        position is set back first.)"""
        lifted, self._lifted = self._lifted, []
        consumer: Any = self._app.consumer
        for where in lifted:
            tp = self._tp(where)
            if where in self.quarantined or tp not in consumer.assignment():
                continue
            offset = self._next_offset.get(where, consumer._committed_offset.get(tp))
            if offset is not None:
                await consumer.seek(tp, offset)
            else:
                await consumer.seek_to_beginning(tp)
            consumer.resume_partitions([tp])

    def pause(self) -> None:
        """Pause the quarantined partitions this worker holds (when a partition trips here, or
        another worker's record arrives). After a rebalance, :meth:`keep_paused` keeps them so."""
        if not self.quarantined:
            return
        consumer = self._app.consumer
        held = consumer.assignment()
        consumer.pause_partitions([tp for tp in map(self._tp, self.quarantined) if tp in held])

    def keep_paused(self) -> None:
        """Faust pauses what it assigns and resumes it after its recovery: let it resume all but
        the quarantined ones (``streams/app.py`` installs this once the quarantine is read)."""
        consumer: Any = self._app.consumer
        if getattr(consumer, "keeps_quarantine", False):
            return
        resume = consumer.resume_partitions

        def resume_but_quarantined(tps: Any) -> None:
            kept = {self._tp(where) for where in self.quarantined}
            resume([tp for tp in tps if tp not in kept])

        consumer.resume_partitions = resume_but_quarantined
        consumer.keeps_quarantine = True

    def given_up(self, partitions: list[int]) -> None:
        """Partitions another worker holds now: what was read of them here is stale."""
        gone = set(partitions)
        self._next_offset = {w: o for w, o in self._next_offset.items() if w[1] not in gone}

    def _tp(self, where: Where) -> TP:
        return TP(self._settings.topic(where[0]), where[1])

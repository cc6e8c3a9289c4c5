"""How far the decide stage's inputs are read, per partition: the bound that holds each park's
watermark back while some of its input is still to come.

Each park topic's partition N is a *lane*. Producers write a lane in event-time order, so a lane
with messages still to process will only bring events at or after the latest event time processed
from it (``seen``). A park's watermark may therefore go no further than the least ``seen`` of the
lanes of its partition that are *active*: with messages still to process, or with new ones in the
last ``idle`` seconds (a producer's next batch, which the consumer has not fetched yet, may be a
moment behind another lane's). A lane quiet for longer stops holding (a gate at night; the
resolutions topic, which is seldom written), as a Flink source is marked idle.

A just-assigned lane is active, with nothing seen, until its first fetch says where it ends (and
for ``idle`` seconds after): a restarted worker does not let one lane's backlog run the clock
ahead before another's first fetch arrived, however long that takes.

Pure: the shell says what was processed, and reports the consumer's highwaters and positions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)
Offsets = Callable[[str, int], int | None]  # (topic, partition) -> an offset, None: not known


@dataclass(slots=True)
class Lane:
    next: int | None = None  # next offset to process; None: none processed since assignment
    seen: datetime = EPOCH  # the largest event time processed from it
    active_until: float = 0.0  # monotonic seconds


class Lanes:
    def __init__(self, topics: Iterable[str], idle: float) -> None:
        self.topics = tuple(topics)
        self.idle = idle
        self._lanes: dict[tuple[str, int], Lane] = {}

    def assigned(self, partitions: Iterable[int], now: float) -> None:
        """Lanes of newly assigned partitions: active for ``idle``, nothing seen yet."""
        for partition in partitions:
            for topic in self.topics:
                self._lanes[(topic, partition)] = Lane(active_until=now + self.idle)

    def revoked(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            for topic in self.topics:
                self._lanes.pop((topic, partition), None)

    def processed(
        self, topic: str, partition: int, offset: int, at: datetime | None, now: float
    ) -> None:
        lane = self._lanes.setdefault((topic, partition), Lane())
        lane.next = offset + 1
        if at is not None and at > lane.seen:
            lane.seen = at
        lane.active_until = now + self.idle

    def bound(
        self,
        partition: int,
        highwater: Offsets,
        committed: Offsets,
        now: float,
        topics: Iterable[str] | None = None,
    ) -> datetime:
        """The event time partition N's inputs (of ``topics``, all by default) are complete up to
        (FAR_FUTURE: nothing holds). ``highwater``: the consumer's last known end of a lane;
        ``committed``: the group's committed offset, for a lane nothing was processed from yet."""
        held = FAR_FUTURE
        for topic in self.topics if topics is None else topics:
            lane = self._lanes.get((topic, partition))
            if lane is None:
                continue
            end = highwater(topic, partition)
            start = lane.next if lane.next is not None else committed(topic, partition) or 0
            if (end is not None and end > start) or (end is None and lane.next is None):
                # Messages to process; or assigned and not fetched yet, its end unknown: it may
                # hold a backlog (under load a first fetch took longer than ``idle``, another
                # lane's backlog ran the clock ahead, and visits read late were overdue).
                lane.active_until = now + self.idle
            if now < lane.active_until and lane.seen < held:
                held = lane.seen
        return held

    def behind(self, topic: str, highwater: Offsets) -> int:
        """Messages of ``topic`` still to process on this worker's partitions."""
        total = 0
        for (name, partition), lane in self._lanes.items():
            if name == topic and (end := highwater(name, partition)) is not None:
                total += max(0, end - (lane.next or 0))
        return total

"""``sentinel dlq list|replay``: what is in the dead-letter topic and why; send it back.

Replay re-sends each dead letter's raw bytes to its source topic, once: a consumer group
(``<app id>.dlq-replay``) remembers how far it got, so a second replay sends only what was
dead-lettered since. Events that are valid now pass ingestion; the rest are dead-lettered again.
Downstream writes are keyed by event id, so even a repeated send would not count twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from schemas import DeadLetter
from streams.settings import Settings


@dataclass(frozen=True)
class Letter:
    offset: int
    size: int
    key: bytes | None
    value: bytes
    meta: DeadLetter


class _Reader:
    """Dead letters from the group's committed position (or from the start, with no group) up
    to the end of the topic as it was when the reader opened."""

    def __init__(self, settings: Settings, group: str | None) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self._consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        topic = settings.topic("sentinel.dlq")
        partitions = self._consumer.partitions_for_topic(topic) or set()
        self._partitions = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._partitions)
        beginning = self._consumer.beginning_offsets(self._partitions)
        self._end = self._consumer.end_offsets(self._partitions)
        # Where to start: the group's committed offset, else the beginning. Positions are kept
        # here: kafka-python's position() stalled on a committed offset in our tests.
        self.next_offsets: dict[Any, int] = {}
        for tp in self._partitions:
            committed = self._consumer.committed(tp) if group is not None else None
            self.next_offsets[tp] = max(committed or 0, beginning[tp])
            self._consumer.seek(tp, self.next_offsets[tp])

    def __iter__(self) -> Iterator[Letter]:
        for tp in self._partitions:
            while self.next_offsets[tp] < self._end[tp]:
                batch = self._consumer.poll(timeout_ms=5000, max_records=500).get(tp, [])
                if not batch:
                    raise TimeoutError(f"no dead letters from {tp.topic} within 5 s")
                for record in batch:
                    if record.offset >= self._end[tp]:
                        break
                    meta = DeadLetter.from_headers(list(record.headers))
                    yield Letter(record.offset, len(record.value), record.key, record.value, meta)
                    self.next_offsets[tp] = record.offset + 1

    def commit(self) -> None:
        from kafka.structs import OffsetAndMetadata

        if self.next_offsets:
            self._consumer.commit(
                {tp: OffsetAndMetadata(o, "", -1) for tp, o in self.next_offsets.items()}
            )

    def close(self) -> None:
        self._consumer.close()


def list_letters(settings: Settings) -> list[Letter]:
    reader = _Reader(settings, group=None)
    try:
        return list(reader)
    finally:
        reader.close()


def replay(settings: Settings) -> int:
    """Re-send the dead letters not replayed before; return how many were sent. The position is
    committed only after the producer has flushed, so a crash re-sends rather than loses."""
    from kafka import KafkaProducer

    reader = _Reader(settings, group=f"{settings.app_id}.dlq-replay")
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    sent = 0
    try:
        for letter in reader:
            producer.send(
                letter.meta.source_topic,
                key=letter.key,
                value=letter.value,
                headers=[("replayed_from_dlq_offset", str(letter.offset).encode())],
            )
            sent += 1
        producer.flush(timeout=60)
        reader.commit()
    finally:
        producer.close()
        reader.close()
    return sent

"""``sentinel dlq list|replay|discard``: what is in the dead-letter topic and why; send a chosen
part of it back, or discard it.

What was done with each letter is recorded on ``sentinel.dlq-actions`` (compacted, keyed by the
letter's offset), so that:

- a letter is replayed once: ``replay`` sends only letters never replayed nor discarded;
- a discarded letter is never replayed;
- a replayed letter that fails again comes back dead-lettered with a ``replay_of`` header (the
  first letter's offset) and is not sent back a third time unless asked (``--again``).

A replay sends each letter's raw bytes to its source topic and waits for the broker to have
every one; only letters it has are recorded as replayed (a failed send leaves its letter to the
next replay). Downstream writes are keyed by event id, so even a repeated send would not count
twice. A letter truncated because it was too big is never replayed: its bytes are not all there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from schemas import DeadLetter
from schemas.operations import LetterAction
from streams import access
from streams.settings import Settings

Status = Literal["new", "replayed", "discarded"]
REPLAY_OF = "replay_of"  # header of a letter whose record was itself a replayed letter
REPLAYED_FROM = "replayed_from_dlq_offset"  # header of a replayed record on its source topic


class DlqError(Exception):
    """Letters could not be sent or recorded; the message says what to do."""


@dataclass(frozen=True)
class Letter:
    offset: int
    at: datetime  # when it was dead-lettered
    size: int
    key: bytes | None
    value: bytes
    meta: DeadLetter
    replay_of: int | None  # it is a replayed letter that failed again: the first one's offset
    truncated: bool
    status: Status = "new"


@dataclass(frozen=True)
class Selection:
    """Which letters: every given criterion must hold."""

    topic: str | None = None  # the source topic, with or without the namespace prefix
    reason: str | None = None  # the error class, or a word of the message (any case)
    since: datetime | None = None
    until: datetime | None = None
    offsets: frozenset[int] | None = None

    @property
    def empty(self) -> bool:
        return self == Selection()

    def matches(self, letter: Letter, prefix: str) -> bool:
        meta = letter.meta
        if self.topic is not None and self.topic not in (
            meta.source_topic,
            meta.source_topic.removeprefix(prefix),
        ):
            return False
        if self.reason is not None:
            words = f"{meta.error_class} {meta.error_message}".lower()
            if self.reason.lower() not in words:
                return False
        if self.since is not None and letter.at < self.since:
            return False
        if self.until is not None and letter.at >= self.until:
            return False
        return self.offsets is None or letter.offset in self.offsets


def read_whole(settings: Settings, base: str) -> Iterator[Any]:
    """Every record of a one-partition topic, from its start to its end as it was when asked."""
    from kafka import KafkaConsumer, TopicPartition

    tp = TopicPartition(settings.topic(base), 0)
    consumer = KafkaConsumer(
        **access.kafka_python(settings), group_id=None, enable_auto_commit=False
    )
    try:
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]
        # Positions are kept here: kafka-python's position() stalled on a committed offset.
        position = consumer.beginning_offsets([tp])[tp]
        consumer.seek(tp, position)
        while position < end:
            batch = consumer.poll(timeout_ms=5000, max_records=500).get(tp, [])
            if not batch:
                raise DlqError(
                    f"{tp.topic} gave nothing for 5 s before its end: is Kafka at "
                    f"{settings.kafka_bootstrap} well (`sentinel stack status`)?"
                )
            for record in batch:
                if record.offset >= end:
                    return
                position = record.offset + 1
                yield record
    finally:
        consumer.close()


def letters(settings: Settings) -> list[Letter]:
    """Every dead letter, with what was done with it."""
    done: dict[int, Status] = {}
    for record in read_whole(settings, "sentinel.dlq-actions"):
        if record.value is not None:
            action = LetterAction.model_validate_json(record.value)
            done[action.letter] = action.action
    replayed_before = _replayed_by_the_old_replay(settings)
    found = []
    for record in read_whole(settings, "sentinel.dlq"):
        headers = dict(record.headers)
        replay_of = headers.get(REPLAY_OF)
        status = done.get(record.offset, "replayed" if record.offset < replayed_before else "new")
        found.append(
            Letter(
                offset=record.offset,
                at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
                size=len(record.value or b""),
                key=record.key,
                value=record.value or b"",
                meta=DeadLetter.from_headers(list(record.headers)),
                replay_of=int(replay_of) if replay_of else None,
                truncated="truncated_from_bytes" in headers,
                status=status,
            )
        )
    return found


def _replayed_by_the_old_replay(settings: Settings) -> int:
    """Before dlq-actions, replays kept their place as a consumer group's offset: the letters
    below it were replayed."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**access.kafka_python(settings))
    try:
        offsets = admin.list_consumer_group_offsets(f"{settings.app_id}.dlq-replay")
    finally:
        admin.close()
    return max((o.offset for o in offsets.values()), default=0)


def select(settings: Settings, selection: Selection) -> list[Letter]:
    return [
        letter for letter in letters(settings) if selection.matches(letter, settings.topic_prefix)
    ]


@dataclass(frozen=True)
class Replayed:
    sent: int
    left: dict[str, int]  # why letters that were selected were not sent: how many


def replay(settings: Settings, selection: Selection, *, again: bool = False) -> Replayed:
    """Send the selected letters back to their source topics: those never replayed nor
    discarded, and not failed replays, unless ``again`` (discarded letters never). A message
    replayed and dead-lettered again is sent once, from its latest letter."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    chosen, left = [], {"discarded": 0, "replayed before": 0, "failed again": 0, "truncated": 0}
    # One send per original message: of a letter and its failed replays, the latest.
    latest: dict[int, Letter] = {}
    for letter in select(settings, selection):
        root = letter.offset if letter.replay_of is None else letter.replay_of
        if letter.replay_of is not None and root in latest:
            left["replayed before"] += 1  # the chain's earlier letter: counted, not sent
        latest[root] = letter
    for letter in latest.values():
        if letter.status == "discarded":
            left["discarded"] += 1
        elif letter.truncated:
            left["truncated"] += 1
        elif not again and letter.status == "replayed":
            left["replayed before"] += 1
        elif not again and letter.replay_of is not None:
            left["failed again"] += 1
        else:
            chosen.append(letter)
    producer = KafkaProducer(**access.kafka_producer(settings, idempotent=False))
    sent: list[Letter] = []
    try:
        futures = [
            (
                letter,
                producer.send(
                    letter.meta.source_topic,
                    key=letter.key,
                    value=letter.value,
                    headers=[
                        (REPLAYED_FROM, str(letter.replay_of or letter.offset).encode()),
                    ],
                ),
            )
            for letter in chosen
        ]
        producer.flush(timeout=60)
        failures = []
        for letter, future in futures:
            try:
                future.get(timeout=0)  # flush only logs a failed send: ask each one
                sent.append(letter)
            except KafkaError as exc:
                failures.append(f"#{letter.offset}: {type(exc).__name__}")
        _record(settings, producer, [(letter, "replayed", "") for letter in sent], "sentinel dlq")
    finally:
        producer.close()
    if failures:
        raise DlqError(
            f"{len(failures)} of {len(chosen)} letters could not be sent ({', '.join(failures[:5])}"
            f"); the {len(sent)} sent are recorded, the rest stay to replay: run it again once "
            "Kafka is well"
        )
    return Replayed(len(sent), {why: n for why, n in left.items() if n})


def discard(settings: Settings, selection: Selection, *, by: str, note: str) -> int:
    """Record the selected letters (not discarded yet) as discarded: never to be replayed."""
    from kafka import KafkaProducer

    chosen = [x for x in select(settings, selection) if x.status != "discarded"]
    producer = KafkaProducer(**access.kafka_producer(settings, idempotent=False))
    try:
        _record(settings, producer, [(letter, "discarded", note) for letter in chosen], by)
    finally:
        producer.close()
    return len(chosen)


def _record(
    settings: Settings,
    producer: Any,
    done: list[tuple[Letter, Literal["replayed", "discarded"], str]],
    by: str,
) -> None:
    from kafka.errors import KafkaError

    now = datetime.now(UTC)
    futures = [
        producer.send(
            settings.topic("sentinel.dlq-actions"),
            key=str(letter.offset).encode(),
            value=LetterAction(letter=letter.offset, action=action, at=now, by=by, note=note)
            .model_dump_json()
            .encode(),
        )
        for letter, action, note in done
    ]
    producer.flush(timeout=60)
    try:
        for future in futures:
            future.get(timeout=0)
    except KafkaError as exc:
        raise DlqError(
            f"could not record what was done on {settings.topic('sentinel.dlq-actions')} "
            f"({type(exc).__name__}); run `sentinel topics create` and try again"
        ) from None


def describe_letter(letter: Letter) -> str:
    meta = letter.meta
    status = "" if letter.status == "new" else f"  [{letter.status}]"
    again = f"  (replay of #{letter.replay_of})" if letter.replay_of is not None else ""
    return (
        f"#{letter.offset:<6} {letter.at:%Y-%m-%d %H:%M:%S}  "
        f"{meta.source_topic}[{meta.source_partition}]@{meta.source_offset}  {meta.stage}  "
        f"{letter.size} bytes  {meta.error_class}: {meta.error_message}{again}{status}"
    )


def by_reason(found: list[Letter]) -> dict[str, int]:
    """How many letters per source topic and error class."""
    counts: dict[str, int] = {}
    for letter in found:
        key = f"{letter.meta.source_topic} {letter.meta.error_class}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def parse_offsets(text: str) -> frozenset[int]:
    """``12,15,20-30``: dead letters' offsets."""
    offsets: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise ValueError(f"{part!r} is not an offset or a range like 20-30")
        low, high = int(match[1]), int(match[2] or match[1])
        if high < low:
            raise ValueError(f"{part!r} runs backwards")
        offsets.update(range(low, high + 1))
    return frozenset(offsets)

"""``sentinel quarantine list|lift``: the raw partitions the DLQ limit stopped reading, and how
to read them again.

When more than ``SENTINEL_DLQ_MAX_SHARE`` of a raw partition's recent messages are invalid (a
producer pointed at the wrong topic, a changed format), the worker stops reading that partition
rather than dead-letter the whole topic, and records it on ``sentinel.quarantine``: every worker,
restarted or not, leaves it unread until an operator lifts it. Lifting, once the producer is
fixed, records the partition's end as it is then: the messages before it are read again and the
bad ones dead-lettered without counting towards the limit; after it, the limit counts again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.operations import Quarantine
from streams import access
from streams.dlq import DlqError, read_whole
from streams.settings import Settings
from streams.topics import RAW_TO_CANONICAL, spec


def current(settings: Settings) -> dict[tuple[str, int], Quarantine]:
    """The last record of each partition ever quarantined."""
    states = {}
    for record in read_whole(settings, "sentinel.quarantine"):
        if record.value is not None:
            state = Quarantine.model_validate_json(record.value)
            states[(state.topic, state.partition)] = state
    return states


def parse_partition(text: str, settings: Settings) -> tuple[str, int]:
    """``gate.exits:3``: a raw topic (catalogue name) and a partition."""
    topic, sep, number = text.rpartition(":")
    raw = sorted(RAW_TO_CANONICAL)
    if not sep or not number.isdigit():
        raise ValueError(f"{text!r} is not TOPIC:PARTITION, e.g. gate.exits:3")
    topic = topic.removeprefix(settings.topic_prefix)
    if topic not in raw:
        raise ValueError(f"{topic!r} is not a raw topic; one of {', '.join(raw)}")
    partitions = spec(topic).partitions(settings)
    if int(number) >= partitions:
        raise ValueError(f"{topic} has partitions 0 to {partitions - 1}")
    return topic, int(number)


def lift(settings: Settings, topic: str, partition: int, *, by: str, reason: str) -> Quarantine:
    """Read the partition again: what is in it now is dead-lettered without counting."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.errors import KafkaError

    was = current(settings).get((topic, partition))
    if was is None or was.state != "quarantined":
        raise DlqError(
            f"{topic}:{partition} is not quarantined; `sentinel quarantine list` shows what is"
        )
    tp = TopicPartition(settings.topic(topic), partition)
    consumer = KafkaConsumer(**access.kafka_python(settings), group_id=None)
    try:
        end = consumer.end_offsets([tp])[tp]
    finally:
        consumer.close()
    lifted = Quarantine(
        topic=topic,
        partition=partition,
        state="lifted",
        offset=end,
        reason=reason,
        at=datetime.now(UTC),
        by=by,
    )
    producer = KafkaProducer(**access.kafka_producer(settings, idempotent=False))
    try:
        producer.send(
            settings.topic("sentinel.quarantine"),
            key=lifted.key(),
            value=lifted.model_dump_json().encode(),
        ).get(timeout=30)
    except KafkaError as exc:
        raise DlqError(
            f"could not record the lifting ({type(exc).__name__}); is Kafka at "
            f"{settings.kafka_bootstrap} up (`sentinel stack status`)?"
        ) from None
    finally:
        producer.close()
    return lifted

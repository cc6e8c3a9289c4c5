"""``sentinel resolve``: an officer's resolution of a held entry, sent to ``gate.resolutions``
(keyed by the entry's park) as a gate system would send it; then what the decide stage made of it,
read back from ``canonical.resolutions``: accepted, with the decision revision it made, or refused
and why."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from schemas.resolution import Action, Resolution, ResolutionOutcome
from streams import access
from streams.progress import Stalled, wait_while_moving
from streams.settings import Settings
from streams.topics import partition_of

ANSWER_STALL = 120.0  # seconds with no answer and no worker progress


class ResolveError(Exception):
    """The resolution could not be sent or was not answered; the message says what to do."""


def resolve(
    settings: Settings,
    entry_id: str,
    action: Action,
    officer: str,
    reason: str,
    *,
    park: str | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> ResolutionOutcome:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.errors import KafkaError

    park = park or _park_of(settings, entry_id)
    resolution = Resolution(
        event_id=f"resolution-{uuid.uuid4().hex[:12]}",
        event_time=datetime.now(UTC).replace(microsecond=0),
        park=park,
        entry_id=entry_id,
        officer=officer,
        action=action,
        reason=reason,
    )
    answers = TopicPartition(
        settings.topic("canonical.resolutions"), partition_of(park.encode(), settings.partitions)
    )
    consumer = KafkaConsumer(**access.kafka_python(settings), group_id=None)
    producer = KafkaProducer(**access.kafka_producer(settings, idempotent=False))
    try:
        consumer.assign([answers])
        consumer.seek_to_end(answers)
        consumer.position(answers)
        try:
            producer.send(
                settings.topic("gate.resolutions"),
                key=park.encode(),
                value=resolution.model_dump_json().encode(),
            ).get(timeout=30)
        except KafkaError as exc:
            raise ResolveError(
                f"could not send to Kafka at {settings.kafka_bootstrap} ({type(exc).__name__}); "
                "is it up (`sentinel stack status`)?"
            ) from None
        progress(f"sent {resolution.event_id} for {entry_id} at park {park}; waiting for a worker")

        def answer() -> ResolutionOutcome | None:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    outcome = ResolutionOutcome.model_validate_json(record.value)
                    if outcome.event_id == resolution.event_id:
                        return outcome
            return None

        try:
            return wait_while_moving(
                answer,
                _group_progress(settings),
                what="the resolution's answer",
                stall=ANSWER_STALL,
                interval=0,
            )
        except Stalled:
            raise ResolveError(
                f"no worker answered {resolution.event_id}: is one running for this namespace "
                "(`sentinel stack status`)? It was sent; a worker will act on it when it starts"
            ) from None
    finally:
        consumer.close()
        producer.close()


def _group_progress(settings: Settings) -> Callable[[], int]:
    """The worker group's committed offsets, summed: a group busy with a backlog is not stuck."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**access.kafka_python(settings))
    last = [0.0, 0]

    def committed() -> int:
        if time.monotonic() - last[0] >= 5:  # asking the broker every poll would be wasteful
            offsets = admin.list_consumer_group_offsets(settings.app_id)
            last[:] = [time.monotonic(), sum(o.offset for o in offsets.values())]
        return int(last[1])

    return committed


def _park_of(settings: Settings, entry_id: str) -> str:
    from clickhouse_driver import Client
    from clickhouse_driver.errors import Error as ClickHouseError

    client = Client.from_url(access.clickhouse_url(settings))
    try:
        rows = client.execute(
            "SELECT any(park) FROM decisions WHERE entry_id = %(id)s HAVING count() > 0",
            {"id": entry_id},
        )
    except (ClickHouseError, OSError, EOFError):
        rows = []
    finally:
        client.disconnect()
    if not rows:
        raise ResolveError(
            f"no decision for {entry_id} in ClickHouse (yet?): check the entry id on the board, "
            "or give its park with --park"
        )
    return str(rows[0][0])

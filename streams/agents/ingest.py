"""Stage 1, ingestion: every raw topic -> validated, pseudonymised canonical topic, or the DLQ."""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from mode import CrashingSupervisor

from schemas import DeadLetter
from streams import metrics
from streams.agents._shared import WorkerState
from streams.agents._topics import Topics
from streams.ingest import Accepted, BadShareGuard, Ingestor
from streams.pseudonym import Pseudonymiser
from streams.settings import Settings
from streams.topics import RAW_TO_CANONICAL

log = logging.getLogger(__name__)


class TooManyBadMessages(Exception):
    """The DLQ limit tripped: the worker stops instead of dead-lettering a whole topic."""


def register(app: faust.App, topics: Topics, settings: Settings, shared: WorkerState) -> None:
    ingestor = Ingestor(
        Pseudonymiser(settings.pseudonym_key.get_secret_value().encode()),
        max_message_bytes=settings.max_message_bytes,
        future_tolerance=timedelta(seconds=settings.future_tolerance_seconds),
    )
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    guards: dict[tuple[str, int], BadShareGuard] = {}
    dlq = topics("sentinel.dlq")

    # CrashingSupervisor: a crash stops the worker instead of restarting the agent, so that the
    # DLQ limit really stops (Faust's default supervisor would restart it on the next message).
    @app.agent(
        topics(*RAW_TO_CANONICAL),
        name="ingest_raw_events",
        supervisor_strategy=CrashingSupervisor,
    )
    async def ingest_raw_events(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            source = topics.base(message.topic)
            await ingest(source, event.key, event.value, message)
            shared.done((source, message.partition), message.offset)

    async def ingest(source: str, key: bytes, value: bytes, message: Any) -> None:
        result = ingestor.ingest(source, value, now=datetime.now(UTC))
        metrics.EVENTS_IN.labels(source).inc()
        guard = guards.setdefault(
            (message.topic, message.partition),
            BadShareGuard(
                window=settings.dlq_window,
                max_share=settings.dlq_max_share,
                min_messages=settings.dlq_window // 4,
            ),
        )
        if isinstance(result, Accepted):
            shared.observe((source, message.partition), result.event_time)
            await topics(result.topic).send(key=result.key, value=result.value)
            guard.record(bad=False)
            if result.gate is not None:
                metrics.GATE_LAST_SEEN.labels(*result.gate).set(time.time())
                if result.topic == "canonical.entries":
                    metrics.GATE_ENTRIES.labels(*result.gate).inc()
            return
        letter = DeadLetter(
            source_topic=message.topic,
            source_partition=message.partition,
            source_offset=message.offset,
            source_timestamp=int(message.timestamp * 1000),
            stage="ingest",
            error_class=result.error_class,
            error_message=result.error_message,
            worker_id=worker_id,
            schema_version=result.schema_version,
        )
        # The source key stays with the record, so that a replay lands on the same partition.
        await dlq.send(key=key, value=value, headers=letter.headers())
        metrics.DEAD_LETTERS.labels(source, result.error_class).inc()
        log.warning(
            "dead-lettered %s[%d]@%d: %s: %s",
            message.topic,
            message.partition,
            message.offset,
            result.error_class,
            result.error_message,
        )
        if guard.record(bad=True):
            where = f"{message.topic}[{message.partition}]"
            reason = (
                f"{guard.bad} of the last {guard.seen} messages on {where}"
                f" were invalid (limit {settings.dlq_max_share:.0%}); stopping rather than"
                " dead-lettering the topic. Fix the producer, or raise SENTINEL_DLQ_MAX_SHARE;"
                f" the dead letters so far are in {dlq.get_topic_name()}"
            )
            log.critical(reason)
            raise TooManyBadMessages(reason)

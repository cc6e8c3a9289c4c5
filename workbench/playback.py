"""``sentinel produce``: JSON lines (``streams/jsonl.py``) to Kafka, as fast as possible or in
accelerated event time.

Record timestamps are the send time, not the event time: raw topics' retention is counted from
them, and 2022 timestamps would be deleted at once. Every send is checked: kafka-python's
``flush`` only logs a failed send, and a file half sent must not pass for sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from streams import access
from streams.jsonl import key_for
from streams.progress import ProgressBar
from streams.settings import Settings


class ProduceError(Exception):
    """Some events did not reach Kafka; the message says how many and why."""


def produce(
    settings: Settings,
    records: Iterable[dict[str, Any]],
    total: int,
    *,
    speed: float = 0.0,
    label: str = "producing",
) -> int:
    """Send envelopes to Kafka. ``speed`` > 0 paces them: event time runs ``speed`` times faster
    than the wall clock; 0 sends as fast as possible."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        **access.kafka_producer(settings),
        linger_ms=20,
        batch_size=256 * 1024,
        max_in_flight_requests_per_connection=1,  # keeps per-key order across retries
        # A broker just started, or with partitions just made, may refuse sends for seconds
        # (NotLeaderForPartition): ten retries 0.1 s apart once failed a bench's preload; and
        # a cluster's lost broker moves its partitions' leaders within seconds. Retried for
        # two minutes at most (idempotence: a retried send is written once).
        retries=2_147_483_647,
        retry_backoff_ms=250,
        delivery_timeout_ms=120_000,
    )
    bar = ProgressBar(total, label)
    first: tuple[float, float] | None = None  # (event time, wall time) of the first record
    failures: list[BaseException] = []
    sent = 0
    try:
        for record in records:
            if speed > 0:
                first = _pace(record, speed, first)
            value = json.dumps(record["value"], ensure_ascii=False).encode()
            future = producer.send(
                settings.topic(record["topic"]), key=key_for(record), value=value
            )
            future.add_errback(failures.append)
            sent += 1
            bar.advance()
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=access.PRODUCER_CLOSE_SECONDS)
        bar.close()
    if failures:
        raise ProduceError(
            f"{len(failures)} of {sent} events did not reach Kafka at {settings.kafka_bootstrap} "
            f"(first: {type(failures[0]).__name__}: {failures[0]}); send the file again: "
            "downstream, events already sent count once"
        )
    return sent


def _pace(
    record: dict[str, Any], speed: float, first: tuple[float, float] | None
) -> tuple[float, float]:
    event_time = record["value"].get("event_time")
    if not isinstance(event_time, str):
        return first or (0.0, time.monotonic())
    at = datetime.fromisoformat(event_time).timestamp()
    if first is None:
        return at, time.monotonic()
    due = first[1] + (at - first[0]) / speed
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    return first

"""Playback: simulator events to JSONL files or to Kafka, as fast as possible or in accelerated
event time. The JSONL line format, which ``sentinel produce`` also reads:

    {"topic": "gate.entries", "value": {...the event...}}          # "key" is optional

Kafka keys come from the catalogue (plate, person ID, region) unless a line gives one.
Record timestamps are the send time, not the event time: raw topics' retention is counted from
them, and 2022 timestamps would be deleted at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from streams.progress import ProgressBar
from streams.settings import Settings
from streams.topics import CATALOGUE, spec

KEY_FIELDS = {"plate": "plate", "gate": "gate", "person": "id_number", "region": "region"}


class PlaybackError(Exception):
    pass


def envelope(topic: str, event: BaseModel) -> dict[str, Any]:
    return {"topic": topic, "value": event.model_dump(mode="json", exclude_none=True)}


def write_jsonl(events: Iterable[tuple[str, BaseModel]], path: Path, total: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    bar = ProgressBar(total, f"writing {path.name}")
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for topic, event in events:
            out.write(json.dumps(envelope(topic, event), ensure_ascii=False) + "\n")
            count += 1
            bar.advance()
    bar.close()
    return count


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, envelope) for each non-blank line; a malformed line is a clear error."""
    known = {t.name for t in CATALOGUE}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PlaybackError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(record, dict) or "topic" not in record or "value" not in record:
                raise PlaybackError(f'{path}:{number}: expected {{"topic": ..., "value": ...}}')
            if record["topic"] not in known:
                raise PlaybackError(
                    f"{path}:{number}: unknown topic {record['topic']!r}; "
                    f"known: {', '.join(sorted(known))}"
                )
            yield number, record


def key_for(record: dict[str, Any]) -> bytes | None:
    if "key" in record:
        return None if record["key"] is None else str(record["key"]).encode()
    field = KEY_FIELDS.get(spec(record["topic"]).key)
    value = record["value"].get(field) if field and isinstance(record["value"], dict) else None
    return None if value is None else str(value).encode()


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
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        max_in_flight_requests_per_connection=1,  # keeps per-key order across retries
        retries=10,
    )
    bar = ProgressBar(total, label)
    first: tuple[float, float] | None = None  # (event time, wall time) of the first record
    sent = 0
    try:
        for record in records:
            if speed > 0:
                first = _pace(record, speed, first)
            value = json.dumps(record["value"], ensure_ascii=False).encode()
            producer.send(settings.topic(record["topic"]), key=key_for(record), value=value)
            sent += 1
            bar.advance()
        producer.flush(timeout=120)
    finally:
        producer.close()
        bar.close()
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

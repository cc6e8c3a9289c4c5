"""Poison for the chaos harness: 1% of every raw topic, of every kind the edge must refuse, mixed
among the valid events (each keyed as its neighbour, so it lands on a park's partition), and the
record of where each one landed (topic, partition, offset) for the oracle."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams import access
from streams.jsonl import key_for
from streams.settings import Settings
from workbench.stack._process import Progress

EVERY = 100  # one poison message after every this many valid ones of a topic
BETWEEN_LIMITS = 1_010_000  # bytes: the broker takes it (1,048,588), a producer cannot forward it


def _malformed(value: dict[str, Any]) -> bytes | None:
    return json.dumps(value).encode()[:-3]


def _wrong_type(value: dict[str, Any]) -> bytes | None:
    return json.dumps({**value, "event_time": 20220401}).encode()


def _year_1922(value: dict[str, Any]) -> bytes | None:
    return json.dumps({**value, "event_time": "1922-04-01T08:00:00+08:00"}).encode()


def _far_future(value: dict[str, Any]) -> bytes | None:
    return json.dumps({**value, "event_time": "2099-01-01T00:00:00+08:00"}).encode()


def _null(value: dict[str, Any]) -> bytes | None:
    return None


def _not_utf8(value: dict[str, Any]) -> bytes | None:
    return json.dumps(value).encode().replace(b'"event_id": "', b'"event_id": "\xff\xfe', 1)


def _oversized(value: dict[str, Any]) -> bytes | None:
    return json.dumps({**value, "note": "x" * 300_000}).encode()


def _unknown_version(value: dict[str, Any]) -> bytes | None:
    return json.dumps({**value, "schema_version": 9}).encode()


def _personal_data(value: dict[str, Any]) -> bytes | None:
    return json.dumps({**value, "event_id": "310116198001011234"}).encode()


POISON_KINDS: dict[str, Callable[[dict[str, Any]], bytes | None]] = {
    "malformed": _malformed,
    "wrong_type": _wrong_type,
    "year_1922": _year_1922,
    "far_future": _far_future,
    "null": _null,
    "not_utf8": _not_utf8,
    "oversized": _oversized,
    "unknown_version": _unknown_version,
    "personal_data": _personal_data,
}


@dataclass
class Poisoned:
    """The records to send, valid and poison, in order; after :meth:`send`, where the poison
    landed and the ids of the valid events per topic."""

    records: list[tuple[str, bytes | None, bytes | None, str | None]]  # topic, key, value, kind
    valid_ids: dict[str, set[str]]
    poison: dict[tuple[str, int, int], str] = field(default_factory=dict)
    error: str | None = None

    def send(self, settings: Settings, progress: Progress, rate: float) -> None:
        """Send every record, ``rate`` a second (live traffic, which the faults hit while it
        is processed)."""
        from kafka import KafkaProducer

        producer = KafkaProducer(
            **access.kafka_producer(settings),
            linger_ms=20,
            batch_size=256 * 1024,
            max_request_size=1_048_576,
            max_in_flight_requests_per_connection=1,
            retries=2_147_483_647,  # through a broker restart
            delivery_timeout_ms=600_000,
        )
        futures = []
        started = time.monotonic()
        try:
            for n, (topic, key, value, kind) in enumerate(self.records, 1):
                if n % 100 == 0 and (ahead := n / rate - (time.monotonic() - started)) > 0:
                    time.sleep(ahead)
                future = producer.send(settings.topic(topic), key=key, value=value)
                if kind is not None:
                    futures.append((topic, kind, future))
                if n % 20_000 == 0:
                    progress(f"sent {n:,} of {len(self.records):,} records")
            producer.flush(timeout=900)
            for topic, kind, future in futures:
                meta = future.get(timeout=0)
                self.poison[(topic, meta.partition, meta.offset)] = kind
            progress(f"sent {len(self.records):,} records ({len(futures):,} poison)")
        except Exception as exc:  # noqa: BLE001 - reported by the harness
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            producer.close(timeout=access.PRODUCER_CLOSE_SECONDS)


def mix_poison(records: list[dict[str, Any]]) -> Poisoned:
    kinds = list(POISON_KINDS)
    counts: dict[str, int] = {}
    mixed: list[tuple[str, bytes | None, bytes | None, str | None]] = []
    valid: dict[str, set[str]] = {}
    between_limits = 3  # of the poison, this many just over the producer's request limit
    for record in records:
        topic, value = record["topic"], record["value"]
        mixed.append((topic, key_for(record), json.dumps(value).encode(), None))
        valid.setdefault(topic, set()).add(value["event_id"])
        counts[topic] = counts.get(topic, 0) + 1
        if counts[topic] % EVERY:
            continue
        index = counts[topic] // EVERY
        kind = kinds[index % len(kinds)]
        poison = POISON_KINDS[kind](value)
        if kind == "oversized" and between_limits:
            between_limits -= 1
            kind = "between_limits"
            poison = json.dumps({**value, "note": "x" * BETWEEN_LIMITS}).encode()
        mixed.append((topic, key_for(record), poison, kind))
    return Poisoned(mixed, valid)

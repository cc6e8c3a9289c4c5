"""Records to send, as the pure code says them: a topic's catalogue name (no prefix), key, value,
partition and headers. The shell adds the prefix and sends (``streams/agents/batches.py``).

Dead letters are records too: the refused record's raw bytes and key, untouched, with headers
that say where it came from, which stage refused it and why (``schemas/dead_letter.py``); a
replayed letter failing again also says which letter it was (``replay_of``). A record too big to
forward (the producer's request limit is below the broker's message limit) keeps its first
64 KiB, and the headers its size and SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from typing import Any, Literal

from schemas import DeadLetter
from streams import metrics

FORWARD_LIMIT = 900_000  # bytes: under the producer's max request size (1,000,000)
KEPT_WHEN_TRUNCATED = 64 * 1024
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
Headers = tuple[tuple[str, bytes], ...]
Stage = Literal["ingest", "decide", "follow", "sink", "dispatch"]


@dataclass(frozen=True, slots=True)
class Send:
    topic: str  # the catalogue name
    key: bytes | None
    value: bytes | None
    partition: int | None = None  # None: the producer's partitioner chooses, by key
    headers: Headers = ()


def dead_letter(
    record: Any,
    source: str,
    stage: Stage,
    error_class: str,
    message: str,
    schema_version: int = 1,
) -> Send:
    """The letter for ``record`` (a Kafka record: topic, partition, offset, timestamp, key,
    value, headers), refused by ``stage`` of ``source`` (a catalogue name)."""
    value = record.value
    headers = DeadLetter(
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        source_timestamp=int(record.timestamp * 1000)
        if isinstance(record.timestamp, float)
        else int(record.timestamp or 0),
        stage=stage,
        error_class=error_class,
        error_message=message[:1000],
        worker_id=WORKER_ID,
        schema_version=schema_version,
    ).headers()
    replayed_from = header(record, "replayed_from_dlq_offset")
    if replayed_from is not None:  # a replayed letter, failing again (streams/dlq.py)
        headers.append(("replay_of", replayed_from))
    if value is not None and len(value) > FORWARD_LIMIT:
        headers += [
            ("truncated_from_bytes", str(len(value)).encode()),
            ("sha256", hashlib.sha256(value).hexdigest().encode()),
        ]
        value = value[:KEPT_WHEN_TRUNCATED]
    metrics.DEAD_LETTERS.labels(source, error_class).inc()
    return Send("sentinel.dlq", record.key, value, None, tuple(headers))


def header(record: Any, name: str) -> bytes | None:
    """A header of a Kafka record (aiokafka's are pairs, Faust's a list of pairs or a dict)."""
    headers = getattr(record, "headers", None) or ()
    pairs = headers.items() if isinstance(headers, dict) else headers
    for key, value in pairs:
        if key == name:
            return value if isinstance(value, bytes) else str(value).encode()
    return None

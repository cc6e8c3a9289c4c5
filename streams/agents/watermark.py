"""The group's watermark: each worker publishes how far it has processed its partitions, reads
what the others published, and moves the watermark from all of it (see ``_shared``).

``sentinel.progress`` (compacted, one record per staged partition) holds, for each partition,
the next offset its owner will process and, for raw topics, the largest event time it
processed from it. A worker flushes its producer before it publishes, so that whatever its
processing sent (a visit obligation, a check, a verdict) is in the log before anyone reads that
it is done; the others ask the broker for the partitions' ends after they read that record, so
they see those messages as unprocessed until their owner has processed them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import faust
from faust.types import TP

from streams import metrics
from streams.agents._shared import EPOCH, STAGED, Lane, Partition, WorkerState
from streams.agents._topics import Topics
from streams.agents.reference import follow
from streams.settings import Settings
from streams.topics import spec


def register(app: faust.App, topics: Topics, settings: Settings, shared: WorkerState) -> None:
    progress = topics("sentinel.progress")
    staged = [TP(settings.topic(base), p) for base in STAGED for p in range(spec(base).partitions)]

    def on_progress(key: bytes | None, value: bytes | None) -> None:
        if key is None or value is None:
            return
        base, _, partition = key.decode().rpartition(":")
        record = json.loads(value)
        shared.published[(base, int(partition))] = (
            record["next"],
            datetime.fromisoformat(record["seen"]) if record["seen"] else EPOCH,
        )

    async def forget_processed(sender: Any, *_: Any, **__: Any) -> None:
        # After a rebalance the group resumes from its committed offsets; until this worker
        # processes a message of a partition again, that is how far the partition is.
        shared.processed.clear()

    app.on_partitions_assigned.connect(forget_processed)  # type: ignore[arg-type]

    @app.task  # type: ignore[untyped-decorator]
    async def follow_progress() -> None:
        await follow(settings, "sentinel.progress", on_progress)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def track_progress() -> None:
        consumer: Any = app.consumer
        mine: dict[Partition, tuple[int, datetime]] = {}
        for tp in consumer.assignment():
            part = (topics.base(tp.topic), tp.partition)
            if part[0] not in STAGED:
                continue
            # Nothing processed since this worker took it: where the group left off.
            done = shared.processed.get(part) or consumer._committed_offset.get(tp) or 0
            mine[part] = (done, shared.seen.get(part, EPOCH))
        # What the others published is read before the ends are asked for (see the docstring).
        group = {**shared.published, **mine}
        await app.producer.flush()
        for (base, partition), (done, seen) in mine.items():
            record = {"next": done, "seen": seen.isoformat() if seen > EPOCH else None}
            await progress.send(
                key=f"{base}:{partition}".encode(), value=json.dumps(record).encode()
            )
        ends = await consumer.highwaters(*staged)
        lanes = {}
        for tp in staged:
            part = (topics.base(tp.topic), tp.partition)
            done, seen = group.get(part, (0, EPOCH))
            lanes[part] = Lane(processed=done, end=ends.get(tp) or 0, seen=seen)
        shared.progress(lanes)
        by_topic: dict[str, int] = {}
        for part in mine:
            by_topic[part[0]] = by_topic.get(part[0], 0) + lanes[part].unprocessed
        for topic, unprocessed in by_topic.items():
            metrics.CONSUMER_LAG.labels(topic).set(unprocessed)
        metrics.WATERMARK.set(shared.watermark.timestamp())

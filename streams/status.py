"""``sentinel status``: how far a namespace's pipeline is: per stage, what is left to process,
the entries decided, the latest event time decided, and the time left at the rate of the last
look."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams import access
from streams.settings import Settings
from streams.topics import spec


@dataclass(frozen=True)
class Status:
    decide_lag: int  # raw events not processed (and committed) by the decide stage
    sink_lag: int  # records not written to ClickHouse yet
    decided: int  # entries with a decision in ClickHouse
    latest: datetime | None  # the latest entry time decided
    at: float  # monotonic time of the look

    @property
    def done(self) -> bool:
        return self.decide_lag == 0 and self.sink_lag == 0

    def line(self, before: Status | None = None) -> str:
        text = (
            f"decide: {self.decide_lag:,} raw events to go; sink: {self.sink_lag:,} records to "
            f"go; {self.decided:,} entries decided"
            + (f", up to {self.latest:%Y-%m-%d %H:%M}" if self.latest else "")
        )
        if before is not None and self.at > before.at:
            rate = (before.decide_lag + before.sink_lag - self.decide_lag - self.sink_lag) / (
                self.at - before.at
            )
            if rate > 0 and not self.done:
                text += f"; about {(self.decide_lag + self.sink_lag) / rate:,.0f} s left"
        return text


def group_lag(
    admin: Any, consumer: Any, settings: Settings, group: str, topics: Iterable[str]
) -> int:
    """Messages of ``topics`` (catalogue names) that consumer group ``group`` has not committed
    yet, asked with kafka-python's ``admin`` and ``consumer``."""
    from kafka import TopicPartition

    committed = admin.list_consumer_group_offsets(group)
    partitions = [
        TopicPartition(settings.topic(t), p)
        for t in topics
        for p in range(spec(t).partitions(settings))
    ]
    ends = consumer.end_offsets(partitions)
    return sum(
        max(0, end - (committed[tp].offset if tp in committed else 0)) for tp, end in ends.items()
    )


def read_status(settings: Settings) -> Status:
    from clickhouse_driver import Client
    from kafka import KafkaAdminClient, KafkaConsumer

    from streams.agents.decide import RAW_TOPICS
    from streams.sink.rows import MAPPERS

    admin = KafkaAdminClient(**access.kafka_python(settings))
    consumer = KafkaConsumer(**access.kafka_python(settings))
    try:
        decide = group_lag(admin, consumer, settings, settings.app_id, RAW_TOPICS)
        sink = group_lag(admin, consumer, settings, f"{settings.app_id}.sink", MAPPERS)
    finally:
        consumer.close()
        admin.close()
    client = Client.from_url(access.clickhouse_url(settings))
    try:
        ((decided, latest),) = client.execute(
            "SELECT uniqExact(entry_id), max(event_time) FROM decisions"
        )
    finally:
        client.disconnect()
    return Status(decide, sink, int(decided), latest if decided else None, time.monotonic())

"""The topic catalogue: every Kafka topic the pipeline reads or writes, in one place.

Raw topics carry personal data and keep it briefly; canonical and output topics carry pseudonyms.
``create_topics`` is idempotent: it creates what is missing and leaves existing topics alone.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

from streams.settings import Settings

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: Literal["plate", "person", "region", "ruleset", "entry", "alert", "none"]
    partitions: int
    retention_ms: int  # -1: forever
    compacted: bool = False
    doc: str = ""

    def configs(self) -> dict[str, str]:
        configs = {"retention.ms": str(self.retention_ms)}
        if self.compacted:
            configs["cleanup.policy"] = "compact"
        return configs


PARTITIONS = 4

CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec("gate.entries", "plate", PARTITIONS, 7 * DAY_MS, doc="vehicle entries (raw)"),
    TopicSpec("gate.exits", "plate", PARTITIONS, 7 * DAY_MS, doc="vehicle exits (raw)"),
    TopicSpec("health.antigen", "person", PARTITIONS, 7 * DAY_MS, doc="antigen tests (raw)"),
    TopicSpec("health.nat", "person", PARTITIONS, 7 * DAY_MS, doc="NAT reports (raw)"),
    TopicSpec("health.visits", "person", PARTITIONS, 14 * DAY_MS, doc="health visits (raw)"),
    TopicSpec("ref.risk-areas", "region", 1, -1, compacted=True, doc="risk-area colours"),
    TopicSpec("sentinel.rulesets", "ruleset", 1, -1, compacted=True, doc="published rule sets"),
    TopicSpec("sentinel.decisions", "entry", PARTITIONS, 30 * DAY_MS, doc="release decisions"),
    TopicSpec("sentinel.alerts", "alert", PARTITIONS, 30 * DAY_MS, doc="alerts to page"),
    TopicSpec("sentinel.dlq", "none", 1, 30 * DAY_MS, doc="dead letters, raw bytes + reason"),
)


def spec(base: str) -> TopicSpec:
    for topic in CATALOGUE:
        if topic.name == base:
            return topic
    raise KeyError(f"{base!r} is not in the topic catalogue")


def create_topics(settings: Settings) -> list[str]:
    """Create every catalogue topic that does not exist yet; return the names created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(
                name=settings.topic(t.name),
                num_partitions=t.partitions,
                replication_factor=1,
                topic_configs=t.configs(),
            )
            for t in CATALOGUE
            if settings.topic(t.name) not in existing
        ]
        if missing:
            # Created meanwhile by another process: that is the goal anyway.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing, timeout_ms=15000)
        return [t.name for t in missing]
    finally:
        admin.close()

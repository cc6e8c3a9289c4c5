"""The topic catalogue: every Kafka topic the pipeline reads or writes, in one place.

Raw topics carry personal data and keep it briefly (3 days); canonical and output topics carry
pseudonyms only.
``create_topics`` is idempotent: it creates what is missing and leaves existing topics alone.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from schemas import (
    Alert,
    AntigenTest,
    Decision,
    GateHeartbeat,
    HealthVisit,
    NatReport,
    RawAntigenTest,
    RawHealthVisit,
    RawNatReport,
    RawVehicleEntry,
    RiskAreaUpdate,
    VehicleEntry,
    VehicleExit,
)
from streams.settings import Settings

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: Literal[
        "plate", "gate", "person", "region", "ruleset", "entry", "alert", "source", "partition"
    ]
    partitions: int
    retention_ms: int  # -1: forever
    model: type[BaseModel] | None  # what each value is; None: raw bytes (dead letters)
    compacted: bool = False
    doc: str = ""

    def configs(self) -> dict[str, str]:
        configs = {"retention.ms": str(self.retention_ms)}
        if self.compacted:
            configs["cleanup.policy"] = "compact"
        return configs


PARTITIONS = 4
RAW_RETENTION = 3 * DAY_MS  # raw topics hold personal data: keep them briefly

# Raw topics, as producers send them (personal data), and where ingestion puts each one's events
# once they are validated and pseudonymised.
RAW_TO_CANONICAL: dict[str, str] = {
    "gate.entries": "canonical.entries",
    "gate.exits": "canonical.exits",
    "gate.heartbeats": "canonical.heartbeats",
    "health.antigen": "canonical.antigen",
    "health.nat": "canonical.nat",
    "health.visits": "canonical.visits",
    "ref.risk-areas": "canonical.risk-areas",
}

CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec("gate.entries", "plate", PARTITIONS, RAW_RETENTION, RawVehicleEntry, doc="raw"),
    TopicSpec("gate.exits", "plate", PARTITIONS, RAW_RETENTION, VehicleExit, doc="raw"),
    TopicSpec("gate.heartbeats", "gate", PARTITIONS, RAW_RETENTION, GateHeartbeat, doc="raw"),
    TopicSpec("health.antigen", "person", PARTITIONS, RAW_RETENTION, RawAntigenTest, doc="raw"),
    TopicSpec("health.nat", "person", PARTITIONS, RAW_RETENTION, RawNatReport, doc="raw"),
    TopicSpec("health.visits", "person", PARTITIONS, RAW_RETENTION, RawHealthVisit, doc="raw"),
    TopicSpec("ref.risk-areas", "region", 1, -1, RiskAreaUpdate, compacted=True, doc="raw"),
    TopicSpec("canonical.entries", "plate", PARTITIONS, 30 * DAY_MS, VehicleEntry),
    TopicSpec("canonical.exits", "plate", PARTITIONS, 30 * DAY_MS, VehicleExit),
    # Read whole by every worker (streams/agents/clock.py): the latest beat of each gate.
    TopicSpec("canonical.heartbeats", "gate", 1, -1, GateHeartbeat, compacted=True),
    TopicSpec("canonical.antigen", "person", PARTITIONS, 30 * DAY_MS, AntigenTest),
    TopicSpec("canonical.nat", "person", PARTITIONS, 30 * DAY_MS, NatReport),
    TopicSpec("canonical.visits", "person", PARTITIONS, 30 * DAY_MS, HealthVisit),
    TopicSpec("canonical.risk-areas", "region", 1, -1, RiskAreaUpdate, compacted=True),
    TopicSpec("sentinel.rulesets", "ruleset", 1, -1, None, compacted=True, doc="rule sets"),
    # Between the stages: checks and visit obligations to the person stage, verdicts back.
    TopicSpec("sentinel.person-checks", "person", PARTITIONS, 7 * DAY_MS, None, doc="internal"),
    TopicSpec("sentinel.person-verdicts", "plate", PARTITIONS, 7 * DAY_MS, None, doc="internal"),
    # How far each staged partition is processed, published by its owner: the group's watermark.
    TopicSpec("sentinel.progress", "partition", 1, -1, None, compacted=True, doc="internal"),
    TopicSpec("sentinel.decisions", "entry", PARTITIONS, 30 * DAY_MS, Decision),
    TopicSpec("sentinel.alerts", "alert", PARTITIONS, 30 * DAY_MS, Alert),
    # Dead letters keep the raw bytes and key, personal data included: a week to fix and replay.
    TopicSpec("sentinel.dlq", "source", 1, 7 * DAY_MS, None, doc="dead letters: raw bytes"),
)


# The canonical topic of each canonical event model (exits, heartbeats and risk areas share their
# models with the raw topics, so the raw topics are left out).
CANONICAL_TOPIC_OF: dict[type[BaseModel], str] = {
    t.model: t.name for t in CATALOGUE if t.model and t.name in RAW_TO_CANONICAL.values()
}


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

"""The topic catalogue: every Kafka topic the pipeline reads or writes, in one place, with the key
each takes.

A park's gates and enterprises send everything about it keyed by the park (entries, exits,
heartbeats, on-site antigen results, health visits, officers' resolutions): one partition holds a
park whole, so one agent decides for it with the join in memory. Labs, which know no park, key
their reports by the person's ID number as presented. Raw topics carry personal data and keep it
briefly (3 days); everything after ingestion carries pseudonyms only.

Partitioned topics all have ``SENTINEL_PARTITIONS`` partitions (32 by default: more than a
deployment will have workers), so Faust gives one worker partition N of every one of them.
``create_topics`` is idempotent: it creates what is missing and leaves existing topics alone.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from schemas.alert import Alert
from schemas.decision import Decision
from schemas.entry import GateHeartbeat, RawVehicleEntry, VehicleEntry, VehicleExit
from schemas.health import (
    AntigenTest,
    HealthVisit,
    NatReport,
    RawAntigenTest,
    RawHealthVisit,
    RawNatReport,
)
from schemas.notice import PositiveNotice
from schemas.operations import LetterAction, Quarantine
from schemas.reference import RiskAreaUpdate
from schemas.resolution import Resolution, ResolutionOutcome
from schemas.trace import ContactTrace
from streams import access
from streams.settings import Settings

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

Key = Literal[
    "park",
    "person",
    "region",
    "ruleset",
    "entry",
    "alert",
    "source",
    "subject",
    "state",
    "partition",
    "letter",
]
KEY_DOCS: dict[str, str] = {
    "park": "the park's name (the event's `park` field)",
    "person": "the resident ID number as presented (raw) or its pseudonym (after ingestion)",
    "region": "the region's name",
    "ruleset": "always `active`",
    "entry": "the entry id",
    "alert": "the alert's dedup key",
    "source": "the source record's key",
    "subject": "the person's pseudonym (a positive) or the plate (a stop)",
    "state": "`<park>\\x1f<entity>`",
    "partition": "`<raw topic>:<partition>`, e.g. `gate.exits:3`",
    "letter": "the dead letter's offset in sentinel.dlq",
}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: Key
    retention_ms: int  # -1: forever
    model: type[BaseModel] | None  # what each value is; None: raw bytes or internal records
    single: bool = False  # one partition (read whole by every worker), not SENTINEL_PARTITIONS
    compacted: bool = False
    doc: str = ""

    def partitions(self, settings: Settings) -> int:
        return 1 if self.single else settings.partitions

    def configs(self, settings: Settings) -> dict[str, str]:
        configs = {
            "retention.ms": str(self.retention_ms),
            "min.insync.replicas": str(settings.min_insync_replicas),
        }
        if self.compacted:
            # Short segments (10 minutes or 1 MiB, Kafka's least), so that compaction acts: it
            # never cleans the active segment. Tombstones kept a day (a worker's local snapshot
            # older than that is not used: ``streams/agents/local.py``).
            configs |= {
                "cleanup.policy": "compact",
                "segment.ms": str(10 * 60_000),
                "segment.bytes": str(1 << 20),
                "min.cleanable.dirty.ratio": "0.2",
                "delete.retention.ms": str(TOMBSTONE_RETENTION_MS),
            }
        return configs


TOMBSTONE_RETENTION_MS = DAY_MS  # of the compacted topics
RAW_RETENTION = 3 * DAY_MS  # raw topics hold personal data: keep them briefly
CANONICAL_RETENTION = 30 * DAY_MS

# Raw topics, as producers send them (personal data), and where ingestion puts each one's events
# once they are validated and pseudonymised. Heartbeats only move the park's clock.
RAW_TO_CANONICAL: dict[str, str | None] = {
    "gate.entries": "canonical.entries",
    "gate.exits": "canonical.exits",
    "gate.heartbeats": None,
    "gate.resolutions": "canonical.resolutions",
    "health.antigen": "canonical.antigen",
    "health.visits": "canonical.visits",
    "health.nat": "canonical.nat",
    "ref.risk-areas": "canonical.risk-areas",
}
# The raw topics keyed by park: one agent reads them all, a park's partition at a time.
PARK_TOPICS = (
    "gate.entries",
    "gate.exits",
    "gate.heartbeats",
    "gate.resolutions",
    "health.antigen",
    "health.visits",
)

CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec("gate.entries", "park", RAW_RETENTION, RawVehicleEntry, doc="raw"),
    TopicSpec("gate.exits", "park", RAW_RETENTION, VehicleExit, doc="raw"),
    TopicSpec("gate.heartbeats", "park", RAW_RETENTION, GateHeartbeat, doc="raw"),
    TopicSpec("gate.resolutions", "park", RAW_RETENTION, Resolution, doc="raw: officers"),
    TopicSpec("health.antigen", "park", RAW_RETENTION, RawAntigenTest, doc="raw"),
    TopicSpec("health.visits", "park", RAW_RETENTION, RawHealthVisit, doc="raw"),
    TopicSpec("health.nat", "person", RAW_RETENTION, RawNatReport, doc="raw: labs"),
    TopicSpec(
        "ref.risk-areas",
        "region",
        -1,
        RiskAreaUpdate,
        single=True,
        compacted=True,
        doc="raw: reference",
    ),
    TopicSpec("canonical.entries", "park", CANONICAL_RETENTION, VehicleEntry),
    TopicSpec("canonical.exits", "park", CANONICAL_RETENTION, VehicleExit),
    TopicSpec("canonical.antigen", "park", CANONICAL_RETENTION, AntigenTest),
    TopicSpec("canonical.visits", "park", CANONICAL_RETENTION, HealthVisit),
    TopicSpec(
        "canonical.resolutions",
        "park",
        CANONICAL_RETENTION,
        ResolutionOutcome,
        doc="the officers' audit trail",
    ),
    # Read whole by every worker: lab reports are no park's own.
    TopicSpec("canonical.nat", "person", 17 * DAY_MS, NatReport, doc="read whole"),
    TopicSpec(
        "canonical.risk-areas",
        "region",
        -1,
        RiskAreaUpdate,
        single=True,
        compacted=True,
        doc="read whole",
    ),
    TopicSpec(
        "sentinel.rulesets",
        "ruleset",
        -1,
        None,
        single=True,
        compacted=True,
        doc="rule sets: read whole",
    ),
    # What a park tells every other: positives found there, plates stopped there (read whole).
    TopicSpec("sentinel.evidence", "subject", 17 * DAY_MS, PositiveNotice, doc="read whole"),
    # The decide stage's state, one record per entity, per park partition (its changelog).
    TopicSpec("sentinel.decide-state", "state", -1, None, compacted=True, doc="changelog"),
    TopicSpec("sentinel.decisions", "entry", CANONICAL_RETENTION, Decision),
    TopicSpec("sentinel.alerts", "alert", CANONICAL_RETENTION, Alert),
    TopicSpec("sentinel.traces", "park", CANONICAL_RETENTION, ContactTrace),
    # Events behind their park's watermark, kept aside as read (canonical), with why in headers.
    TopicSpec("sentinel.late", "park", 7 * DAY_MS, None, doc="late events: canonical"),
    # Dead letters keep the raw bytes and key, personal data included: a week to fix and replay.
    TopicSpec(
        "sentinel.dlq", "source", 7 * DAY_MS, None, single=True, doc="dead letters: raw bytes"
    ),
    # What operators did with dead letters (replayed, discarded), and the raw partitions the DLQ
    # limit quarantined: kept as long as the letters they speak of, and longer.
    TopicSpec(
        "sentinel.dlq-actions",
        "letter",
        -1,
        LetterAction,
        single=True,
        compacted=True,
        doc="operations",
    ),
    TopicSpec(
        "sentinel.quarantine",
        "partition",
        -1,
        Quarantine,
        single=True,
        compacted=True,
        doc="operations: read whole",
    ),
)


# The canonical topic of each canonical event model (exits and risk areas share their models with
# the raw topics, so those are left out).
CANONICAL_TOPIC_OF: dict[type[BaseModel], str] = {
    t.model: t.name for t in CATALOGUE if t.model and t.name.startswith("canonical.")
}
CANONICAL_TOPIC_OF[Resolution] = "canonical.resolutions"


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client):
    where a park's events are, whoever sent them."""
    from aiokafka.partitioner import murmur2

    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


def spec(base: str) -> TopicSpec:
    for topic in CATALOGUE:
        if topic.name == base:
            return topic
    raise KeyError(f"{base!r} is not in the topic catalogue")


class TopicsError(Exception):
    """The topics or grants could not be made; the message says why and what to do."""


def create_topics(settings: Settings) -> list[str]:
    """Create every catalogue topic that does not exist yet, and grant each user what it may do
    with them (:func:`grants`; repeated, a grant changes nothing); return the names created.
    Needs the admin user."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(**access.kafka_python(settings), request_timeout_ms=15000)
    try:
        if settings.kafka_security == "sasl_ssl":
            failed = admin.create_acls(grants(settings))["failed"]
            if failed:
                acl, error = failed[0]
                raise TopicsError(
                    f"the broker refused to grant {acl}: {error}; topics and grants need the "
                    "admin user (SENTINEL_KAFKA_USER=admin)"
                )
        existing = set(admin.list_topics())
        missing = [
            NewTopic(
                name=settings.topic(t.name),
                num_partitions=t.partitions(settings),
                replication_factor=settings.replication_factor,
                topic_configs=t.configs(settings),
            )
            for t in CATALOGUE
            if settings.topic(t.name) not in existing
        ]
        if missing:
            # Created meanwhile by another process: that is the goal anyway.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing, timeout_ms=15000)
            _wait_for_leaders(admin, [t.name for t in missing])
        return [t.name for t in missing]
    finally:
        admin.close()


def _wait_for_leaders(admin: Any, names: list[str], patience: float = 120.0) -> None:
    """Until every partition of the new topics has a leader: a producer that sends at once was
    refused (NotLeaderForPartition, past its retries) by a loaded broker. Waits while the count
    of partitions led grows, up to ``patience`` seconds without a new one."""
    best, since = -1, time.monotonic()
    while True:
        described = admin.describe_topics(names)
        partitions = [p for t in described for p in t.get("partitions", [])]
        led = sum(1 for p in partitions if p.get("leader", -1) >= 0)
        if len(described) == len(names) and partitions and led == len(partitions):
            return
        if led > best:
            best, since = led, time.monotonic()
        elif time.monotonic() - since > patience:
            raise TopicsError(
                f"{len(partitions) - led} new partitions have no leader after "
                f"{patience:.0f} s; see the broker's log"
            )
        time.sleep(0.2)


def grants(settings: Settings) -> list[Any]:
    """What each user may do with this deployment's topics (the broker denies the rest):

    - worker: everything on the deployment's topics, and on Faust's groups and topics
      (``<app_id>``...); ``sentinel dlq`` runs as the worker, since only it may read raw bytes;
    - gate: write the raw topics ``gate.*``; lab: write ``health.*``; nothing else, not even read
      what they wrote;
    - operator: what the officers' and operators' other commands need, and no raw topic or dead
      letter read: ``resolve`` (write ``gate.resolutions``, read the answers on
      ``canonical.resolutions``), ``rules publish`` (write ``sentinel.rulesets``), ``quarantine``
      (read and write ``sentinel.quarantine``), ``status`` (the end offsets of every topic and
      the committed ones of the worker groups: describe only);
    - admin is the broker's super user (the stack, topics and grants, the workbench).
    """
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
    )

    def allow(user: str, kind: Any, name: str, operation: Any, prefixed: bool = False) -> ACL:
        pattern = ACLResourcePatternType.PREFIXED if prefixed else ACLResourcePatternType.LITERAL
        return ACL(
            principal=f"User:{user}",
            host="*",
            operation=operation,
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePattern(kind, name, pattern),
        )

    topic, group, cluster = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER
    prefix = settings.topic_prefix
    found = [
        allow("worker", topic, prefix or "*", ACLOperation.ALL, prefixed=bool(prefix)),
        allow("worker", topic, settings.app_id, ACLOperation.ALL, prefixed=True),
        allow("worker", group, settings.app_id, ACLOperation.ALL, prefixed=True),
        allow("worker", cluster, "kafka-cluster", ACLOperation.DESCRIBE),
        allow("worker", cluster, "kafka-cluster", ACLOperation.IDEMPOTENT_WRITE),
    ]
    for user, family in (("gate", "gate."), ("lab", "health.")):
        for t in CATALOGUE:
            if t.name.startswith(family):
                found.append(allow(user, topic, settings.topic(t.name), ACLOperation.WRITE))
                found.append(allow(user, topic, settings.topic(t.name), ACLOperation.DESCRIBE))
    found += [
        allow("operator", topic, prefix or "*", ACLOperation.DESCRIBE, prefixed=bool(prefix)),
        allow("operator", group, settings.app_id, ACLOperation.DESCRIBE, prefixed=True),
        allow("operator", topic, settings.topic("gate.resolutions"), ACLOperation.WRITE),
        allow("operator", topic, settings.topic("canonical.resolutions"), ACLOperation.READ),
        allow("operator", topic, settings.topic("sentinel.rulesets"), ACLOperation.WRITE),
        allow("operator", topic, settings.topic("sentinel.quarantine"), ACLOperation.READ),
        allow("operator", topic, settings.topic("sentinel.quarantine"), ACLOperation.WRITE),
    ]
    return found

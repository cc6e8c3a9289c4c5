"""``sentinel topics``: the Kafka topic catalogue, created or listed."""

from __future__ import annotations

import argparse

from streams.commands.base import Command, Failed, actions
from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    actions(
        parser,
        create="every topic of the catalogue that is missing (safe to repeat)",
        list="the catalogue, with each topic's key, partitions and retention",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kafka.errors import AuthorizationError, KafkaError

    from streams.topics import CATALOGUE, KEY_DOCS, TopicsError, create_topics

    if args.action == "create":
        try:
            created = create_topics(settings)
        except AuthorizationError:
            raise Failed(
                f"Kafka user {settings.kafka_user!r} may not make topics; run it as the admin "
                "user (SENTINEL_KAFKA_USER=admin)"
            ) from None
        except (TopicsError, KafkaError) as exc:
            raise Failed(str(exc)) from None
        print(f"created: {', '.join(created)}" if created else "every topic exists already")
        return 0
    for topic in CATALOGUE:
        kind = (
            "compacted"
            if topic.compacted
            else (
                "kept forever"
                if topic.retention_ms < 0
                else f"kept {topic.retention_ms // 86_400_000} d"
            )
        )
        print(
            f"{settings.topic(topic.name):<28} partitions={topic.partitions(settings):<3} "
            f"{kind:<11} key: {KEY_DOCS[topic.key]}"
        )
    return 0


COMMAND = Command(
    "topics",
    "the Kafka topic catalogue: create or list",
    "Every topic the pipeline reads or writes, with the key each takes: raw topics "
    "keyed by park (labs: by ID number), internal and output topics.",
    ("sentinel topics create", "sentinel topics list"),
    configure,
    run,
)

"""``sentinel rules``: check, publish or show a rule set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams import access
from streams.commands.base import Command, actions
from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    actions(
        parser,
        check="validate FILE (each problem as FILE:LINE: field: what)",
        publish="put FILE in force on every running worker, at once, no restart",
        show="print the bundled rule set, a start for your own",
    )
    parser.add_argument("file", type=Path, nargs="?", help="a rule set (check, publish)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.rules import DEFAULT_RULESET, RuleSetError, load_ruleset

    if args.action == "show":
        print(DEFAULT_RULESET.read_text(encoding="utf-8"), end="")
        return 0
    if args.file is None or not args.file.is_file():
        print(
            f"sentinel rules {args.action}: give a rule set file, e.g. "
            "`sentinel rules show > mine.yaml` and edit it",
            file=sys.stderr,
        )
        return 2
    try:
        rules = load_ruleset(args.file)
    except RuleSetError as exc:
        print(f"sentinel rules: {args.file} is not a valid rule set:\n{exc}", file=sys.stderr)
        return 1
    if args.action == "check":
        print(f"{args.file}: rule set {rules.version} with {len(rules.rules)} rules is valid")
        return 0
    from kafka import KafkaProducer

    producer = KafkaProducer(**access.kafka_producer(settings, idempotent=False))
    try:
        # Key "active": the topic is compacted, so it keeps the rule set in force.
        future = producer.send(
            settings.topic("sentinel.rulesets"), key=b"active", value=args.file.read_bytes()
        )
        future.get(timeout=30)  # raises if it did not reach Kafka
    finally:
        producer.close()
    print(f"published rule set {rules.version} to {settings.topic('sentinel.rulesets')}")
    return 0


COMMAND = Command(
    "rules",
    "rule sets: check a file, publish it to the workers, show the bundled one",
    "The release rules are data. Check a file (problems reported with their line), "
    "publish it (in force on every worker within a second, no restart; every decision "
    "names the version and the hash of the text that made it), or print the bundled "
    "set to start from.",
    (
        "sentinel rules show > mine.yaml",
        "sentinel rules check mine.yaml",
        "sentinel rules publish mine.yaml",
    ),
    configure,
    run,
)

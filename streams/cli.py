"""The ``sentinel`` command. Settings are read here, once, and passed down."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from streams.settings import ConfigError, Settings, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sentinel",
        description="Gate Sentinel: release rules for hazmat trucks at industrial-park gates.",
        epilog="Settings come from SENTINEL_* environment variables; see README.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stack = commands.add_parser("stack", help="the local Kafka broker and ClickHouse server")
    stack.add_argument("action", choices=("up", "down", "status"))

    topics = commands.add_parser("topics", help="the Kafka topic catalogue")
    topics.add_argument("action", choices=("create", "list"))

    commands.add_parser("migrate", help="apply ClickHouse migrations (in order, idempotent)")

    worker = commands.add_parser("worker", help="run a stream-processing worker")
    worker.add_argument(
        "--detach",
        action="store_true",
        help="start in the background (stopped by `sentinel stack down`)",
    )

    demo = commands.add_parser("demo", help="send a few entries and show what comes out")
    demo.add_argument(
        "--entries", type=_positive_int, default=6, help="how many entries to send (default 6)"
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number; give 1 or more")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"sentinel: {exc}", file=sys.stderr)
        return 2
    from streams.stack import StackError

    try:
        return _run(args, settings)
    except StackError as exc:
        print(f"sentinel {args.command}: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "stack":
        return _stack(args.action, settings)
    if args.command == "topics":
        return _topics(args.action, settings)
    if args.command == "migrate":
        from streams.migrate import migrate

        applied = migrate(settings.clickhouse_url, settings.clickhouse_database)
        where = f"{settings.clickhouse_database} on 127.0.0.1:{settings.clickhouse_port}"
        print(f"applied {', '.join(applied)} to {where}" if applied else f"{where}: up to date")
        return 0
    if args.command == "worker":
        from streams.worker import run_worker, start_detached

        if args.detach:
            print(start_detached(settings, progress=_progress))
            return 0
        return run_worker(settings)
    if args.command == "demo":
        from streams.demo import run_demo

        return run_demo(settings, entries=args.entries, progress=_progress)
    raise AssertionError(f"unhandled command {args.command}")


def _stack(action: str, settings: Settings) -> int:
    from streams.stack import Stack
    from streams.topics import create_topics

    stack = Stack(settings)
    if action == "up":
        report = stack.up(_progress)
        created = create_topics(settings)
        report["topics"] = f"created {len(created)}" if created else "all present"
    elif action == "down":
        report = stack.down()
    else:
        report = stack.status()
    for name, state in report.items():
        print(f"{name:<11} {state}")
    return 0


def _topics(action: str, settings: Settings) -> int:
    from streams.topics import CATALOGUE, create_topics

    if action == "create":
        created = create_topics(settings)
        print(f"created: {', '.join(created)}" if created else "every topic exists already")
        return 0
    for topic in CATALOGUE:
        kind = "compacted" if topic.compacted else f"retention {topic.retention_ms // 3_600_000} h"
        print(
            f"{settings.topic(topic.name):<24} key={topic.key:<8} "
            f"partitions={topic.partitions} {kind:<16} {topic.doc}"
        )
    return 0


def _progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

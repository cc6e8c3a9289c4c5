"""The ``sentinel`` command. Settings are read here, once, and passed down."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

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

    simulate = commands.add_parser(
        "simulate", help="generate a scenario's events (and ground truth) to files and/or Kafka"
    )
    simulate.add_argument("--scenario", choices=("jinshan-2022",), default="jinshan-2022")
    simulate.add_argument("--seed", type=int, default=1, help="same seed, same events (default 1)")
    simulate.add_argument(
        "--out", type=Path, help="write events.jsonl and ground_truth.json into this directory"
    )
    simulate.add_argument("--kafka", action="store_true", help="send the events to Kafka")
    simulate.add_argument(
        "--speed",
        type=_non_negative_float,
        default=0.0,
        help="with --kafka: event time runs this many times faster than real time "
        "(e.g. 3600: an hour a second); 0, the default, sends as fast as possible",
    )
    simulate.add_argument(
        "--hazmat-share", type=_share, default=0.55, help="share of hazmat trucks (default 0.55)"
    )
    simulate.add_argument(
        "--positive-rate",
        type=_share,
        default=0.0,
        help="share of antigen tests that are positive, for stress runs (default 0: as in 2022)",
    )

    produce = commands.add_parser("produce", help="send a JSONL file of events to Kafka")
    produce.add_argument("file", type=Path, help='lines of {"topic": ..., "value": {...}}')
    produce.add_argument("--speed", type=_non_negative_float, default=0.0, help="as for simulate")

    dlq = commands.add_parser("dlq", help="the dead-letter topic")
    dlq.add_argument("action", choices=("list", "replay"))

    schemas = commands.add_parser("schemas", help="JSON Schema files in schemas/json")
    schemas.add_argument("action", choices=("write", "check"))

    rules = commands.add_parser("rules", help="rule sets: check a file, or publish it to workers")
    rules.add_argument("action", choices=("check", "publish"))
    rules.add_argument("file", type=Path, help="a rule set, e.g. deploy/rules/default.yaml")

    backtest = commands.add_parser(
        "backtest", help="replay events under a rule set and compare with a baseline"
    )
    backtest.add_argument("--rules", type=Path, required=True, help="the candidate rule set")
    backtest.add_argument("--events", type=Path, required=True, help="a JSONL file of raw events")
    backtest.add_argument(
        "--baseline", type=Path, help="the rule set to compare with (default: the bundled one)"
    )

    report = commands.add_parser(
        "report", help="totals, the daily peak, positives, holds, denials, visit compliance"
    )
    report.add_argument("--from", dest="first", type=_day, help="first park-local day, YYYY-MM-DD")
    report.add_argument("--to", dest="last", type=_day, help="last park-local day, YYYY-MM-DD")
    report.add_argument("--json", action="store_true", help="print JSON instead of text")

    commands.add_parser(
        "reconcile", help="check every ClickHouse rollup against the raw tables (exit 1 if apart)"
    )

    bench = commands.add_parser(
        "bench", help="benchmarks: the pipeline against raw Kafka, bare and naive Faust, Quix"
    )
    bench.add_argument(
        "--events", type=_positive_int, default=100_000,
        help="raw events to preload from the simulator (default 100000)",
    )  # fmt: skip
    bench.add_argument(
        "--runs", type=_positive_int, default=3, help="runs per measure; the median is reported"
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


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day; write it as 2022-05-04") from None


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


def _share(text: str) -> float:
    value = _non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{value} is not a share; give a number from 0 to 1")
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
    if args.command == "simulate":
        from streams.simulator import run_simulate

        if args.out is None and not args.kafka:
            print(
                "sentinel simulate: say where the events go: --out DIR, --kafka, or both",
                file=sys.stderr,
            )
            return 2
        return run_simulate(settings, args)
    if args.command == "produce":
        from streams.simulator.playback import PlaybackError, produce, read_jsonl

        if not args.file.is_file():
            print(f"sentinel produce: {args.file} is not a file", file=sys.stderr)
            return 2
        try:
            total = sum(1 for _ in read_jsonl(args.file))  # validates every line first
            records = (record for _, record in read_jsonl(args.file))
            sent = produce(settings, records, total, speed=args.speed, label=args.file.name)
        except PlaybackError as exc:
            print(f"sentinel produce: {exc}", file=sys.stderr)
            return 2
        print(f"sent {sent} events from {args.file}")
        return 0
    if args.command == "dlq":
        return _dlq(args.action, settings)
    if args.command == "schemas":
        from streams import json_schemas

        if args.action == "write":
            print(f"wrote {len(json_schemas.write())} files to {json_schemas.SCHEMA_DIR}")
            return 0
        stale = json_schemas.drift()
        if stale:
            print(f"out of date: {', '.join(stale)}; run `sentinel schemas write`", file=sys.stderr)
            return 1
        print("schemas/json matches the models")
        return 0
    if args.command == "rules":
        return _rules(args.action, args.file, settings)
    if args.command == "backtest":
        from streams.backtest import run_backtest
        from streams.rules import DEFAULT_RULESET, RuleSetError, load_ruleset

        for path in (args.rules, args.events, args.baseline or DEFAULT_RULESET):
            if not path.is_file():
                print(f"sentinel backtest: {path} is not a file", file=sys.stderr)
                return 2
        try:
            baseline = load_ruleset(args.baseline or DEFAULT_RULESET)
            candidate = load_ruleset(args.rules)
        except RuleSetError as exc:
            print(f"sentinel backtest: {exc}", file=sys.stderr)
            return 2
        key = settings.pseudonym_key.get_secret_value().encode()
        return run_backtest(baseline, candidate, args.events, key)
    if args.command == "bench":
        from streams.bench import run_bench

        return run_bench(settings, events=args.events, runs=args.runs, progress=_progress)
    if args.command in ("report", "reconcile"):
        return _report(args, settings)
    if args.command == "demo":
        from streams.demo import run_demo

        return run_demo(settings, entries=args.entries, progress=_progress)
    raise AssertionError(f"unhandled command {args.command}")


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from clickhouse_driver import Client
    from clickhouse_driver.errors import Error as ClickHouseError

    from streams.report import build_report, reconcile

    if args.command == "report" and args.first and args.last and args.first > args.last:
        print(f"sentinel report: --from {args.first} is after --to {args.last}", file=sys.stderr)
        return 2
    client = Client.from_url(settings.clickhouse_url)
    try:
        execute = lambda sql: list(client.execute(sql))  # noqa: E731
        if args.command == "report":
            report = build_report(execute, args.first, args.last)
            print(report.to_json() if args.json else report.to_text())
            return 0
        compared, mismatches = reconcile(execute)
    except (ClickHouseError, OSError, EOFError) as exc:
        print(
            f"sentinel {args.command}: cannot read ClickHouse at {settings.clickhouse_url} "
            f"({type(exc).__name__}: {exc}); is the stack up (`sentinel stack up`) and "
            "migrated (`sentinel migrate`)?",
            file=sys.stderr,
        )
        return 1
    finally:
        client.disconnect()
    for m in mismatches[:50]:
        print(f"{m.check}: {', '.join(m.group)}: rollup {m.rollup} != raw {m.raw}")
    print(f"{compared} groups compared, {len(mismatches)} differ")
    return 1 if mismatches else 0


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


def _rules(action: str, path: Path, settings: Settings) -> int:
    from streams.rules import RuleSetError, load_ruleset

    if not path.is_file():
        print(f"sentinel rules: {path} is not a file", file=sys.stderr)
        return 2
    try:
        rules = load_ruleset(path)
    except RuleSetError as exc:
        print(f"sentinel rules: {path} is not a valid rule set:\n{exc}", file=sys.stderr)
        return 1
    if action == "check":
        print(f"{path}: rule set {rules.version} with {len(rules.rules)} rules is valid")
        return 0
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        # One key: the topic is compacted, so it keeps the rule set in force.
        producer.send(settings.topic("sentinel.rulesets"), key=b"active", value=path.read_bytes())
        producer.flush(timeout=30)
    finally:
        producer.close()
    print(f"published rule set {rules.version} to {settings.topic('sentinel.rulesets')}")
    return 0


def _dlq(action: str, settings: Settings) -> int:
    from streams import dlq

    if action == "replay":
        sent = dlq.replay(settings)
        print(
            f"replayed {sent} dead letters to their source topics"
            if sent
            else "nothing to replay: every dead letter was replayed before"
        )
        return 0
    letters = dlq.list_letters(settings)
    for letter in letters:
        meta = letter.meta
        print(
            f"#{letter.offset:<6} {meta.source_topic}[{meta.source_partition}]@{meta.source_offset}"
            f"  {letter.size} bytes  {meta.error_class}: {meta.error_message}"
        )
    print(f"{len(letters)} dead letters in {settings.topic('sentinel.dlq')}")
    return 0


def _progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

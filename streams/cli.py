"""The ``sentinel`` command: the product's commands (a worker, migrations, rule sets, reports,
the dead letters, an officer's resolution). Other packages add commands through the entry-point
group ``sentinel.commands`` (a function returning commands; one of the same name replaces the
product's): the workbench adds the local stack, the simulator, the bench and the demo that way,
and nothing here imports it.

Settings are read here, once, and passed down. Errors the user can fix are one line on stderr
that names the fix; exit 2 for a bad argument or setting, 1 for a failure.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TypeVar

from streams import access, failures
from streams.settings import ConfigError, Settings, load_settings

Run = Callable[[argparse.Namespace, Settings], int]
T = TypeVar("T")
N = TypeVar("N", int, float)


@dataclass(frozen=True)
class Command:
    name: str
    help: str  # one line, in the list of commands
    description: str  # what it does, in its own --help
    examples: tuple[str, ...]
    configure: Callable[[argparse.ArgumentParser], None]
    run: Run


class Failed(Exception):
    """A command cannot do what was asked; the message says why and what to do (exit 1)."""


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sentinel",
        description="Gate Sentinel: release rules for hazmat trucks at industrial-park gates.",
        epilog="Settings come from SENTINEL_* environment variables (README.md, Settings). "
        "`sentinel COMMAND --help` explains each command, with examples.",
    )
    parser.add_argument("--version", action="version", version=f"sentinel {_version()}")
    parser.add_argument(
        "--namespace",
        metavar="NAME",
        help="run apart: this namespace's topics, worker group and database (SENTINEL_NAMESPACE)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands:
        sub = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            epilog="examples:\n" + "\n".join(f"  {e}" for e in command.examples),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.configure(sub)
    return parser


def merge(*groups: Sequence[Command]) -> tuple[Command, ...]:
    """Commands in order, a later one replacing an earlier one of the same name."""
    by_name: dict[str, Command] = {}
    for group in groups:
        for command in group:
            by_name.pop(command.name, None)
            by_name[command.name] = command
    return tuple(by_name.values())


def with_plugins(commands: Sequence[Command]) -> tuple[Command, ...]:
    """``commands`` and those of the installed ``sentinel.commands`` entry points."""
    from importlib.metadata import entry_points

    added = [ep.load()() for ep in entry_points(group="sentinel.commands")]
    return merge(commands, *added)


def main(argv: Sequence[str] | None = None, commands: Sequence[Command] | None = None) -> int:
    commands = with_plugins(COMMANDS) if commands is None else commands
    args = build_parser(commands).parse_args(argv)
    environ = None
    if args.namespace is not None:
        import os

        environ = {**os.environ, "SENTINEL_NAMESPACE": args.namespace}
    try:
        settings = load_settings(environ)
    except ConfigError as exc:
        print(f"sentinel: {exc}", file=sys.stderr)
        return 2
    command = next(c for c in commands if c.name == args.command)
    failures.quiet_clients(settings.log_level == "debug")
    try:
        return command.run(args, settings)
    except Failed as exc:
        print(f"sentinel {args.command}: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"sentinel {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # Kafka or ClickHouse failing under any command: a sentence
        sentence = failures.describe(exc, settings)
        if sentence is None:
            raise
        print(f"sentinel {args.command}: {sentence}", file=sys.stderr)
        if settings.log_level == "debug":
            traceback.print_exc()
        return 1


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def _version() -> str:
    try:
        return version("gate-sentinel")
    except PackageNotFoundError:
        return "(not installed)"


# -- argument types: a bad value says what is wrong and how to write it ----------------------


def _parsed(text: str, convert: Callable[[str], T], what: str) -> T:
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def _at_least(value: N, low: N, why: str) -> N:
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} {why}")
    return value


def positive_int(text: str) -> int:
    return _at_least(
        _parsed(text, int, "a whole number"), 1, "is not a positive number; give 1 or more"
    )


def day(text: str) -> date:
    return _parsed(text, date.fromisoformat, "a day; write it as 2022-05-04")


def non_negative_float(text: str) -> float:
    return _at_least(_parsed(text, float, "a number"), 0, "is negative; give 0 or more")


def share(text: str) -> float:
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{value} is not a share; give a number from 0 to 1")
    return value


def existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    return path


# -- the commands -------------------------------------------------------------------------


def _worker_args(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: everything is a setting


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker

    return run_worker(settings)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from clickhouse_driver.errors import Error as ClickHouseError

    from streams.migrate import MigrationError, migrate

    try:
        applied = migrate(
            access.clickhouse_admin_url(settings),
            settings.clickhouse_database,
            settings.clickhouse_cluster,
        )
    except (ClickHouseError, OSError, EOFError) as exc:
        raise Failed(_clickhouse_unreachable(settings, exc)) from None
    except MigrationError as exc:
        raise Failed(str(exc)) from None
    where = f"{settings.clickhouse_database} on {settings.clickhouse_url.split('@')[-1]}"
    print(f"applied {', '.join(applied)} to {where}" if applied else f"{where}: up to date")
    return 0


def actions(parser: argparse.ArgumentParser, **what: str) -> None:
    """A command's first argument: one of the actions ``what`` names, each with what it does."""
    parser.add_argument(
        "action",
        choices=tuple(what),
        help="; ".join(f"{action}: {text}" for action, text in what.items()),
    )


def _topics_args(parser: argparse.ArgumentParser) -> None:
    actions(
        parser,
        create="every topic of the catalogue that is missing (safe to repeat)",
        list="the catalogue, with each topic's key, partitions and retention",
    )


def _topics(args: argparse.Namespace, settings: Settings) -> int:
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


def _rules_args(parser: argparse.ArgumentParser) -> None:
    actions(
        parser,
        check="validate FILE (each problem as FILE:LINE: field: what)",
        publish="put FILE in force on every running worker, at once, no restart",
        show="print the bundled rule set, a start for your own",
    )
    parser.add_argument("file", type=Path, nargs="?", help="a rule set (check, publish)")


def _rules(args: argparse.Namespace, settings: Settings) -> int:
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


def _dlq_args(parser: argparse.ArgumentParser) -> None:
    actions(
        parser,
        list="each dead letter, where it came from, why it was refused, what was done with it",
        replay="send the chosen letters back to their source topics, once (fix the cause first)",
        discard="record the chosen letters as discarded: never to be replayed",
    )
    parser.add_argument("--topic", help="only letters from this source topic, e.g. gate.exits")
    parser.add_argument(
        "--reason", help="only letters whose error class or message holds this (any case)"
    )
    parser.add_argument("--since", type=moment, help="only letters dead-lettered from then on")
    parser.add_argument("--until", type=moment, help="only letters dead-lettered before then")
    parser.add_argument(
        "--offsets", type=offsets, help="only these letters, by offset: 12,15,20-30"
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="replay: also letters replayed before, and replayed letters that failed again",
    )
    parser.add_argument("--by", default="sentinel dlq", help="discard: who (recorded)")
    parser.add_argument("--note", default="", help="discard: why (recorded)")
    parser.add_argument(
        "--summary", action="store_true", help="list: counts per source topic and error class"
    )


def moment(text: str) -> datetime:
    value = _parsed(text, datetime.fromisoformat, "a time; write it as 2026-12-02T08:00+08:00")
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add one, e.g. +08:00")
    return value


def offsets(text: str) -> frozenset[int]:
    from streams.dlq import parse_offsets

    try:
        return parse_offsets(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _dlq(args: argparse.Namespace, settings: Settings) -> int:
    from streams import dlq

    selection = dlq.Selection(args.topic, args.reason, args.since, args.until, args.offsets)
    with _dlq_errors():
        if args.action == "replay":
            done = dlq.replay(settings, selection, again=args.again)
            if not done.sent and not done.left:
                print("nothing to replay: no letter matches")
                return 0
            print(f"replayed {done.sent} dead letters to their source topics")
            if done.left:
                left = "; ".join(f"{n} {why}" for why, n in done.left.items())
                print(
                    f"not sent: {left} (--again sends those replayed before or failed again; "
                    "discarded and truncated letters never)"
                )
            return 0
        if args.action == "discard":
            if selection.empty:
                raise Failed(
                    "say which letters to discard (--topic, --reason, --since, --until or "
                    "--offsets); `sentinel dlq list` with the same options shows them first"
                )
            count = dlq.discard(settings, selection, by=args.by, note=args.note)
            print(f"discarded {count} dead letters: they will never be replayed")
            return 0
        found = dlq.select(settings, selection)
    if args.summary:
        for what, count in dlq.by_reason(found).items():
            print(f"{count:>7}  {what}")
    else:
        for letter in found:
            print(dlq.describe_letter(letter))
    print(f"{len(found)} dead letters in {settings.topic('sentinel.dlq')}")
    return 0


def _quarantine_args(parser: argparse.ArgumentParser) -> None:
    actions(
        parser,
        list="the raw partitions the DLQ limit stopped reading, and those lifted",
        lift="read a quarantined partition again (fix its producer first)",
    )
    parser.add_argument("partition", nargs="?", metavar="TOPIC:PARTITION", help="lift: which")
    parser.add_argument("--by", default="operator", help="lift: who (recorded)")
    parser.add_argument("--reason", default="", help="lift: why, e.g. the producer was fixed")


def _quarantine(args: argparse.Namespace, settings: Settings) -> int:
    from streams import quarantine

    with _dlq_errors():
        if args.action == "list":
            states = quarantine.current(settings)
            for state in states.values():
                print(
                    f"{state.topic}:{state.partition}  {state.state} at "
                    f"{state.at:%Y-%m-%d %H:%M:%S} by {state.by}, offset {state.offset}: "
                    f"{state.reason}"
                )
            held = sum(s.state == "quarantined" for s in states.values())
            print(f"{held} partitions quarantined")
            return 0
        if args.partition is None:
            raise Failed(
                "say which partition to lift: e.g. `sentinel quarantine lift gate.exits:3`"
            )
        try:
            topic, partition = quarantine.parse_partition(args.partition, settings)
        except ValueError as exc:
            raise Failed(str(exc)) from None
        lifted = quarantine.lift(
            settings, topic, partition, by=args.by, reason=args.reason or "lifted"
        )
    print(
        f"{topic}:{partition} lifted: its messages before offset {lifted.offset} are read "
        "again, the bad ones dead-lettered without counting towards the limit"
    )
    return 0


@contextmanager
def _dlq_errors() -> Iterator[None]:
    """A DLQ command's own refusals; Kafka failing is said by :func:`main`, as for any command."""
    from streams.dlq import DlqError

    try:
        yield
    except DlqError as exc:
        raise Failed(str(exc)) from None


def _backtest_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules", type=existing_file, required=True, metavar="FILE", help="the candidate rule set"
    )
    parser.add_argument(
        "--events",
        type=existing_file,
        required=True,
        metavar="JSONL",
        help="raw events, one JSON line each (as `sentinel simulate` writes)",
    )
    parser.add_argument(
        "--baseline",
        type=existing_file,
        metavar="FILE",
        help="the rule set to compare with (default: the bundled one)",
    )


def _backtest(args: argparse.Namespace, settings: Settings) -> int:
    from streams.backtest import run_backtest
    from streams.rules import DEFAULT_RULESET, RuleSetError, load_ruleset

    try:
        baseline = load_ruleset(args.baseline or DEFAULT_RULESET)
        candidate = load_ruleset(args.rules)
    except RuleSetError as exc:
        print(f"sentinel backtest: {exc}", file=sys.stderr)
        return 2
    return run_backtest(baseline, candidate, args.events, access.pseudonym_key(settings))


def _report_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="first",
        type=day,
        metavar="DAY",
        help="first park-local day, e.g. 2022-04-01",
    )
    parser.add_argument(
        "--to", dest="last", type=day, metavar="DAY", help="last park-local day, e.g. 2022-05-09"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from streams.report import build_report

    if args.first and args.last and args.first > args.last:
        print(f"sentinel report: --from {args.first} is after --to {args.last}", file=sys.stderr)
        return 2
    report = _with_clickhouse(
        settings, lambda execute: build_report(execute, args.first, args.last)
    )
    print(report.to_json() if args.json else report.to_text())
    return 0


def _reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from streams.report import reconcile

    compared, mismatches = _with_clickhouse(settings, reconcile)
    for m in mismatches[:50]:
        print(f"{m.check}: {', '.join(m.group)}: rollup {m.rollup} != raw {m.raw}")
    print(f"{compared} groups compared, {len(mismatches)} differ")
    return 1 if mismatches else 0


def _resolve_args(parser: argparse.ArgumentParser) -> None:
    from schemas.resolution import ACTIONS

    parser.add_argument("entry", metavar="ENTRY", help="the entry id, as the board shows it")
    parser.add_argument("--action", required=True, choices=ACTIONS, help="what the officer did")
    parser.add_argument("--officer", required=True, help="the officer's staff id")
    parser.add_argument("--reason", required=True, help="why, in the officer's words")
    parser.add_argument("--park", help="the entry's park (default: looked up in ClickHouse)")


def _resolve(args: argparse.Namespace, settings: Settings) -> int:
    from streams.resolve import ResolveError, resolve

    try:
        outcome = resolve(
            settings,
            args.entry,
            args.action,
            args.officer,
            args.reason,
            park=args.park,
            progress=progress,
        )
    except ResolveError as exc:
        raise Failed(str(exc)) from None
    if outcome.accepted:
        print(
            f"{args.entry}: {args.action.replace('_', ' ')} by {args.officer}; decision "
            f"revision {outcome.revision} supersedes revision {outcome.superseded_revision}"
        )
        return 0
    print(f"{args.entry}: refused: {outcome.refusal}")
    return 1


def _with_clickhouse(settings: Settings, query: Callable[..., T]) -> T:
    from clickhouse_driver import Client
    from clickhouse_driver.errors import Error as ClickHouseError

    client = Client.from_url(access.clickhouse_url(settings))
    try:
        return query(lambda sql: list(client.execute(sql)))
    except (ClickHouseError, OSError, EOFError) as exc:
        raise Failed(_clickhouse_unreachable(settings, exc)) from None
    finally:
        client.disconnect()


def _clickhouse_unreachable(settings: Settings, exc: BaseException) -> str:
    return failures.describe(exc, settings) or (
        f"cannot use ClickHouse at {settings.clickhouse_url.split('@')[-1]} "
        f"({failures.first_line(exc)}); is it up (`sentinel stack up`), migrated (`sentinel "
        "migrate`), and is SENTINEL_CLICKHOUSE_URL right?"
    )


def _status_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--follow",
        action="store_true",
        help="look again every 5 s until nothing is left to process",
    )


def _status(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from streams.status import read_status

    before = None
    while True:
        status = read_status(settings)
        print(status.line(before), flush=True)
        if not args.follow or status.done:
            return 0
        before = status
        time.sleep(5)


def _none(parser: argparse.ArgumentParser) -> None:
    del parser


COMMANDS: tuple[Command, ...] = (
    Command(
        "worker",
        "run a stream-processing worker (until SIGTERM)",
        "Run a worker in the foreground: the decide stage (every raw topic: validation, "
        "pseudonyms, the rules, rollups), the ClickHouse sink, the alert dispatcher, and "
        "the gate board with /metrics. Start several for more parks; they share the work.",
        ("sentinel worker", "SENTINEL_HTTP_PORT=0 sentinel worker   # board on a free port"),
        _worker_args,
        _worker,
    ),
    Command(
        "migrate",
        "apply ClickHouse migrations (in order, once each)",
        "Create or update the database of SENTINEL_CLICKHOUSE_URL: every migration not "
        "applied yet, in order, recorded with a checksum. An edited migration is refused.",
        ("sentinel migrate", "sentinel --namespace trial migrate"),
        _none,
        _migrate,
    ),
    Command(
        "topics",
        "the Kafka topic catalogue: create or list",
        "Every topic the pipeline reads or writes, with the key each takes: raw topics "
        "keyed by park (labs: by ID number), internal and output topics.",
        ("sentinel topics create", "sentinel topics list"),
        _topics_args,
        _topics,
    ),
    Command(
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
        _rules_args,
        _rules,
    ),
    Command(
        "dlq",
        "the dead-letter topic: list it, replay or discard a chosen part of it",
        "Every record a stage refused, with its raw bytes and headers saying where it came "
        "from, which stage refused it and why.",
        (
            "sentinel dlq list --summary",
            "sentinel dlq list --topic gate.exits --reason ValidationError",
            "sentinel dlq replay --reason MessageTooLarge",
            "sentinel dlq discard --topic gate.exits --until 2026-12-02T08:00+08:00 "
            "--by ops-7 --note 'test garbage'",
        ),
        _dlq_args,
        _dlq,
    ),
    Command(
        "quarantine",
        "raw partitions the DLQ limit stopped reading: list them, or lift one",
        "When most of a raw partition's recent messages are invalid, workers stop reading it "
        "(the rest of the pipeline runs on) until an operator lifts it, once its producer is "
        "fixed: what is in it by then is read again, the bad messages dead-lettered without "
        "counting towards the limit.",
        (
            "sentinel quarantine list",
            "sentinel quarantine lift gate.exits:3 --by ops-7 --reason 'gate 2 firmware fixed'",
        ),
        _quarantine_args,
        _quarantine,
    ),
    Command(
        "backtest",
        "replay events under a rule set and compare with a baseline",
        "Run a file of raw events through the rules twice, the baseline's and the "
        "candidate's, and show how the decisions would differ. No Kafka, no ClickHouse.",
        (
            "sentinel rules show | sed 's/window: 48h/window: 24h/' > strict.yaml",
            "sentinel backtest --rules strict.yaml --events /tmp/jinshan/events.jsonl",
        ),
        _backtest_args,
        _backtest,
    ),
    Command(
        "report",
        "totals, the daily peak, positives, holds, denials, visit compliance",
        "The park's figures from the rollups in ClickHouse, over park-local days.",
        (
            "sentinel report",
            "sentinel --namespace jinshan-2022 report --json",
            "sentinel report --from 2022-05-01 --to 2022-05-09",
        ),
        _report_args,
        _report,
    ),
    Command(
        "reconcile",
        "check every ClickHouse rollup against the raw tables (exit 1 if apart)",
        "Compute each rollup again from the raw tables and compare, group by group.",
        ("sentinel reconcile",),
        _none,
        _reconcile,
    ),
    Command(
        "status",
        "how far the pipeline is: what is left per stage, entries decided",
        "Per stage, what is left to process, the entries decided and the latest decided; "
        "with --follow, until nothing is left, with the time left at the current rate.",
        ("sentinel status", "sentinel --namespace jinshan status --follow"),
        _status_args,
        _status,
    ),
    Command(
        "resolve",
        "an officer's resolution of a held entry: release, deny, turn away",
        "Record what the gate's officer did with a held entry (sent to gate.resolutions). "
        "The entry gets a new decision revision naming the officer and the reason, its "
        "hold's alerts close, and the resolution is kept in ClickHouse (table "
        "resolutions). A release is refused while an occupant is positive or red-coded.",
        (
            "sentinel resolve entry-1-000057 --action released_after_check --officer wang-3 "
            "--reason 'papers checked, antigen negative on a second kit'",
            "sentinel resolve entry-1-000102 --action turned_away --officer li-1 "
            "--reason 'no appointment'",
        ),
        _resolve_args,
        _resolve,
    ),
)


if __name__ == "__main__":
    sys.exit(main())

"""The ``sentinel`` command as installed: the product's commands (``streams/commands/``) and the
workbench's: the local stack, the simulator, sending files, history in a namespace of its own,
the demo, the bench, the JSON Schema files, and ``worker --detach``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, Literal

from streams import access, cli
from streams.commands.base import (
    Command,
    Failed,
    actions,
    existing_file,
    non_negative_float,
    positive_int,
    progress,
    share,
)
from streams.settings import Settings


def as_admin(run: Any) -> Any:
    """The workbench runs the local stack and plays its gates and labs: as Kafka's admin user
    (the workers it starts are the worker user)."""

    def run_as_admin(args: argparse.Namespace, settings: Settings) -> int:
        return int(run(args, access.as_user(settings, "admin")))

    return run_as_admin


def _stack_args(parser: argparse.ArgumentParser) -> None:
    actions(
        parser,
        up="start Kafka and ClickHouse unless they run, and create the topics (safe to repeat)",
        down="stop the workers and services this stack started",
        status="what runs, where, and whether it answers",
    )
    parser.add_argument(
        "--brokers",
        type=int,
        choices=(1, 3),
        help="up: Kafka brokers, each a KRaft controller too (default 1, or what this stack "
        "runs); 3 needs a cluster's settings: deploy/local-cluster.env",
    )
    parser.add_argument(
        "--clickhouse-replicas",
        type=int,
        choices=(1, 2),
        help="up: ClickHouse replicas of one shard, with a ZooKeeper (default 1, or what this "
        "stack runs)",
    )


def _stack(args: argparse.Namespace, settings: Settings) -> int:
    from streams.topics import create_topics
    from workbench.stack import Stack, StackError, Topology

    shape = None
    if args.brokers or args.clickhouse_replicas:
        if args.action != "up":
            raise Failed(
                "--brokers and --clickhouse-replicas go with `up`; `status` and `down` "
                "find every node of the running stack themselves"
            )
        shape = Topology(args.brokers or 1, args.clickhouse_replicas or 1)
    stack = Stack(settings, shape)
    try:
        if args.action == "up":
            report = stack.up(progress)
            created = create_topics(settings)
            report["topics"] = f"created {len(created)}" if created else "all present"
        elif args.action == "down":
            report = stack.down()
        else:
            report = stack.status()
    except StackError as exc:
        raise Failed(str(exc)) from None
    for name, state in report.items():
        print(f"{name:<12} {state}")
    return 0


def _worker_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        choices=("run", "stop"),
        default="run",
        help="run (the default) or stop the background worker: SIGTERM, then SIGKILL if it has "
        "not ended within SENTINEL_STOP_TIMEOUT_SECONDS and 10 s",
    )
    parser.add_argument(
        "--detach",
        action="store_true",
        help="start in the background, wait until it is ready (stopped by `sentinel worker "
        "stop` or `sentinel stack down`)",
    )


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "stop":
        from workbench.detach import stop_detached

        print(stop_detached(settings, progress=progress))
        return 0
    if not args.detach:
        from streams.worker import run_worker

        return run_worker(settings)
    from workbench.detach import start_detached
    from workbench.stack import StackError

    try:
        print(start_detached(settings, progress=progress))
    except StackError as exc:
        raise Failed(str(exc)) from None
    return 0


def _simulate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        choices=("jinshan-2022",),
        default="jinshan-2022",
        help="the story to simulate (default jinshan-2022)",
    )
    parser.add_argument("--seed", type=int, default=1, help="same seed, same events (default 1)")
    parser.add_argument(
        "--out", type=str, metavar="DIR", help="write events.jsonl and ground_truth.json into DIR"
    )
    parser.add_argument(
        "--kafka", action="store_true", help="send the events to Kafka too (live: see --speed)"
    )
    parser.add_argument(
        "--speed",
        type=non_negative_float,
        default=0.0,
        help="with --kafka: event time runs this many times faster than real time (e.g. 3600: "
        "an hour a second); 0, the default, sends as fast as possible",
    )
    parser.add_argument(
        "--hazmat-share", type=share, default=0.55, help="share of hazmat trucks (default 0.55)"
    )
    parser.add_argument(
        "--positive-rate",
        type=share,
        default=0.0,
        help="share of antigen tests that are positive, for stress runs (default 0: as in 2022)",
    )


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from workbench.simulator import run_simulate

    if args.out is None and not args.kafka:
        print(
            "sentinel simulate: say where the events go: --out DIR, --kafka, or both",
            file=sys.stderr,
        )
        return 2
    args.out = Path(args.out) if args.out else None
    return run_simulate(settings, args)


def _produce_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", type=existing_file, metavar="FILE", help='lines of {"topic": ..., "value": {...}}'
    )
    parser.add_argument("--speed", type=non_negative_float, default=0.0, help="as for simulate")
    parser.add_argument(
        "--late-ok",
        action="store_true",
        help="send events far behind what this namespace has seen anyway (they arrive late)",
    )


def _produce(args: argparse.Namespace, settings: Settings) -> int:
    from streams.jsonl import JsonlError, read_jsonl
    from workbench.playback import ProduceError, produce
    from workbench.replay import HistoryError, check_not_behind

    try:
        total = sum(1 for _ in read_jsonl(args.file))  # validates every line first
        if not args.late_ok:
            check_not_behind(settings, args.file)
        records = (record for _, record in read_jsonl(args.file))
        sent = produce(settings, records, total, speed=args.speed, label=args.file.name)
    except (JsonlError, HistoryError) as exc:
        print(f"sentinel produce: {exc}", file=sys.stderr)
        return 2
    except ProduceError as exc:
        raise Failed(str(exc)) from None
    print(f"sent {sent} events from {args.file}; follow them with `sentinel status --follow`")
    return 0


def _replay_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        type=existing_file,
        metavar="FILE",
        help="history: events as JSON lines (`sentinel simulate --out`)",
    )
    parser.add_argument(
        "--late-ok",
        action="store_true",
        help="send the events even if the namespace has seen later ones (e.g. this history again)",
    )


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from streams.settings import ConfigError, load_settings
    from streams.topics import TopicsError
    from workbench.replay import HistoryError, default_namespace, run_replay
    from workbench.stack import StackError

    if not settings.namespace:
        import os

        namespace = default_namespace(args.file)
        user = {"kafka_user": settings.kafka_user, "kafka_password": settings.kafka_password}
        try:  # the namespace's names, as the user the command runs as (the admin)
            named = load_settings({**os.environ, "SENTINEL_NAMESPACE": namespace})
            settings = named.model_copy(update=user)
        except ConfigError as exc:
            print(f"sentinel replay: {exc}", file=sys.stderr)
            return 2
    try:
        run_replay(settings, args.file, progress, late_ok=args.late_ok)
    except (HistoryError, StackError, TopicsError) as exc:
        raise Failed(str(exc)) from None
    print(
        f"done: `sentinel --namespace {settings.namespace} report` gives its figures; its worker "
        "runs on (`sentinel stack down` stops it with the rest)"
    )
    return 0


def _demo_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--entries", type=positive_int, default=6, help="how many entries to send (default 6)"
    )


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from workbench.demo import run_demo

    return run_demo(settings, entries=args.entries, progress=progress)


def _bench_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--events",
        type=positive_int,
        default=100_000,
        help="raw events to preload from the simulator (default 100000)",
    )
    parser.add_argument(
        "--runs",
        type=positive_int,
        default=3,
        help="runs per measure; the median is reported (default 3)",
    )
    parser.add_argument(
        "--against",
        metavar="COMMIT",
        help="only the replay path (g), A/B against this commit's, on the same events (no Kafka)",
    )
    parser.add_argument(
        "--screens",
        type=positive_int,
        metavar="N",
        help="only what one worker's gate board serves to N open screens while the 2022 story "
        "runs (docs/operations.md)",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="only the live path against its framework: (b) and (f), their runs taken in turn, "
        "and (b)/(f) (a few minutes)",
    )
    parser.add_argument(
        "--restore",
        action="store_true",
        help="only the restarts: ready after N and 3N events of history, from the local store "
        "after a clean stop and from the changelog with the store lost",
    )
    parser.add_argument(
        "--scale-out",
        action="store_true",
        help="only the scale-out measures: CPU per event with 1, 2 and 3 workers, and restart "
        "time with 8, 32 and 128 partitions (docs/deployment.md)",
    )


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from workbench.bench import AbError, run_ab, run_bench

    if args.against:
        try:
            return run_ab(args.against, events=args.events, runs=args.runs, progress=progress)
        except AbError as exc:
            raise Failed(str(exc)) from None
    if args.screens:
        from workbench.bench.screens import run_screens

        return run_screens(settings, args.screens, progress=progress)
    if args.scale_out:
        from workbench.bench.scale import run_scale_out

        return run_scale_out(settings, events=args.events, progress=progress)
    if args.live or args.restore:
        only: Literal["live", "restore"] = "live" if args.live else "restore"
        return run_bench(settings, events=args.events, runs=args.runs, progress=progress, only=only)
    return run_bench(settings, events=args.events, runs=args.runs, progress=progress)


def _chaos_args(parser: argparse.ArgumentParser) -> None:
    from workbench.chaos import SCENARIOS

    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="run only this scenario (repeatable; default: all of them)",
    )
    parser.add_argument(
        "--events",
        type=positive_int,
        default=100_000,
        help="raw events per scenario, before the 1%% poison (default 100000)",
    )
    parser.add_argument(
        "--hang-seconds",
        type=non_negative_float,
        default=600.0,
        help="how long ClickHouse stays stopped in the hang scenario (default 600)",
    )
    parser.add_argument(
        "--no-negative-control",
        action="store_true",
        help="skip the run with a sink that acks before it inserts (which must fail)",
    )


def _chaos(args: argparse.Namespace, settings: Settings) -> int:
    from workbench.chaos import SCENARIOS, report, run_chaos, save

    results = run_chaos(
        settings,
        args.scenario or list(SCENARIOS),
        events=args.events,
        hang_seconds=args.hang_seconds,
        negative_control=not args.no_negative_control,
        progress=progress,
    )
    print(report(results))
    print(f"results: {save(results, settings.state_dir / 'chaos')}")
    scenarios_pass = all(r.passed for r in results if not r.broken_sink)
    control_fails = all(not r.passed for r in results if r.broken_sink)
    if not control_fails:
        print("the negative control PASSED: the oracle cannot see a sink that loses rows")
    return 0 if scenarios_pass and control_fails else 1


def _schemas_args(parser: argparse.ArgumentParser) -> None:
    actions(
        parser,
        write="regenerate schemas/json from the models",
        check="fail if they differ",
    )


def _schemas(args: argparse.Namespace, settings: Settings) -> int:
    from workbench import schema_files

    if args.action == "write":
        print(f"wrote {len(schema_files.write())} files to {schema_files.SCHEMA_DIR}")
        return 0
    stale = schema_files.drift()
    if stale:
        print(f"out of date: {', '.join(stale)}; run `sentinel schemas write`", file=sys.stderr)
        return 1
    print("schemas/json matches the models")
    return 0


WORKBENCH: tuple[Command, ...] = (
    Command(
        "stack",
        "the local Kafka broker and ClickHouse server: up, down, status",
        "The services this checkout runs for you, on loopback, state in SENTINEL_STATE_DIR "
        "(./.local): a Kafka broker (KRaft, jars from Maven Central) and Debian's ClickHouse.",
        ("sentinel stack up", "sentinel stack status", "sentinel stack down"),
        _stack_args,
        as_admin(_stack),
    ),
    Command(
        "worker",
        "run a stream-processing worker (in the foreground, or --detach)",
        "Run a worker: the decide stage, the sink, the alert dispatcher, the gate board. "
        "With --detach, in the background, waiting until it is ready.",
        ("sentinel worker", "sentinel worker --detach", "sentinel worker stop"),
        _worker_args,
        _worker,
    ),
    Command(
        "simulate",
        "the 2022 story's events (and ground truth) to files and/or Kafka",
        "The jinshan-2022 traffic: 11,778 entries from 1 April to 9 May, peak 502, and the "
        "story's incidents, with their ground truth (ground_truth.json).",
        ("sentinel simulate --out /tmp/jinshan", "sentinel simulate --kafka --speed 3600"),
        _simulate_args,
        as_admin(_simulate),
    ),
    Command(
        "produce",
        "send a file of events to Kafka (live traffic, keyed from the catalogue)",
        "Send JSON lines to their topics. Events far behind what this namespace has seen "
        "are refused (they would arrive late): replay history with `sentinel replay`.",
        ("sentinel produce events.jsonl", "sentinel produce events.jsonl --speed 60"),
        _produce_args,
        as_admin(_produce),
    ),
    Command(
        "replay",
        "history through the pipeline, in a namespace of its own, to the end",
        "Send a file of past events into a namespace of their own (topics, worker group, "
        "database; named after the file's directory unless --namespace says), start a "
        "worker for it, and follow it with progress until every event is decided.",
        (
            "sentinel replay /tmp/jinshan/events.jsonl",
            "sentinel --namespace jinshan-2022 replay /tmp/jinshan/events.jsonl",
        ),
        _replay_args,
        as_admin(_replay),
    ),
    Command(
        "demo",
        "send a few entries through the running pipeline and show the results",
        "Start a worker if none runs, send a few hazmat entries and their crews' antigen "
        "results, and print their decisions and where to see them.",
        ("sentinel demo", "sentinel demo --entries 12"),
        _demo_args,
        as_admin(_demo),
    ),
    Command(
        "bench",
        "benchmarks: the pipeline against raw Kafka, bare and naive Faust, Quix",
        "The benchmarks of `make bench` (docs/benchmarks.md): every figure and ratio of one "
        "run, the median of --runs runs.",
        (
            "sentinel bench",
            "sentinel bench --events 300000 --runs 5",
            "sentinel bench --against 3226438   # the replay path, A/B against that commit",
            "sentinel bench --live   # (b) against (f) only",
        ),
        _bench_args,
        as_admin(_bench),
    ),
    Command(
        "chaos",
        "faults on the local stack, judged by an oracle; and a negative control",
        "Each scenario sends the bench's traffic (100,000 raw events, 1% poison of every kind) "
        "through 3 workers in a namespace of its own while faults happen: workers killed, the "
        "broker killed, ClickHouse hung, workers joining and leaving. The oracle: nothing lost "
        "or counted twice (FINAL), every entry decided, reconcile clean, every poison message "
        "dead-lettered once. The negative control (a sink that acks before it inserts) must "
        "fail it. Exit 0 when every scenario passes and the control fails.",
        (
            "sentinel chaos",
            "sentinel chaos --scenario kill --events 20000 --no-negative-control",
            "sentinel chaos --scenario hang --hang-seconds 60",
        ),
        _chaos_args,
        as_admin(_chaos),
    ),
    Command(
        "schemas",
        "the JSON Schema files in schemas/json: write or check",
        "Other producers (kcat, Java, Go) find the contract of every topic in "
        "schemas/json, generated from the models.",
        ("sentinel schemas check", "sentinel schemas write"),
        _schemas_args,
        _schemas,
    ),
)


def commands() -> tuple[Command, ...]:
    """The workbench's commands, for the ``sentinel.commands`` entry point: they need the
    checkout (its deploy/ files, its .local state), so outside one there are none. Its
    ``worker`` (with ``--detach``) replaces the product's."""
    import os

    from workbench import REPO_ROOT

    if not (REPO_ROOT / "deploy").is_dir():
        return ()
    # The local stack lives in the checkout's .local, wherever the command runs from.
    os.environ.setdefault("SENTINEL_STATE_DIR", str(REPO_ROOT / ".local"))
    return WORKBENCH


def all_commands() -> tuple[Command, ...]:
    """The product's commands and the workbench's, whether or not the entry points are
    installed."""
    return cli.merge(cli.COMMANDS, commands())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench.cli``: every command."""
    return cli.main(argv, all_commands())


if __name__ == "__main__":
    sys.exit(main())

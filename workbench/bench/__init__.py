"""``sentinel bench`` (``make bench``): our pipeline against raw Kafka, bare Faust, naive Faust
and Quix Streams, measured side by side in one run on the same preloaded topics.

Rates are messages (raw events) per second; every figure is the median of ``runs`` runs, and the
ratios compare figures of the same run, never numbers from elsewhere. Results go to
``.local/bench/<time>/result.json`` and ``summary.md``. Nothing here is a test: these machines
are shared and noisy, so the figures are reported, not asserted.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

from streams import access
from streams.agents.local import LocalStore
from streams.progress import ProgressBar
from streams.settings import Settings
from workbench import REPO_ROOT
from workbench.bench.profile import SPY_RATE, profiled, read_folded, spy, summarise
from workbench.bench.profile import lines as profile_lines
from workbench.bench.transport import transport_cost

Progress = Callable[[str], None]
RAW_TOPICS = (
    "gate.entries",
    "gate.exits",
    "gate.heartbeats",
    "health.antigen",
    "health.nat",
    "health.visits",
)
QUIX_VERSION = "3.28.1"


@dataclass
class Bench:
    settings: Settings  # isolated: its own topics, group and database
    events: int
    runs: int
    progress: Progress
    figures: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)  # the preloaded raw events
    last_live: Any = None  # the last pipeline run, for the restore measure

    def topics(self) -> list[str]:
        return [self.settings.topic(t) for t in RAW_TOPICS]

    def median(self, name: str, measure: Callable[[], float], runs: int | None = None) -> float:
        values = []
        for run in range(runs or self.runs):
            values.append(measure())
            self.progress(f"{name}: run {run + 1}: {values[-1]:,.0f}/s")
        self.figures[name] = {"median": statistics.median(values), "runs": values}
        return statistics.median(values)


def bench_run(settings: Settings) -> tuple[str, Settings]:
    """A bench run's id and its settings: topics, group and database of its own, named after the
    id (``clean_up`` deletes them by it), the workers' HTTP servers on free ports."""
    run_id = uuid.uuid4().hex[:8]
    return run_id, settings.model_copy(
        update={
            "topic_prefix": f"bench-{run_id}.",
            "app_id": f"bench-{run_id}",
            "clickhouse_url": settings.clickhouse_url_in(f"bench_{run_id}"),
            "http_port": 0,
        }
    )


def run_bench(
    settings: Settings,
    events: int,
    runs: int,
    progress: Progress,
    only: Literal["live", "restore"] | None = None,
) -> int:
    from streams.migrate import migrate
    from streams.topics import create_topics

    run_id, isolated = bench_run(settings)
    create_topics(isolated)
    migrate(
        access.clickhouse_admin_url(isolated),
        isolated.clickhouse_database,
        isolated.clickhouse_cluster,
    )
    bench = Bench(isolated, events, runs, progress)
    try:
        if only == "live":
            return measure_live(bench)
        if only == "restore":
            return measure_restore(bench)
        return measure_all(bench)
    finally:
        clean_up(isolated, run_id, progress)


def measure_all(bench: Bench) -> int:
    events = bench.events
    entries = preload(bench)
    bench.median("a_raw_aiokafka", lambda: raw_aiokafka(bench))
    transport_cost(bench, raw_aiokafka)
    bench.median(
        "f_bare_faust", lambda: subprocess_rate(bench, "workbench.bench.bare_faust", events)
    )
    for name, trial in FAUST_TRIALS.items():
        bench.median(
            name, partial(subprocess_rate, bench, "workbench.bench.bare_faust", events, trial)
        )
    engine = replay_path(bench)
    inserts(bench, engine)
    bench.figures["state_bytes_per_person"] = state_bytes(engine)
    naive_count = min(events, 5000)
    bench.median(
        "c_naive_faust", lambda: subprocess_rate(bench, "workbench.bench.naive", naive_count)
    )
    quix(bench)
    b = bench.median("b_pipeline", lambda: pipeline(bench, entries))
    profile_pipeline(bench, entries, expected_seconds=bench.events / b)
    bench.figures["restore"] = restore(bench, bench.last_live, bench.events)
    bench.last_live = None
    bench.figures["restore_3x"] = restore_after(bench, 3 * bench.events)
    bench.median("b_pipeline_two_workers", lambda: pipeline(bench, entries, workers=2), runs=1)
    latency(bench, rate=b / 2, count=min(events, 20_000))
    burst(bench, entries=5000)
    return report(bench)


def measure_live(bench: Bench) -> int:
    """(b) and (f) only, a run of each in turn (the machine's noise falls on both alike)."""
    entries = preload(bench)
    f_runs, b_runs = [], []
    for run in range(bench.runs):
        f_runs.append(subprocess_rate(bench, "workbench.bench.bare_faust", bench.events))
        b_runs.append(pipeline(bench, entries))
        bench.progress(f"run {run + 1}: (f) {f_runs[-1]:,.0f}/s, (b) {b_runs[-1]:,.0f}/s")
    f, b = statistics.median(f_runs), statistics.median(b_runs)
    if bench.last_live is not None:
        bench.last_live.drop()
    print(
        f"{bench.events:,} raw events, median of {bench.runs} runs\n\n"
        "| measure | events/s (median) | runs |\n|---|---|---|\n"
        f"| (f) bare Faust | {f:,.0f} | {', '.join(f'{r:,.0f}' for r in f_runs)} |\n"
        f"| (b) our pipeline | {b:,.0f} | {', '.join(f'{r:,.0f}' for r in b_runs)} |\n\n"
        f"(b) / (f): {b / f:.2f}"
    )
    return 0


def measure_restore(bench: Bench) -> int:
    """The restarts only: after N and after 3N events of history, from the local store after a
    clean stop and from the changelog with the store lost."""
    short = restore_after(bench, bench.events)
    long = restore_after(bench, 3 * bench.events)
    print(
        "| history | restored in | ready in (after its first log line) "
        "| store lost: restored in | ready in |"
    )
    print("|---|---|---|---|---|")
    for rest in (short, long):
        print(
            f"| {rest['events']:,} events | {rest['restore_seconds']:.2f} s | "
            f"{rest['restart_to_ready_seconds']:.2f} s ({rest['logged_to_ready_seconds']:.2f} s) | "
            f"{rest['restore_seconds_store_lost']:.2f} s | "
            f"{rest['restart_to_ready_seconds_store_lost']:.2f} s |"
        )
    growth = long["restart_to_ready_seconds"] / short["restart_to_ready_seconds"]
    lost = (
        long["restart_to_ready_seconds_store_lost"] / short["restart_to_ready_seconds_store_lost"]
    )
    print(f"\nready after 3N / after N: {growth:.2f} (store lost: {lost:.2f})")
    return 0


class AbError(Exception):
    """The commit to compare with cannot be checked out; the message says why."""


def run_ab(commit: str, events: int, runs: int, progress: Progress) -> int:
    """(g), the replay path, of this checkout and of ``commit`` (checked out beside it, under
    .local/bench), on the same events, in one sitting: events/s and us/event of each, with the
    GC as each runs it and with the same GC tuning for both."""
    base = REPO_ROOT / ".local" / "bench"
    base.mkdir(parents=True, exist_ok=True)
    found = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--verify", "--short", f"{commit}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        raise AbError(f"{commit!r} is not a commit of this repository; name one from `git log`")
    short = found.stdout.strip()
    old = base / f"ab-{short}"
    if not old.exists():
        progress(f"checking out {short} in {old}")
        subprocess.run(
            ["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(old), short],
            check=True,
            capture_output=True,
        )
    path = base / f"ab-events-{events}.jsonl"
    if not path.exists():
        progress(f"writing {events:,} events to {path}")
        with path.open("w", encoding="utf-8") as out:
            for record in bench_records(events):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    script = Path(__file__).with_name("engine_ab.py")
    results = []
    for tree, name in ((old, short), (REPO_ROOT, "this checkout")):
        for gc_mode in ("default-gc", "tuned-gc"):
            progress(f"replay path of {name}, {gc_mode}, {runs} runs")
            done = subprocess.run(
                [sys.executable, str(script), str(path), str(runs), gc_mode],
                capture_output=True,
                text=True,
                cwd=base,  # not the checkout: its streams/ must not shadow the tree's
                env={**os.environ, "PYTHONPATH": str(tree)},
            )
            if done.returncode != 0:
                raise AbError(f"the replay path of {name} failed:\n{done.stderr[-3000:]}")
            results.append({"tree": name, **json.loads(done.stdout.strip().splitlines()[-1])})
    lines = [
        f"# The replay path (g), A/B: {short} against this checkout",
        "",
        f"{events:,} raw events ({path.name}), median of {runs} runs, {os.cpu_count()} CPUs.",
        "",
        "| version | GC | events/s | us/event | decisions |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['tree']} ({r['version']}) | {'tuned' if r['tuned_gc'] else 'default'} | "
            f"{r['events_per_second']:,.0f} | {r['us_per_event']:,.1f} | {r['decisions']:,} |"
        )
    old_default, old_tuned, new_default, new_tuned = (r["events_per_second"] for r in results)
    lines += [
        "",
        f"This checkout as it runs (tuned GC) / {short} as it ran (default GC): "
        f"{new_tuned / old_default:.2f}x; with the same GC: {new_default / old_default:.2f}x "
        f"(default), {new_tuned / old_tuned:.2f}x (tuned).",
    ]
    print("\n".join(lines))
    return 0


def clean_up(settings: Settings, run_id: str, progress: Progress) -> None:
    """Delete every topic and database the run made (all named after ``run_id``): a broker
    left with the thousands of partitions of a few runs once stalled a later run's rebalance."""
    from clickhouse_driver import Client
    from kafka import KafkaAdminClient

    from streams.migrate import drop_database

    admin = KafkaAdminClient(**access.kafka_python(settings))
    try:
        topics = [t for t in admin.list_topics() if t.startswith(f"bench-{run_id}")]
        for start in range(0, len(topics), 100):
            admin.delete_topics(topics[start : start + 100], timeout_ms=60_000)
    finally:
        admin.close()
    client = Client.from_url(access.clickhouse_admin_url(settings, "default"))
    try:
        databases = [
            row[0]
            for row in client.execute("SHOW DATABASES")
            if row[0].startswith(f"bench_{run_id}")
        ]
        for database in databases:
            drop_database(
                access.clickhouse_admin_url(settings), database, settings.clickhouse_cluster
            )
    finally:
        client.disconnect()
    progress(f"cleaned up: {len(topics)} topics and {len(databases)} databases deleted")


BENCH_PARKS = 8  # the bench's load spreads over this many parks (as a district's would)


def bench_records(count: int, parks: int = BENCH_PARKS) -> list[dict[str, Any]]:
    """``count`` raw events: the 2022 story of seed 1, then seed 2 starting where seed 1 ended
    (every time shifted), and so on, so that history runs on; each vehicle at one of ``parks``
    parks (by its plate), its crew's tests and visits at the same park."""
    from streams.jsonl import envelope
    from workbench.simulator.jinshan import Params, generate

    records: list[dict[str, Any]] = []
    seed, shift = 1, timedelta(0)
    while len(records) < count:
        scenario = generate(Params(seed=seed))
        spread = Spread(parks)
        story = [spread(envelope(topic, event)) for topic, event in scenario.events]
        last = max(datetime.fromisoformat(r["value"]["event_time"]) for r in story)
        first = min(datetime.fromisoformat(r["value"]["event_time"]) for r in story)
        records += [shifted(r, shift) for r in story]
        shift += last - first + timedelta(days=1)
        seed += 1
    return records[:count]


class Spread:
    """Gives each record of one story a park: a vehicle's by its plate, a person's by the
    vehicle they were last on, a heartbeat's by its gate; lab reports keep none."""

    def __init__(self, parks: int = BENCH_PARKS) -> None:
        self.parks = parks
        self.of_person: dict[str, str] = {}
        self.of_entry: dict[str, str] = {}

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        value = record["value"]
        if "park" not in value:
            return record
        topic = record["topic"]
        if topic == "gate.entries":
            park = bench_park(value["plate"], self.parks)
            self.of_entry[value["event_id"]] = park
            for occupant in value["occupants"]:
                self.of_person[occupant["id_number"]] = park
        elif topic == "gate.exits":
            park = self.of_entry.get(
                value.get("entry_id") or "", bench_park(value["plate"], self.parks)
            )
        elif topic in ("health.antigen", "health.visits"):
            park = self.of_entry.get(value.get("entry_id") or "") or self.of_person.get(
                value["id_number"], bench_park(value["id_number"], self.parks)
            )
        else:
            park = bench_park(value["gate"], self.parks)
        return {**record, "value": {**value, "park": park}}


def bench_park(text: str, parks: int = BENCH_PARKS) -> str:
    import zlib

    return f"park-{zlib.crc32(text.encode()) % parks + 1}"


TIME_FIELDS = ("event_time", "sample_time", "nat_sample_time")


def shifted(record: dict[str, Any], by: timedelta) -> dict[str, Any]:
    """The record with every time in it moved by ``by``."""
    if not by:
        return record

    def move(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (
                    (datetime.fromisoformat(v) + by).isoformat()
                    if k in TIME_FIELDS and isinstance(v, str)
                    else move(v)
                )
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [move(v) for v in value]
        return value

    return {**record, "value": move(record["value"])}


def preload(bench: Bench) -> int:
    """The bench's raw events (:func:`bench_records`), sent to the raw topics. Returns how many
    vehicle entries are among them."""
    from workbench.playback import produce

    bench.records = bench_records(bench.events)
    produce(
        bench.settings, bench.records, bench.events, label=f"preloading {bench.events:,} events"
    )
    return sum(1 for r in bench.records if r["topic"] == "gate.entries")


def raw_aiokafka(bench: Bench) -> float:
    """(a) The physical limit for Python: aiokafka getmany and json.loads, nothing else."""
    from aiokafka import AIOKafkaConsumer

    async def consume() -> float:
        consumer = AIOKafkaConsumer(
            *bench.topics(),
            **access.aiokafka(bench.settings),
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 << 20,
            fetch_max_bytes=64 << 20,
        )
        await consumer.start()
        try:
            count, first = 0, 0.0
            while count < bench.events:
                for records in (
                    await consumer.getmany(timeout_ms=1000, max_records=10000)
                ).values():
                    if not first:
                        first = time.perf_counter()
                    for record in records:
                        json.loads(record.value)
                    count += len(records)
            return count / (time.perf_counter() - first)
        finally:
            await consumer.stop()

    return asyncio.run(consume())


# Faust settings tried against its own ceiling, (f): bigger fetches, polls and buffers, rarer
# commits. Each is measured like (f) and reported beside it.
FAUST_TRIALS: dict[str, dict[str, Any]] = {
    "f_bare_faust_big_fetch": {
        "broker_max_poll_records": 10_000,
        "consumer_max_fetch_size": 16 << 20,
    },
    "f_bare_faust_big_buffers": {"stream_buffer_maxsize": 65_536},
    "f_bare_faust_rare_commits": {"broker_commit_every": 50_000, "broker_commit_interval": 30.0},
}


def subprocess_rate(
    bench: Bench, module: str, expect: int, faust_settings: dict[str, Any] | None = None
) -> float:
    """A Faust app in its own process (its own group), from the topics' beginning."""
    env = {
        **os.environ,
        # Its state directory is the bench's: the stack's secrets go with it.
        **access.pinned(access.as_user(bench.settings, "worker")).as_env(),
        "BENCH_BROKER": bench.settings.kafka_bootstrap,
        "BENCH_APP": f"{bench.settings.app_id}-{module.rsplit('.', 1)[1]}-{uuid.uuid4().hex[:6]}",
        "BENCH_TOPICS": ",".join(bench.topics()),
        "BENCH_EXPECT": str(expect),
        "BENCH_CLICKHOUSE_URL": access.clickhouse_url(bench.settings),
        "BENCH_PREFIX": bench.settings.topic_prefix,
        "SENTINEL_STATE_DIR": str(bench.settings.state_dir / "bench"),
        "BENCH_FAUST_SETTINGS": json.dumps(faust_settings or {}),
    }
    directory = bench.settings.state_dir / "bench" / "faust"
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", module],
        env=env,
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return rate_from(done, module)


def rate_from(done: subprocess.CompletedProcess[str], what: str) -> float:
    """Messages per second from the JSON a measuring subprocess printed (a Faust worker sends
    prints to its log, on stderr)."""
    result = result_from(done, what)
    return float(result["messages"] / result["seconds"])


def result_from(done: subprocess.CompletedProcess[str], what: str) -> dict[str, Any]:
    found = re.search(r'\{"messages": .*?\}', done.stdout + done.stderr)
    if found is None:
        tail = (done.stdout + done.stderr)[-3000:]
        raise RuntimeError(f"{what} printed no result (exit {done.returncode}):\n{tail}")
    return dict(json.loads(found.group(0)))


def replay_path(bench: Bench) -> Any:
    """(g) Our replay/backtest path: the pure core driven by a batch consumer, no Faust."""
    from aiokafka import AIOKafkaConsumer

    from streams.backtest import in_event_time, replay
    from streams.rules import DEFAULT_RULESET, load_ruleset
    from streams.worker import tune_gc

    tune_gc()  # as a worker and the backtest do
    last: dict[str, Any] = {}

    async def consume() -> list[tuple[str, bytes]]:
        consumer = AIOKafkaConsumer(
            *bench.topics(),
            **access.aiokafka(bench.settings),
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 << 20,
            fetch_max_bytes=64 << 20,
        )
        await consumer.start()
        try:
            values: list[tuple[str, bytes]] = []
            prefix = bench.settings.topic_prefix
            while len(values) < bench.events:
                batches = await consumer.getmany(timeout_ms=1000, max_records=10000)
                for records in batches.values():
                    values += [(r.topic.removeprefix(prefix), r.value) for r in records]
            return values
        finally:
            await consumer.stop()

    def measure() -> float:
        started = time.perf_counter()
        records = in_event_time(asyncio.run(consume()))
        rules = load_ruleset(DEFAULT_RULESET)
        replayed = replay(rules, records, b"bench" * 8, "replay path", finish=False)
        last["state"] = held(replayed.processor.engine)
        replayed.finish()
        last["engine"], last["decisions"] = replayed.processor.engine, replayed.decisions
        bench.figures.setdefault("decisions_made", {})["g"] = len(replayed.decisions)
        return bench.events / (time.perf_counter() - started)

    bench.median("g_replay_path", measure)
    profile = cProfile.Profile()
    profile.runcall(measure)
    bench.figures["profile_g"] = profiled(profile)
    bench.progress("replay path: profiled once more under cProfile")
    return last


def held(engine: Any) -> dict[str, int]:
    """What the engine's parks hold, as changelog records: count and bytes, people, entries."""
    from streams.engine import records

    count = size = 0
    people: set[str] = set()
    entries = 0
    for park in engine.parks.values():
        for entity in records.entities(park):
            value = records.dump(park, entity)
            count += 1
            size += len(records.key_of(park.name, entity)) + len(value or b"")
        people |= set(park.by_person) | set(park.antigens) | set(park.visits)
        entries += len(park.entries)
    return {"records": count, "bytes": size, "people": len(people), "entries": entries}


def inserts(bench: Bench, replayed: dict[str, Any]) -> None:
    """(e) Bare clickhouse-driver columnar inserts against our sink's writer, same rows, same
    batch size (SENTINEL_SINK_BATCH_ROWS)."""
    from clickhouse_driver import Client

    from streams.sink.clickhouse import ClickHouseWriter
    from streams.sink.rows import COLUMNS, decision_row

    rows = [decision_row(d.wire()) for d in replayed["decisions"]]
    columns = COLUMNS["decisions"]
    size = bench.settings.sink_batch_rows
    batches = [rows[i : i + size] for i in range(0, len(rows), size)]
    client = Client.from_url(access.clickhouse_url(bench.settings))
    writer = ClickHouseWriter(access.clickhouse_url(bench.settings))

    def bare() -> float:
        started = time.perf_counter()
        for batch in batches:
            data = [list(c) for c in zip(*batch, strict=True)]
            client.execute(
                f"INSERT INTO decisions ({', '.join(columns)}) VALUES", data, columnar=True
            )
        return len(rows) / (time.perf_counter() - started)

    def ours() -> float:
        async def write_all() -> None:
            for batch in batches:
                await writer.write("decisions", columns, batch)

        started = time.perf_counter()
        asyncio.run(write_all())
        return len(rows) / (time.perf_counter() - started)

    bench.median("e_bare_inserts", bare)
    bench.median("sink_inserts", ours)
    bench.figures["insert_rows"] = len(rows)
    client.disconnect()
    writer.close()


def state_bytes(replayed: dict[str, Any]) -> dict[str, float]:
    """The decide stage's state as its changelog keeps it (one record per entity), measured
    after the replay's last event and before its clock ran to the end: bytes in all, per
    person it tracks (on a kept entry, or with a test result or a visit kept) and per entry."""
    state: dict[str, Any] = replayed["state"]
    return {
        "people": state["people"],
        "entries": state["entries"],
        "bytes": state["bytes"],
        "mean_bytes_per_person": state["bytes"] / max(1, state["people"]),
        "mean_bytes_per_entry": state["bytes"] / max(1, state["entries"]),
        "records": state["records"],
    }


def quix(bench: Bench) -> None:
    """(d) Quix Streams, in its own virtualenv under .local/bench (made on first use): the job
    of (c) written the Quix way, with our code on its path; and, as (f) is for Faust, its own
    ceiling, a dataframe that only decodes JSON."""
    from importlib.metadata import version

    venv = bench.settings.state_dir / "bench" / f"quix-{QUIX_VERSION}"
    python = venv / "bin" / "python"
    wanted = [
        f"quixstreams=={QUIX_VERSION}",
        f"pyyaml=={version('pyyaml')}",
        f"clickhouse-driver=={version('clickhouse-driver')}",
        f"prometheus-client=={version('prometheus-client')}",  # our processor counts
        f"aiokafka=={version('aiokafka')}",  # its partitioner places a park's records
    ]
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    check = "import quixstreams, yaml, clickhouse_driver, prometheus_client, aiokafka"
    if subprocess.run([str(python), "-c", check], capture_output=True).returncode != 0:
        bench.progress(f"installing {', '.join(wanted)} into {venv} (once)")
        subprocess.run([str(python), "-m", "pip", "install", "-q", *wanted], check=True)

    def measure(script: str, *arguments: str) -> float:
        group = f"{bench.settings.app_id}-quix-{uuid.uuid4().hex[:6]}"
        done = subprocess.run(
            [str(python), str(Path(__file__).with_name(script)), group, str(bench.events)]
            + list(arguments),
            capture_output=True,
            text=True,
            timeout=1800,
            cwd=venv,
            env={  # secrets in the environment, not on a command line every user may read
                **os.environ,
                "PYTHONPATH": str(REPO_ROOT),
                "QUIX_BROKER": json.dumps(
                    access.librdkafka(access.as_user(bench.settings, "worker"))
                ),
                "QUIX_CLICKHOUSE_URL": access.clickhouse_url(bench.settings),
            },
        )
        result = result_from(done, f"quix streams ({script})")
        if "decisions" in result:
            bench.figures.setdefault("decisions_made", {})["d"] = result["decisions"]
        return float(result["messages"] / result["seconds"])

    bench.median("d_quix_decode_only", lambda: measure("quix_consume.py", *bench.topics()))
    bench.median(
        "d_quix_streams",
        lambda: measure("quix_job.py", bench.settings.topic_prefix, *RAW_TOPICS),
    )


class LiveRun:
    """Our pipeline on its own topics, consumer group and database, with the bench's events."""

    def __init__(self, bench: Bench, label: str) -> None:
        from streams.migrate import migrate
        from streams.topics import create_topics

        run_id = uuid.uuid4().hex[:6]
        database = f"{bench.settings.clickhouse_database}_{run_id}"
        self.settings = bench.settings.model_copy(
            update={
                "topic_prefix": f"{bench.settings.topic_prefix}{run_id}.",
                "app_id": f"{bench.settings.app_id}-{label}-{run_id}",
                "clickhouse_url": bench.settings.clickhouse_url_in(database),
            }
        )
        create_topics(self.settings)
        migrate(
            access.clickhouse_admin_url(self.settings), database, self.settings.clickhouse_cluster
        )
        self.workers: list[subprocess.Popen[bytes]] = []
        self.ready_after_imports = 0.0  # of the last worker started: see logged_to_ready
        self.logs = bench.settings.state_dir / "bench" / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def start_worker(self) -> float:
        """Start one more worker; returns the seconds until it said it was ready."""
        from streams.worker import wait_for_ready

        env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
        env |= self.settings.as_env(kafka_user="worker")
        log_file = self.logs / f"{self.settings.app_id}-{len(self.workers)}.log"
        started = time.perf_counter()
        with log_file.open("ab") as log:  # a restart goes on in the same file
            offset = log.tell()
            worker = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.workers.append(worker)
        wait_for_ready(log_file, offset, worker.pid, is_alive=lambda: worker.poll() is None)
        seconds = time.perf_counter() - started
        with log_file.open("rb") as log:
            log.seek(offset)
            self.ready_after_imports = logged_to_ready(log.read().decode(errors="replace"))
        return seconds

    def drop(self) -> None:
        """Delete its topics, database and local store: a broker left with the partitions of
        many runs once stalled a later run's rebalance."""
        from kafka import KafkaAdminClient

        from streams.migrate import drop_database

        LocalStore.of(self.settings).remove()
        admin = KafkaAdminClient(**access.kafka_python(self.settings))
        try:
            topics = [t for t in admin.list_topics() if t.startswith(self.settings.topic_prefix)]
            if topics:
                admin.delete_topics(topics, timeout_ms=60_000)
        finally:
            admin.close()
        drop_database(
            access.clickhouse_admin_url(self.settings),
            self.settings.clickhouse_database,
            self.settings.clickhouse_cluster,
        )

    def board_url(self, worker: int = -1) -> str:
        """Where a worker's HTTP server listens (it logged it; the last start's)."""
        from streams.agents.board import BOARD_URL_MARKER

        log_file = self.logs / f"{self.settings.app_id}-{worker % len(self.workers)}.log"
        found = re.findall(rf"{BOARD_URL_MARKER} (http://\S+/)", log_file.read_text())
        if not found:
            raise RuntimeError(f"no board URL in {log_file}")
        return str(found[-1])

    def metric(self, name: str, worker: int = -1) -> float:
        """A metric without labels (a histogram's ``_sum``, a counter's ``_total``) on a
        worker's /metrics."""
        import urllib.request

        with urllib.request.urlopen(f"{self.board_url(worker)}metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(f"{name} "):
                    return float(line.split()[1])
        raise RuntimeError(f"no metric {name} on the worker at {self.board_url(worker)}")

    def decided(self) -> int:
        from clickhouse_driver import Client

        client = Client.from_url(access.clickhouse_url(self.settings))
        try:
            return int(client.execute("SELECT uniqExact(entry_id) FROM decisions")[0][0])
        finally:
            client.disconnect()

    def wait_decided(self, entries: int, label: str, stall: float = 300) -> None:
        bar = ProgressBar(entries, label)
        moved = time.monotonic()
        while bar.done < entries:
            time.sleep(1)
            decided = self.decided()
            if decided > bar.done:
                bar.advance(decided - bar.done)
                moved = time.monotonic()
            if any(w.poll() is not None for w in self.workers):
                raise RuntimeError(f"a bench worker exited; see {self.logs}")
            if time.monotonic() - moved > stall:
                raise RuntimeError(f"no entry decided for {stall:.0f} s; see {self.logs}")
        bar.close()

    def read_up(self) -> int:
        """Raw events the decide stage has not committed yet (its group's lag)."""
        from kafka import KafkaAdminClient, KafkaConsumer

        from streams.agents.decide import RAW_TOPICS as DECIDED
        from streams.status import group_lag

        admin = KafkaAdminClient(**access.kafka_python(self.settings))
        consumer = KafkaConsumer(**access.kafka_python(self.settings))
        try:
            return group_lag(admin, consumer, self.settings, self.settings.app_id, DECIDED)
        finally:
            consumer.close()
            admin.close()

    def wait_read_up(self, label: str, stall: float = 300) -> None:
        """Until the decide stage has committed every raw event: entries may all be decided
        while tests and visits read after them are still to come (how far depends on the order
        Kafka hands the topics out, and (b) varied threefold from run to run with it)."""
        left = self.read_up()
        bar = ProgressBar(left, label)
        moved = time.monotonic()
        while left:
            time.sleep(0.5)
            now = self.read_up()
            if now < left:
                bar.advance(left - now)
                left, moved = now, time.monotonic()
            if any(w.poll() is not None for w in self.workers):
                raise RuntimeError(f"a bench worker exited; see {self.logs}")
            if time.monotonic() - moved > stall:
                raise RuntimeError(f"no raw event committed for {stall:.0f} s; see {self.logs}")
        bar.close()

    def stop(self) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                # Faust's shutdown can wait forever for a message it counts as unacked
                # ("wait_empty: Waiting for tasks" in the log); the measure is taken by now.
                print(f"a bench worker did not stop in 60 s, killed; see {self.logs}")
                worker.kill()
                worker.wait()
        self.workers.clear()


def logged_to_ready(log: str) -> float:
    """Seconds from a worker's first log line (its imports done: ~1.1 s of Python here) to its
    ready line."""
    from streams.worker import READY_MARKER

    stamps = [
        (datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f"), READY_MARKER in line)
        for line in log.splitlines()
        if re.match(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\]", line)
    ]
    ready = next(at for at, is_ready in stamps if is_ready)
    return (ready - stamps[0][0]).total_seconds()


def pipeline(bench: Bench, entries: int, workers: int = 1) -> float:
    """(b) Our live pipeline end to end, its topics preloaded with the bench's events: from the
    workers being ready to every entry decided in ClickHouse and every raw event read (committed
    by the decide stage), as (f) reads every one."""
    from workbench.playback import produce

    live = LiveRun(bench, f"live{workers}")
    produce(live.settings, bench.records, bench.events, label="pipeline: preloading its topics")
    try:
        for _ in range(workers):
            live.start_worker()
        started = time.perf_counter()
        live.wait_decided(entries, f"pipeline, {workers} worker(s): entries decided")
        live.wait_read_up(f"pipeline, {workers} worker(s): raw events read")
        rate = bench.events / (time.perf_counter() - started)
        if workers == 1:
            written = live.metric("sentinel_state_bytes_total")
            records = live.metric("sentinel_state_records_total")
            bench.figures.setdefault("changelog_bytes_per_event", []).append(written / bench.events)
            bench.figures.setdefault("changelog_records_per_event", []).append(
                records / bench.events
            )
    finally:
        live.stop()
    if bench.last_live is not None:
        bench.last_live.drop()
    bench.last_live = live
    return rate


def profile_pipeline(bench: Bench, entries: int, expected_seconds: float) -> None:
    """(b) once more, its worker sampled by py-spy: where the live pipeline spends its time."""
    from workbench.playback import produce

    live = LiveRun(bench, "profiled")
    produce(live.settings, bench.records, bench.events, label="profile: preloading its topics")
    output = live.logs / f"{live.settings.app_id}.pyspy.txt"
    try:
        live.start_worker()
        seconds = max(5, min(120, int(expected_seconds * 0.8)))
        sampler = spy(live.workers[0].pid, seconds, output)
        live.wait_decided(entries, "profile: entries decided (py-spy sampling the worker)")
        _, errors = sampler.communicate(timeout=seconds + 60)
        if sampler.returncode != 0:
            raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')[-500:]}")
    finally:
        live.stop()
        live.drop()
    profile = summarise(read_folded(output))
    # Busy samples of all its threads (the loop, the ClickHouse client's), in cores' worth.
    profile["busy_share"] = profile["samples"] / (seconds * SPY_RATE)
    bench.figures["profile_b"] = profile
    bench.progress(f"pipeline: {profile['samples']:,} busy samples in {output}")


def restore(bench: Bench, live: Any, events: int) -> dict[str, Any]:
    """A worker restarted after ``events`` events of history, after a clean stop (from its
    local store) and then on a host that lost it (from the changelog): the seconds its state took
    to restore (``sentinel_restore_seconds``) and from its start until it was ready, against
    reading the state topic raw with aiokafka."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = live.settings.topic("sentinel.decide-state")

    async def read_state() -> tuple[int, int, int, float]:
        consumer = AIOKafkaConsumer(
            **access.aiokafka(live.settings),
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 << 20,
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(live.settings.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning()
            ends = await consumer.end_offsets(partitions)
            written = sum(ends.values())  # offsets are never reused: every record ever written
            started = time.perf_counter()
            count = size = 0
            while await behind(consumer, ends):
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    count += len(records)
                    size += sum(len(r.key or b"") + len(r.value or b"") for r in records)
            return written, count, size, time.perf_counter() - started
        finally:
            await consumer.stop()

    written, kept, size, raw_seconds = asyncio.run(read_state())
    try:
        # The worker that ran stopped cleanly: its state is in the local store.
        ready = live.start_worker()
        logged = live.ready_after_imports
        restoring = live.metric("sentinel_restore_seconds_sum")
        live.stop()
        LocalStore.of(live.settings).remove()  # a host that lost its disk
        ready_lost = live.start_worker()
        restoring_lost = live.metric("sentinel_restore_seconds_sum")
    finally:
        live.stop()
        live.drop()
    figures = {
        "events": events,
        "records_written": written,
        "records_kept": kept,
        "bytes_kept": size,
        "raw_read_seconds": raw_seconds,
        "restore_seconds": restoring,
        "restart_to_ready_seconds": ready,
        "logged_to_ready_seconds": logged,
        "restore_seconds_store_lost": restoring_lost,
        "restart_to_ready_seconds_store_lost": ready_lost,
    }
    bench.progress(
        f"restore after {events:,} events: {kept:,} of {written:,} state records kept "
        f"({size / 1e6:.1f} MB, read raw in {raw_seconds:.1f} s); after a clean stop restored "
        f"in {restoring:.1f} s, ready in {ready:.1f} s ({logged:.1f} s after its first log "
        f"line); with the local store lost restored in "
        f"{restoring_lost:.1f} s, ready in {ready_lost:.1f} s"
    )
    return figures


async def behind(consumer: Any, ends: dict[Any, int]) -> bool:
    """Whether the consumer is short of ``ends`` on any partition."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def restore_after(bench: Bench, events: int) -> dict[str, Any]:
    """:func:`restore` after a longer history: the bench's story running on to ``events``."""
    from workbench.playback import produce

    records = bench_records(events)
    entries = sum(1 for r in records if r["topic"] == "gate.entries")
    live = LiveRun(bench, f"history{events}")
    produce(live.settings, records, events, label=f"restore: preloading {events:,} events")
    try:
        live.start_worker()
        live.wait_decided(entries, f"restore: {events:,} events of history decided")
    finally:
        live.stop()
    return restore(bench, live, events)


def latency(bench: Bench, rate: float, count: int) -> None:
    """Entry-to-decision latency with the events sent at ``rate`` per second: from the raw
    entry's record timestamp to its first decision's record timestamp."""
    from workbench.playback import produce

    live = LiveRun(bench, "latency")
    records = bench.records[:count]
    entries = sum(1 for r in records if r["topic"] == "gate.entries")
    try:
        live.start_worker()
        started = time.perf_counter()
        for start in range(0, count, max(1, int(rate // 10))):
            chunk = records[start : start + max(1, int(rate // 10))]
            produce(live.settings, chunk, len(chunk), label="latency: paced")
            time.sleep(max(0.0, started + (start + len(chunk)) / rate - time.perf_counter()))
        live.wait_decided(entries, "latency: entries decided")
    finally:
        live.stop()
    try:
        p50, p99, decided = first_decision_delays(live)
    finally:
        live.drop()
    bench.figures["latency"] = {
        "rate": rate,
        "events": count,
        "entries": decided,
        "p50_seconds": p50,
        "p99_seconds": p99,
    }
    bench.progress(f"latency at {rate:,.0f} events/s: p50 {p50:.2f} s, p99 {p99:.2f} s")


def first_entries(records: list[dict[str, Any]], entries: int) -> tuple[list[dict[str, Any]], int]:
    """The records up to the ``entries``-th entry (all of them when they hold fewer), and how many
    entries they hold."""
    taken: list[dict[str, Any]] = []
    held = 0
    for record in records:
        taken.append(record)
        held += record["topic"] == "gate.entries"
        if held >= entries:
            break
    return taken, held


def burst(bench: Bench, entries: int) -> None:
    """A burst: the first ``entries`` entries of the bench's story, with everything sent around
    them, produced as fast as possible to an idle worker; entry-to-decision p50 and p99."""
    from workbench.playback import produce

    records, held = first_entries(bench.records, entries)
    if held < entries:
        bench.progress(
            f"burst: the bench's {bench.events:,} events hold {held:,} entries, not {entries:,}: "
            "the burst is those"
        )
    live = LiveRun(bench, "burst")
    try:
        live.start_worker()
        produce(live.settings, records, len(records), label=f"burst: {held:,} entries at once")
        live.wait_decided(held, "burst: entries decided")
    finally:
        live.stop()
    try:
        p50, p99, decided = first_decision_delays(live)
    finally:
        live.drop()
    bench.figures["burst"] = {
        "events": len(records),
        "entries": decided,
        "p50_seconds": p50,
        "p99_seconds": p99,
    }
    bench.progress(f"burst of {decided:,} entries: p50 {p50:.2f} s, p99 {p99:.2f} s")


def first_decision_delays(live: Any) -> tuple[float, float, int]:
    """p50 and p99 seconds from each raw entry's record timestamp to its first decision's, and
    how many entries were decided."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def timestamps(base: str) -> list[Any]:
        topic = live.settings.topic(base)
        consumer = AIOKafkaConsumer(
            **access.aiokafka(live.settings), group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(live.settings.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning()
            ends = await consumer.end_offsets(partitions)
            out: list[Any] = []
            while await behind(consumer, ends):
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    out += batch
            return out
        finally:
            await consumer.stop()

    sent = {
        json.loads(r.value)["event_id"]: r.timestamp
        for r in asyncio.run(timestamps("gate.entries"))
    }
    first: dict[str, int] = {}
    for record in asyncio.run(timestamps("sentinel.decisions")):
        decision = json.loads(record.value)
        if decision["revision"] == 0:
            first[decision["entry_id"]] = record.timestamp
    delays = sorted((first[e] - t) / 1000 for e, t in sent.items() if e in first)
    return delays[len(delays) // 2], delays[int(len(delays) * 0.99)], len(delays)


# The targets of issue 16, as ratios of figures of the same run: (text, a, b, needed a / b).
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("(b) >= 0.5 x (f): the live pipeline against bare Faust", "b_pipeline", "f_bare_faust", 0.5),
    ("(b) >= 0.5 x (d): against Quix on the same job", "b_pipeline", "d_quix_streams", 0.5),
)
REPORTED = (
    ("(b) / (c): against the naive pattern", "b_pipeline", "c_naive_faust"),
    ("(b) / (a): the price of Python streaming", "b_pipeline", "a_raw_aiokafka"),
    ("(g) / (a): the replay path against raw Kafka", "g_replay_path", "a_raw_aiokafka"),
    ("(g) / (d): the replay path against Quix", "g_replay_path", "d_quix_streams"),
    ("sink / (e): our writer against bare inserts", "sink_inserts", "e_bare_inserts"),
    (
        "(d) / its decode-only ceiling: the job's price on Quix",
        "d_quix_streams",
        "d_quix_decode_only",
    ),
    ("(f) / (a): Faust's own price", "f_bare_faust", "a_raw_aiokafka"),
)


def check(target: str, value: float, needed: float, met: bool) -> dict[str, Any]:
    return {"target": target, "ratio": value, "needed": needed, "met": met}


def report(bench: Bench) -> int:
    figures = bench.figures
    f = {k: v["median"] for k, v in figures.items() if isinstance(v, dict) and "median" in v}
    state = figures["state_bytes_per_person"]
    per_event = statistics.median(figures["changelog_bytes_per_event"])
    lat, burst_ = figures["latency"], figures["burst"]
    short, long = figures["restore"], figures["restore_3x"]
    growth = long["restart_to_ready_seconds"] / short["restart_to_ready_seconds"]
    clean = max(short["restart_to_ready_seconds"], long["restart_to_ready_seconds"])
    logged = max(short["logged_to_ready_seconds"], long["logged_to_ready_seconds"])
    checks = [check(text, f[a] / f[b], need, f[a] / f[b] >= need) for text, a, b, need in TARGETS]
    checks += [
        check("changelog bytes per raw event <= 1 KB", per_event, 1024, per_event <= 1024),
        check(
            "state <= 1 KB per tracked person (mean bytes)",
            state["mean_bytes_per_person"],
            1024,
            state["mean_bytes_per_person"] <= 1024,
        ),
        check(
            f"restart to ready after {long['events']:,} events <= 1.5 x after {short['events']:,}",
            growth,
            1.5,
            growth <= 1.5,
        ),
        check("after a clean stop, ready in < 2 s (from the process start)", clean, 2, clean < 2),
        check(
            "after a clean stop, ready in < 2 s (from the worker's first log line)",
            logged,
            2,
            logged < 2,
        ),
        check(
            "entry to decision at half of (b): p99 <= 5 x p50",
            lat["p99_seconds"] / lat["p50_seconds"],
            5,
            lat["p99_seconds"] <= 5 * lat["p50_seconds"],
        ),
        check(
            f"a {burst_['entries']:,}-entry burst: p99 <= 2 x p50",
            burst_["p99_seconds"] / burst_["p50_seconds"],
            2,
            burst_["p99_seconds"] <= 2 * burst_["p50_seconds"],
        ),
    ]
    ratios = {text: f[a] / f[b] for text, a, b in REPORTED}
    ratios["two workers / one worker"] = f["b_pipeline_two_workers"] / f["b_pipeline"]
    tls = figures["tls_scram_cost"]
    ratios["SCRAM over TLS / PLAINTEXT: produce (gates, labs)"] = tls["produce"]
    ratios["SCRAM over TLS / PLAINTEXT: raw read, (a)"] = tls["a_raw_aiokafka"]
    for name in FAUST_TRIALS:
        ratios[f"{name} / f_bare_faust ({FAUST_TRIALS[name]})"] = f[name] / f["f_bare_faust"]
    when = datetime.now(UTC).isoformat(timespec="seconds")
    cpus, python = os.cpu_count(), sys.version.split()[0]
    result = {
        "when": when,
        "events": bench.events,
        "runs": bench.runs,
        "machine": {"cpus": cpus, "python": python},
        "figures": figures,
        "targets": checks,
        "ratios": ratios,
    }
    out = REPO_ROOT / ".local" / "bench" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    lines = [
        f"# Gate Sentinel bench, {when}",
        "",
        f"{bench.events:,} raw events over {BENCH_PARKS} parks, median of {bench.runs} runs, "
        f"{cpus} CPUs, Python {python}.",
        "",
        "| measure | events/s (median) | runs |",
        "|---|---|---|",
    ]
    for name, value in figures.items():
        if isinstance(value, dict) and "median" in value:
            runs = ", ".join(f"{v:,.0f}" for v in value["runs"])
            lines.append(f"| {name} | {value['median']:,.0f} | {runs} |")
    made = figures["decisions_made"]
    records_per_event = statistics.median(figures["changelog_records_per_event"])
    lines += [
        "",
        f"Decisions made, revisions included: (g) {made['g']:,} (event-time order, "
        f"as a replay must); (d) {made['d']:,} (in the order Kafka delivered the preloaded "
        "topics: large chunks per partition, not event time).",
        "",
        f"Changelog: {per_event:,.0f} bytes and {records_per_event:.2f} records per raw event "
        f"written by (b). State: {state['mean_bytes_per_person']:,.0f} bytes per tracked person "
        f"({state['people']:,} people, {state['records']:,} records, "
        f"{state['mean_bytes_per_entry']:,.0f} bytes per kept entry).",
        "",
        "| target | value | needed | met |",
        "|---|---|---|---|",
    ]
    for c in checks:
        lines.append(
            f"| {c['target']} | {c['ratio']:.2f} | {c['needed']} | {'yes' if c['met'] else 'NO'} |"
        )
    lines += ["", "| reported | ratio |", "|---|---|"]
    lines += [f"| {text} | {ratio:.3f} |" for text, ratio in ratios.items()]
    lines += [
        "",
        f"Latency, entry to first decision, sent at {lat['rate']:,.0f} events/s "
        f"({lat['entries']:,} entries): p50 {lat['p50_seconds']:.2f} s, "
        f"p99 {lat['p99_seconds']:.2f} s. A burst of {burst_['entries']:,} entries "
        f"({burst_['events']:,} events) sent at once: p50 {burst_['p50_seconds']:.2f} s, "
        f"p99 {burst_['p99_seconds']:.2f} s.",
    ]
    for rest in (short, long):
        lines.append(
            f"Restore after {rest['events']:,} events: {rest['records_kept']:,} of "
            f"{rest['records_written']:,} state records kept ({rest['bytes_kept'] / 1e6:.1f} MB, "
            f"read raw in {rest['raw_read_seconds']:.1f} s); restored in "
            f"{rest['restore_seconds']:.1f} s after a clean stop, the restarted worker ready in "
            f"{rest['restart_to_ready_seconds']:.1f} s; with its local store lost, restored in "
            f"{rest['restore_seconds_store_lost']:.1f} s, ready in "
            f"{rest['restart_to_ready_seconds_store_lost']:.1f} s."
        )
    lines += [
        "",
        *profile_lines(
            f"Where (b) spends its time: py-spy sampled the worker during one more run; its "
            f"threads were busy for {figures['profile_b']['busy_share']:.2f} cores' worth "
            f"({figures['profile_b']['samples']:,} busy samples)",
            figures["profile_b"],
        ),
    ]
    lines += [
        "",
        *profile_lines(
            f"Where (g) spends its time: cProfile of one more run "
            f"({figures['profile_g']['seconds']:.1f} s of self time)",
            figures["profile_g"],
        ),
    ]
    summary = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(summary)
    print("\n" + summary)
    print(f"written: {out / 'result.json'}, {out / 'summary.md'}")
    return 0

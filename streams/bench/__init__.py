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
from typing import Any

from streams.bench.profile import SPY_RATE, profiled, read_folded, spy, summarise
from streams.bench.profile import lines as profile_lines
from streams.progress import ProgressBar
from streams.settings import REPO_ROOT, Settings

Progress = Callable[[str], None]
RAW_TOPICS = ("gate.entries", "gate.exits", "gate.heartbeats", "health.antigen", "health.nat",
              "health.visits")  # fmt: skip
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


def run_bench(settings: Settings, events: int, runs: int, progress: Progress) -> int:
    from streams.migrate import migrate
    from streams.topics import create_topics

    run_id = uuid.uuid4().hex[:8]
    database = f"bench_{run_id}"
    isolated = settings.model_copy(update={
        "topic_prefix": f"bench-{run_id}.",
        "app_id": f"bench-{run_id}",
        "clickhouse_url": settings.clickhouse_url.rsplit("/", 1)[0] + f"/{database}",
        "http_port": 0,
    })  # fmt: skip
    create_topics(isolated)
    migrate(isolated.clickhouse_url, database)
    bench = Bench(isolated, events, runs, progress)
    try:
        return measure_all(bench)
    finally:
        clean_up(isolated, run_id, progress)


def measure_all(bench: Bench) -> int:
    events = bench.events
    entries = preload(bench)
    bench.median("a_raw_aiokafka", lambda: raw_aiokafka(bench))
    bench.median("f_bare_faust", lambda: subprocess_rate(bench, "streams.bench.bare_faust", events))
    for name, trial in FAUST_TRIALS.items():
        bench.median(
            name, partial(subprocess_rate, bench, "streams.bench.bare_faust", events, trial)
        )
    engine = replay_path(bench)
    inserts(bench, engine)
    bench.figures["state_bytes_per_person"] = state_bytes(engine)
    naive_count = min(events, 5000)
    bench.median(
        "c_naive_faust", lambda: subprocess_rate(bench, "streams.bench.naive", naive_count)
    )
    quix(bench)
    b = bench.median("b_pipeline", lambda: pipeline(bench, entries))
    profile_pipeline(bench, entries, expected_seconds=bench.events / b)
    restore(bench)
    bench.median("b_pipeline_two_workers", lambda: pipeline(bench, entries, workers=2), runs=1)
    latency(bench, rate=b / 2, count=min(events, 20_000))
    return report(bench)


def clean_up(settings: Settings, run_id: str, progress: Progress) -> None:
    """Delete every topic and database the run made (all named after ``run_id``): a broker
    left with the thousands of partitions of a few runs once stalled a later run's rebalance."""
    from clickhouse_driver import Client
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        topics = [t for t in admin.list_topics() if t.startswith(f"bench-{run_id}")]
        for start in range(0, len(topics), 100):
            admin.delete_topics(topics[start : start + 100], timeout_ms=60_000)
    finally:
        admin.close()
    client = Client.from_url(settings.clickhouse_url.rsplit("/", 1)[0] + "/default")
    try:
        databases = [row[0] for row in client.execute("SHOW DATABASES")
                     if row[0].startswith(f"bench_{run_id}")]  # fmt: skip
        for database in databases:
            client.execute(f"DROP DATABASE IF EXISTS {database}")
    finally:
        client.disconnect()
    progress(f"cleaned up: {len(topics)} topics and {len(databases)} databases deleted")


def preload(bench: Bench) -> int:
    """N raw events from the simulator (seeds 1, 2, ... until there are enough), sent to the raw
    topics. Returns how many vehicle entries are among them."""
    from streams.simulator.jinshan import Params, generate
    from streams.simulator.playback import envelope, produce

    records: list[dict[str, Any]] = []
    seed = 1
    while len(records) < bench.events:
        scenario = generate(Params(seed=seed))
        records += [envelope(topic, event) for topic, event in scenario.events]
        seed += 1
    bench.records = records[: bench.events]
    produce(
        bench.settings, bench.records, bench.events, label=f"preloading {bench.events:,} events"
    )
    return sum(1 for r in bench.records if r["topic"] == "gate.entries")


def raw_aiokafka(bench: Bench) -> float:
    """(a) The physical limit for Python: aiokafka getmany and json.loads, nothing else."""
    from aiokafka import AIOKafkaConsumer

    async def consume() -> float:
        consumer = AIOKafkaConsumer(
            *bench.topics(), bootstrap_servers=bench.settings.kafka_bootstrap,
            group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
            max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20,
        )  # fmt: skip
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
    "f_bare_faust_big_fetch": {"broker_max_poll_records": 10_000,
                               "consumer_max_fetch_size": 16 << 20},
    "f_bare_faust_big_buffers": {"stream_buffer_maxsize": 65_536},
    "f_bare_faust_rare_commits": {"broker_commit_every": 50_000, "broker_commit_interval": 30.0},
}  # fmt: skip


def subprocess_rate(
    bench: Bench, module: str, expect: int, faust_settings: dict[str, Any] | None = None
) -> float:
    """A Faust app in its own process (its own group), from the topics' beginning."""
    env = {
        **os.environ,
        "BENCH_BROKER": bench.settings.kafka_bootstrap,
        "BENCH_APP": f"{bench.settings.app_id}-{module.rsplit('.', 1)[1]}-{uuid.uuid4().hex[:6]}",
        "BENCH_TOPICS": ",".join(bench.topics()),
        "BENCH_EXPECT": str(expect),
        "BENCH_CLICKHOUSE_URL": bench.settings.clickhouse_url,
        "BENCH_PREFIX": bench.settings.topic_prefix,
        "SENTINEL_STATE_DIR": str(bench.settings.state_dir / "bench"),
        "BENCH_FAUST_SETTINGS": json.dumps(faust_settings or {}),
    }
    directory = bench.settings.state_dir / "bench" / "faust"
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", module], env=env, cwd=directory, capture_output=True, text=True,
        timeout=1800,
    )  # fmt: skip
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

    from streams.backtest import FAR_FUTURE
    from streams.ingest import Accepted, Ingestor
    from streams.pseudonym import Pseudonymiser
    from streams.rules import DEFAULT_RULESET, Engine, load_ruleset
    from streams.topics import spec

    last: dict[str, Any] = {}

    async def consume() -> list[Any]:
        consumer = AIOKafkaConsumer(
            *bench.topics(), bootstrap_servers=bench.settings.kafka_bootstrap, group_id=None,
            auto_offset_reset="earliest", enable_auto_commit=False,
            max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20,
        )  # fmt: skip
        await consumer.start()
        try:
            values: list[Any] = []
            while len(values) < bench.events:
                batches = await consumer.getmany(timeout_ms=1000, max_records=10000)
                for records in batches.values():
                    values += [(r.topic, r.value) for r in records]
            return values
        finally:
            await consumer.stop()

    def measure() -> float:
        started = time.perf_counter()
        ingestor = Ingestor(Pseudonymiser(b"bench" * 8), max_message_bytes=1 << 20,
                            future_tolerance=timedelta(0))  # fmt: skip
        events: list[Any] = []
        for topic, value in asyncio.run(consume()):
            accepted = ingestor.ingest(topic.removeprefix(bench.settings.topic_prefix), value,
                                       now=FAR_FUTURE)  # fmt: skip
            if isinstance(accepted, Accepted):
                model = spec(accepted.topic).model
                assert model is not None
                events.append(model.model_validate_json(accepted.value))
        events.sort(key=lambda e: e.event_time)
        engine = Engine(load_ruleset(DEFAULT_RULESET))
        for event in events:
            engine.feed(event)
        engine.advance(FAR_FUTURE)
        last["engine"] = engine
        bench.figures.setdefault("decisions_made", {})["g"] = len(engine.decisions)
        return bench.events / (time.perf_counter() - started)

    bench.median("g_replay_path", measure)
    profile = cProfile.Profile()
    profile.runcall(measure)
    bench.figures["profile_g"] = profiled(profile)
    bench.progress("replay path: profiled once more under cProfile")
    return last["engine"]


def inserts(bench: Bench, engine: Any) -> None:
    """(e) Bare clickhouse-driver columnar inserts against our sink's writer, same rows, same
    batch size (SENTINEL_SINK_BATCH_ROWS)."""
    from clickhouse_driver import Client

    from streams.sink.clickhouse import ClickHouseWriter
    from streams.sink.rows import COLUMNS, decision_row

    rows = [decision_row(d) for d in engine.decisions]
    columns = COLUMNS["decisions"]
    size = bench.settings.sink_batch_rows
    batches = [rows[i : i + size] for i in range(0, len(rows), size)]
    client = Client.from_url(bench.settings.clickhouse_url)
    writer = ClickHouseWriter(bench.settings.clickhouse_url)

    def bare() -> float:
        started = time.perf_counter()
        for batch in batches:
            data = [list(c) for c in zip(*batch, strict=True)]
            client.execute(f"INSERT INTO decisions ({', '.join(columns)}) VALUES", data,
                           columnar=True)  # fmt: skip
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


def state_bytes(engine: Any) -> dict[str, float]:
    """Bytes of state per tracked person and per vehicle, as the changelogs store them."""
    people = [len(s.model_dump_json()) for s in engine.people.values()]
    vehicles = [len(s.model_dump_json()) for s in engine.vehicles.values()]
    return {
        "people": len(people),
        "mean_bytes_per_person": statistics.fmean(people),
        "p99_bytes_per_person": sorted(people)[int(len(people) * 0.99)],
        "vehicles": len(vehicles),
        "mean_bytes_per_vehicle": statistics.fmean(vehicles),
    }


def quix(bench: Bench) -> None:
    """(d) Quix Streams, in its own virtualenv under .local/bench (made on first use): the job
    of (c) written the Quix way, with our code on its path; and, as (f) is for Faust, its own
    ceiling, a dataframe that only decodes JSON."""
    from importlib.metadata import version

    venv = bench.settings.state_dir / "bench" / f"quix-{QUIX_VERSION}"
    python = venv / "bin" / "python"
    wanted = [f"quixstreams=={QUIX_VERSION}", f"pyyaml=={version('pyyaml')}",
              f"clickhouse-driver=={version('clickhouse-driver')}"]  # fmt: skip
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    check = "import quixstreams, yaml, clickhouse_driver"
    if subprocess.run([str(python), "-c", check], capture_output=True).returncode != 0:
        bench.progress(f"installing {', '.join(wanted)} into {venv} (once)")
        subprocess.run([str(python), "-m", "pip", "install", "-q", *wanted], check=True)

    def measure(script: str, *arguments: str) -> float:
        group = f"{bench.settings.app_id}-quix-{uuid.uuid4().hex[:6]}"
        done = subprocess.run(
            [str(python), str(Path(__file__).with_name(script)), bench.settings.kafka_bootstrap,
             group, str(bench.events), *arguments],
            capture_output=True, text=True, timeout=1800, cwd=venv,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )  # fmt: skip
        result = result_from(done, f"quix streams ({script})")
        if "decisions" in result:
            bench.figures.setdefault("decisions_made", {})["d"] = result["decisions"]
        return float(result["messages"] / result["seconds"])

    bench.median("d_quix_decode_only", lambda: measure("quix_consume.py", *bench.topics()))
    bench.median(
        "d_quix_streams",
        lambda: measure(
            "quix_job.py", bench.settings.clickhouse_url, bench.settings.topic_prefix, *RAW_TOPICS
        ),
    )


class LiveRun:
    """Our pipeline on its own topics, consumer group and database, with the bench's events."""

    def __init__(self, bench: Bench, label: str) -> None:
        from streams.migrate import migrate
        from streams.topics import create_topics

        run_id = uuid.uuid4().hex[:6]
        database = f"{bench.settings.clickhouse_url.rsplit('/', 1)[1]}_{run_id}"
        self.settings = bench.settings.model_copy(update={
            "topic_prefix": f"{bench.settings.topic_prefix}{run_id}.",
            "app_id": f"{bench.settings.app_id}-{label}-{run_id}",
            "clickhouse_url": bench.settings.clickhouse_url.rsplit("/", 1)[0] + f"/{database}",
        })  # fmt: skip
        create_topics(self.settings)
        migrate(self.settings.clickhouse_url, database)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs = bench.settings.state_dir / "bench" / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def start_worker(self) -> float:
        """Start one more worker; returns the seconds until it said it was ready."""
        from streams.worker import wait_for_ready

        env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
        for name, value in self.settings.model_dump().items():
            secret = self.settings.pseudonym_key.get_secret_value()
            env[f"SENTINEL_{name.upper()}"] = secret if name == "pseudonym_key" else str(value)
        log_file = self.logs / f"{self.settings.app_id}-{len(self.workers)}.log"
        started = time.perf_counter()
        with log_file.open("wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        self.workers.append(worker)
        wait_for_ready(log_file, 0, timeout=300, is_alive=lambda: worker.poll() is None)
        return time.perf_counter() - started

    def decided(self) -> int:
        from clickhouse_driver import Client

        client = Client.from_url(self.settings.clickhouse_url)
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


def pipeline(bench: Bench, entries: int, workers: int = 1) -> float:
    """(b) Our live pipeline end to end, its topics preloaded with the bench's events: from the
    workers being ready to every entry decided in ClickHouse."""
    from streams.simulator.playback import produce

    live = LiveRun(bench, f"live{workers}")
    produce(live.settings, bench.records, bench.events, label="pipeline: preloading its topics")
    try:
        for _ in range(workers):
            live.start_worker()
        started = time.perf_counter()
        live.wait_decided(entries, f"pipeline, {workers} worker(s): entries decided")
        rate = bench.events / (time.perf_counter() - started)
    finally:
        live.stop()
    bench.last_live = live
    return rate


def profile_pipeline(bench: Bench, entries: int, expected_seconds: float) -> None:
    """(b) once more, its worker sampled by py-spy: where the live pipeline spends its time."""
    from streams.simulator.playback import produce

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
    profile = summarise(read_folded(output))
    profile["busy_share"] = profile["samples"] / (seconds * SPY_RATE)  # the rest: waiting
    bench.figures["profile_b"] = profile
    bench.progress(f"pipeline: {profile['samples']:,} busy samples in {output}")


def restore(bench: Bench) -> None:
    """A restarted worker recovers its tables from their changelogs: the seconds until it is
    ready again, against reading those changelogs raw with aiokafka."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    live = bench.last_live
    assert live is not None
    prefix = f"{live.settings.app_id}-"

    async def read_changelogs() -> tuple[int, int, float]:
        consumer = AIOKafkaConsumer(bootstrap_servers=live.settings.kafka_bootstrap,
                                    group_id=None, auto_offset_reset="earliest",
                                    enable_auto_commit=False)  # fmt: skip
        await consumer.start()
        try:
            topics = [t for t in await consumer.topics() if t.startswith(prefix)
                      and t.endswith("-changelog")]  # fmt: skip
            partitions = [TopicPartition(t, p) for t in topics for p in range(4)]
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            total = sum(ends.values())
            started = time.perf_counter()
            count = size = 0
            while count < total:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    count += len(records)
                    size += sum(len(r.value or b"") for r in records)
            return count, size, time.perf_counter() - started
        finally:
            await consumer.stop()

    messages, size, raw_seconds = asyncio.run(read_changelogs())
    try:
        ready = live.start_worker()
    finally:
        live.stop()
    bench.figures["restore"] = {
        "changelog_messages": messages, "changelog_bytes": size,
        "raw_read_seconds": raw_seconds, "restart_to_ready_seconds": ready,
        "ratio_restart_to_raw": ready / raw_seconds if raw_seconds else None,
    }  # fmt: skip
    bench.progress(
        f"restore: {messages:,} changelog records ({size / 1e6:.1f} MB) read raw in "
        f"{raw_seconds:.1f} s; a restarted worker was ready in {ready:.1f} s"
    )


def latency(bench: Bench, rate: float, count: int) -> None:
    """Entry-to-decision latency with the events sent at ``rate`` per second: from the raw
    entry's record timestamp to its first decision's record timestamp."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.simulator.playback import produce

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

    async def timestamps(base: str) -> list[Any]:
        topic = live.settings.topic(base)
        consumer = AIOKafkaConsumer(bootstrap_servers=live.settings.kafka_bootstrap,
                                    group_id=None, enable_auto_commit=False)  # fmt: skip
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(4)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning()
            ends = sum((await consumer.end_offsets(partitions)).values())
            out: list[Any] = []
            while len(out) < ends:
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
    p50, p99 = delays[len(delays) // 2], delays[int(len(delays) * 0.99)]
    bench.figures["latency"] = {"rate": rate, "events": count, "entries": len(delays),
                                "p50_seconds": p50, "p99_seconds": p99}  # fmt: skip
    bench.progress(f"latency at {rate:,.0f} events/s: p50 {p50:.2f} s, p99 {p99:.2f} s")


TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("(b) >= 0.7 x (f): our code adds little to the framework", "b_pipeline", "f_bare_faust", 0.7),
    ("(b) >= 10 x (c): far above the naive pattern", "b_pipeline", "c_naive_faust", 10),
    ("(g) >= 0.5 x (a): replays near raw Kafka speed", "g_replay_path", "a_raw_aiokafka", 0.5),
    ("(g) >= (d): replays at least as fast as Quix Streams", "g_replay_path", "d_quix_streams", 1),
    ("sink >= 0.7 x (e): our writer near bare inserts", "sink_inserts", "e_bare_inserts", 0.7),
)
REPORTED = (
    ("(b) / (a): the price of Python streaming", "b_pipeline", "a_raw_aiokafka"),
    ("(b) / (d): against the peer", "b_pipeline", "d_quix_streams"),
    (
        "(d) / its decode-only ceiling: the job's price on Quix",
        "d_quix_streams",
        "d_quix_decode_only",
    ),
    ("(f) / (a): Faust's own price", "f_bare_faust", "a_raw_aiokafka"),
)


def report(bench: Bench) -> int:
    f = {k: v["median"] for k, v in bench.figures.items() if isinstance(v, dict) and "median" in v}
    state = bench.figures["state_bytes_per_person"]
    checks = [
        {"target": text, "ratio": f[a] / f[b], "needed": need, "met": f[a] / f[b] >= need}
        for text, a, b, need in TARGETS
    ]
    checks.append({"target": "state <= 1 KB per tracked person (mean bytes)",
                   "ratio": state["mean_bytes_per_person"], "needed": 1024,
                   "met": state["mean_bytes_per_person"] <= 1024})  # fmt: skip
    lat = bench.figures["latency"]
    checks.append({"target": "p99 <= 5 x p50, entry to decision at 50% of (b)",
                   "ratio": lat["p99_seconds"] / lat["p50_seconds"], "needed": 5,
                   "met": lat["p99_seconds"] <= 5 * lat["p50_seconds"]})  # fmt: skip
    ratios = {text: f[a] / f[b] for text, a, b in REPORTED}
    ratios["two workers / one worker"] = f["b_pipeline_two_workers"] / f["b_pipeline"]
    for name in FAUST_TRIALS:
        ratios[f"{name} / f_bare_faust ({FAUST_TRIALS[name]})"] = f[name] / f["f_bare_faust"]
    when = datetime.now(UTC).isoformat(timespec="seconds")
    cpus, python = os.cpu_count(), sys.version.split()[0]
    result = {
        "when": when,
        "events": bench.events,
        "runs": bench.runs,
        "machine": {"cpus": cpus, "python": python},
        "figures": bench.figures,
        "targets": checks,
        "ratios": ratios,
    }
    out = REPO_ROOT / ".local" / "bench" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    lines = [f"# Gate Sentinel bench, {when}", "",
             f"{bench.events:,} raw events, median of {bench.runs} runs, "
             f"{cpus} CPUs, Python {python}.", "",
             "| measure | events/s (median) | runs |", "|---|---|---|"]  # fmt: skip
    for name, value in bench.figures.items():
        if isinstance(value, dict) and "median" in value:
            runs = ", ".join(f"{v:,.0f}" for v in value["runs"])
            lines.append(f"| {name} | {value['median']:,.0f} | {runs} |")
    made = bench.figures["decisions_made"]
    lines += [
        "",
        f"Decisions made, revisions included: (g) {made['g']:,} (event-time order, "
        f"as a replay must); (d) {made['d']:,} (in the order Kafka delivered the preloaded "
        "topics: large chunks per partition, not event time).",
    ]
    lines += ["", f"State: {state['mean_bytes_per_person']:,.0f} bytes per person on average "
              f"(p99 {state['p99_bytes_per_person']:,}, {state['people']:,} people); "
              f"{state['mean_bytes_per_vehicle']:,.0f} bytes per vehicle.", "",
              "| target | ratio | needed | met |", "|---|---|---|---|"]  # fmt: skip
    for check in checks:
        lines.append(f"| {check['target']} | {check['ratio']:.2f} | {check['needed']} | "
                     f"{'yes' if check['met'] else 'NO'} |")  # fmt: skip
    lines += ["", "| reported | ratio |", "|---|---|"]
    lines += [f"| {text} | {ratio:.3f} |" for text, ratio in ratios.items()]
    rest = bench.figures["restore"]
    lines += ["", f"Latency, entry to first decision, sent at {lat['rate']:,.0f} events/s "
              f"({lat['entries']:,} entries): p50 {lat['p50_seconds']:.2f} s, "
              f"p99 {lat['p99_seconds']:.2f} s.",
              f"Restore: a restarted worker was ready in {rest['restart_to_ready_seconds']:.1f} s; "
              f"its {rest['changelog_messages']:,} changelog records "
              f"({rest['changelog_bytes'] / 1e6:.1f} MB) read raw in "
              f"{rest['raw_read_seconds']:.1f} s."]  # fmt: skip
    lines += [
        "",
        *profile_lines(
            f"Where (b) spends its time: py-spy sampled the worker during one more run; it was "
            f"busy in {bench.figures['profile_b']['busy_share']:.0%} of the samples, waiting in "
            f"the rest ({bench.figures['profile_b']['samples']:,} busy samples)",
            bench.figures["profile_b"],
        ),
    ]
    lines += [
        "",
        *profile_lines(
            f"Where (g) spends its time: cProfile of one more run "
            f"({bench.figures['profile_g']['seconds']:.1f} s of self time)",
            bench.figures["profile_g"],
        ),
    ]
    summary = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(summary)
    print("\n" + summary)
    print(f"written: {out / 'result.json'}, {out / 'summary.md'}")
    return 0

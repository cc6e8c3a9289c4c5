"""``sentinel bench`` (``make bench``): our pipeline against raw Kafka, bare Faust, naive Faust
and Quix Streams, measured side by side in one run on the same preloaded topics.

Rates are messages (raw events) per second; every figure is the median of ``runs`` runs, and the
ratios compare figures of the same run, never numbers from elsewhere. Results go to
``.local/bench/<time>/result.json`` and ``summary.md``. Nothing here is a test: these machines
are shared and noisy, so the figures are reported, not asserted.
"""

from __future__ import annotations

import asyncio
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
from pathlib import Path
from typing import Any

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
    entries = preload(bench)
    bench.median("a_raw_aiokafka", lambda: raw_aiokafka(bench))
    bench.median("f_bare_faust", lambda: subprocess_rate(bench, "streams.bench.bare_faust", events))
    engine = replay_path(bench)
    inserts(bench, engine)
    bench.figures["state_bytes_per_person"] = state_bytes(engine)
    naive_count = min(events, 5000)
    bench.median(
        "c_naive_faust", lambda: subprocess_rate(bench, "streams.bench.naive", naive_count)
    )
    quix(bench)
    bench.median("b_pipeline", lambda: pipeline(bench, entries))
    return report(bench)


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


def subprocess_rate(bench: Bench, module: str, expect: int) -> float:
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
    found = re.search(r'\{"messages": .*?\}', done.stdout + done.stderr)
    if found is None:
        tail = (done.stdout + done.stderr)[-3000:]
        raise RuntimeError(f"{what} printed no result (exit {done.returncode}):\n{tail}")
    result = json.loads(found.group(0))
    return float(result["messages"] / result["seconds"])


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
        return bench.events / (time.perf_counter() - started)

    bench.median("g_replay_path", measure)
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
    """(d) Quix Streams, in its own virtualenv under .local/bench (created on first use)."""
    venv = bench.settings.state_dir / "bench" / f"quix-{QUIX_VERSION}"
    python = venv / "bin" / "python"
    if not python.exists():
        bench.progress(f"installing quixstreams {QUIX_VERSION} into {venv} (once)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"quixstreams=={QUIX_VERSION}"],
                       check=True)  # fmt: skip
    script = Path(__file__).with_name("quix_consume.py")

    def measure() -> float:
        group = f"{bench.settings.app_id}-quix-{uuid.uuid4().hex[:6]}"
        done = subprocess.run(
            [str(python), str(script), bench.settings.kafka_bootstrap, group, str(bench.events),
             *bench.topics()],
            capture_output=True, text=True, timeout=1800, cwd=venv,
        )  # fmt: skip
        return rate_from(done, "quix streams")

    bench.median("d_quix_streams", measure)


def pipeline(bench: Bench, entries: int) -> float:
    """(b) Our live pipeline end to end, with fresh topics, group and database each run (the same
    events preloaded again): from the worker being ready to every entry decided in ClickHouse."""
    from clickhouse_driver import Client

    from streams.migrate import migrate
    from streams.simulator.playback import produce
    from streams.stack import Stack
    from streams.topics import create_topics
    from streams.worker import wait_for_ready

    run_id = uuid.uuid4().hex[:6]
    database = f"{bench.settings.clickhouse_url.rsplit('/', 1)[1]}_{run_id}"
    settings = bench.settings.model_copy(update={
        "topic_prefix": f"{bench.settings.topic_prefix}{run_id}.",
        "app_id": f"{bench.settings.app_id}-live-{run_id}",
        "clickhouse_url": bench.settings.clickhouse_url.rsplit("/", 1)[0] + f"/{database}",
    })  # fmt: skip
    create_topics(settings)
    migrate(settings.clickhouse_url, database)
    produce(settings, bench.records, bench.events, label="pipeline: preloading its own topics")
    process = Stack(settings).worker(f"bench-{run_id}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    for name, value in settings.model_dump().items():
        text = settings.pseudonym_key.get_secret_value() if name == "pseudonym_key" else str(value)
        env[f"SENTINEL_{name.upper()}"] = text
    log_file = process.log_file
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    client = Client.from_url(settings.clickhouse_url)
    try:
        wait_for_ready(log_file, 0, timeout=120, is_alive=lambda: worker.poll() is None)
        started = time.perf_counter()
        bar = ProgressBar(entries, "pipeline: entries decided")
        decided = 0
        while decided < entries:
            time.sleep(1)
            decided = client.execute("SELECT uniqExact(entry_id) FROM decisions")[0][0]
            bar.advance(decided - bar.done)
            if worker.poll() is not None:
                raise RuntimeError(f"the bench worker exited; see {log_file}")
        bar.close()
        return bench.events / (time.perf_counter() - started)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        client.disconnect()


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
    ("(f) / (a): Faust's own price", "f_bare_faust", "a_raw_aiokafka"),
)


def report(bench: Bench) -> int:
    f = {k: v["median"] for k, v in bench.figures.items() if isinstance(v, dict) and "median" in v}
    state = bench.figures["state_bytes_per_person"]
    checks = [
        {"target": text, "ratio": f[a] / f[b], "needed": need, "met": f[a] / f[b] >= need}
        for text, a, b, need in TARGETS
    ]
    checks.append({"target": "state <= 1 KB per tracked person",
                   "ratio": state["mean_bytes_per_person"], "needed": 1024,
                   "met": state["mean_bytes_per_person"] <= 1024})  # fmt: skip
    ratios = {text: f[a] / f[b] for text, a, b in REPORTED}
    not_measured = [
        "p50/p99 entry-to-decision latency at 50% of the pipeline's maximum throughput",
        "state restore time after a restart against the changelog's raw read rate",
        "two workers on two partitions against one worker",
    ]
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
        "not_measured": not_measured,
    }
    out = REPO_ROOT / ".local" / "bench" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Gate Sentinel bench, {when}", "",
             f"{bench.events:,} raw events, median of {bench.runs} runs, "
             f"{cpus} CPUs, Python {python}.", "",
             "| measure | events/s (median) | runs |", "|---|---|---|"]  # fmt: skip
    for name, value in bench.figures.items():
        if isinstance(value, dict) and "median" in value:
            runs = ", ".join(f"{v:,.0f}" for v in value["runs"])
            lines.append(f"| {name} | {value['median']:,.0f} | {runs} |")
    lines += ["", f"State: {state['mean_bytes_per_person']:,.0f} bytes per person on average "
              f"(p99 {state['p99_bytes_per_person']:,}, {state['people']:,} people); "
              f"{state['mean_bytes_per_vehicle']:,.0f} bytes per vehicle.", "",
              "| target | ratio | needed | met |", "|---|---|---|---|"]  # fmt: skip
    for check in checks:
        lines.append(f"| {check['target']} | {check['ratio']:.2f} | {check['needed']} | "
                     f"{'yes' if check['met'] else 'NO'} |")  # fmt: skip
    lines += ["", "| reported | ratio |", "|---|---|"]
    lines += [f"| {text} | {ratio:.3f} |" for text, ratio in ratios.items()]
    lines += ["", "Not measured yet: " + "; ".join(not_measured) + "."]
    summary = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(summary)
    print("\n" + summary)
    print(f"written: {out / 'result.json'}, {out / 'summary.md'}")
    return 0

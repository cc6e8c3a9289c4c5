"""``sentinel chaos`` (``make chaos``): faults on the real local stack, and an oracle that knows
what should have come out.

Each scenario runs in a namespace of its own: the bench's multi-park traffic (at least 100,000
raw events), with 1% poison of every kind mixed into every raw topic, sent as live traffic (1,000
events a second) while the faults happen, through 3 workers that a supervisor (this harness, as
``restart: unless-stopped`` would) restarts when they die:

- ``kill``: a worker, chosen at random, SIGKILLed every ~10 s and restarted;
- ``broker``: the Kafka broker SIGKILLed mid-run and started again;
- ``hang``: ClickHouse stopped with SIGSTOP (a hang, not a refusal) for ``--hang-seconds``
  (10 minutes by default), a worker SIGKILLed during it, then SIGCONT;
- ``outage``: ClickHouse stopped (a refusal) for a minute, a worker SIGKILLed during it;
- ``storm``: workers joining and leaving (SIGTERM) every ~20 s under load.

The oracle, once every group has caught up: each raw table holds every valid event sent, once
with FINAL (0 lost, 0 double-counted; the physical duplicates without FINAL are reported), every
entry has a decision, ``sentinel reconcile`` finds every rollup equal to the raw tables, and the
DLQ holds every poison message (by its source record) exactly once, with its headers, and
nothing else. Reported too: peak RSS per worker, time to catch up after the faults.

The **negative control** runs the ``outage`` scenario with workers whose sink acks before it
inserts (``workbench/chaos/broken_worker.py``); the oracle must fail it. (Not ``hang``: an insert
already in a stopped server's socket is still done when it resumes, even for a killed client.)
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams import access
from streams.progress import Stalled, wait_while_moving
from streams.settings import Settings
from workbench.chaos.poison import Poisoned, mix_poison
from workbench.stack import Stack, StackError
from workbench.stack._process import Progress

SCENARIOS = ("kill", "broker", "hang", "outage", "storm")
RAW_TABLES = {  # raw topic -> (ClickHouse table, its id column)
    "gate.entries": ("entries", "event_id"),
    "gate.exits": ("exits", "event_id"),
    "health.antigen": ("antigen_tests", "event_id"),
    "health.nat": ("nat_reports", "event_id"),
    "health.visits": ("health_visits", "event_id"),
}
OUTAGE = 60.0  # seconds ClickHouse is down in the outage scenario
CATCH_UP_STALL = 300.0  # seconds without any progress before a scenario is declared stuck
BROKER_RECOVERY = 900.0  # seconds a SIGKILLed broker may take to recover its logs and answer
MAX_RESTARTS = 20  # workers that died on their own: more is a crash loop, not a fault


@dataclass
class Result:
    scenario: str
    broken_sink: bool
    events: int
    poison: int
    faults: list[str] = field(default_factory=list)
    restarts: int = 0
    tables: dict[str, dict[str, int]] = field(default_factory=dict)  # expected/final/physical
    undecided: int = 0
    reconcile_mismatches: int = 0
    dlq: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: list[float] = field(default_factory=list)
    catch_up_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


class Workers:
    """The scenario's workers, and the supervisor that restarts those that die."""

    def __init__(self, settings: Settings, logs: Path, broken_sink: bool) -> None:
        self.settings = settings
        self.logs = logs
        self.module = "workbench.chaos.broken_worker" if broken_sink else "streams.cli"
        self.running: list[subprocess.Popen[bytes]] = []
        self.peaks: dict[int, float] = {}
        self.restarts = 0
        self.started = 0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
        return env | self.settings.as_env(http_port="0", kafka_user="worker")

    def start(self) -> subprocess.Popen[bytes]:
        log_file = self.logs / f"worker-{self.started}.log"
        self.started += 1
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", self.module, "worker"],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.running.append(process)
        return process

    def sample(self) -> None:
        for process in self.running:
            if process.poll() is None:
                self.peaks[process.pid] = max(self.peaks.get(process.pid, 0.0), _peak_rss(process))

    def supervise(self) -> None:
        """Restart the workers that died on their own (not those the harness stopped)."""
        self.sample()
        for process in list(self.running):
            if process.poll() is not None:
                self.running.remove(process)
                self.restarts += 1
                if self.restarts > MAX_RESTARTS:
                    raise Stalled(f"workers keep dying ({self.restarts} restarts); see {self.logs}")
                self.start()

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        self.sample()
        self.running.remove(process)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def leave(self, process: subprocess.Popen[bytes]) -> None:
        self.sample()
        self.running.remove(process)
        process.terminate()
        try:
            process.wait(timeout=self.settings.stop_timeout_seconds + 15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for process in list(self.running):
            self.leave(process)


def run_chaos(
    settings: Settings,
    scenarios: list[str],
    *,
    events: int,
    hang_seconds: float,
    negative_control: bool,
    progress: Progress,
    rate: float = 1000.0,
) -> list[Result]:
    from workbench.bench import bench_records

    progress(f"generating {events:,} raw events (the bench's traffic, 8 parks)")
    records = bench_records(events)
    runs = [(name, False) for name in scenarios]
    if negative_control:
        runs.append(("outage", True))
    results = []
    for name, broken in runs:
        label = f"{name} (negative control: a sink that acks before it inserts)" if broken else name
        progress(f"scenario {label}")
        result = run_scenario(settings, name, records, hang_seconds, broken, progress, rate)
        results.append(result)
        verdict = "PASSED" if result.passed else "FAILED: " + "; ".join(result.failures[:4])
        progress(f"scenario {label}: {verdict}")
    return results


def run_scenario(
    settings: Settings,
    name: str,
    records: list[dict[str, Any]],
    hang_seconds: float,
    broken_sink: bool,
    progress: Progress,
    rate: float,
) -> Result:
    from streams.migrate import migrate
    from streams.topics import create_topics

    run = f"chaos-{name}-{uuid.uuid4().hex[:6]}"
    ns = settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}{run}.",
            "app_id": f"{settings.app_id}-{run}",
            "clickhouse_url": settings.clickhouse_url_in(run.replace("-", "_")),
        }
    )
    create_topics(ns)
    migrate(access.clickhouse_admin_url(ns), ns.clickhouse_database, ns.clickhouse_cluster)
    logs = settings.state_dir / "chaos" / run
    logs.mkdir(parents=True, exist_ok=True)
    progress(f"namespace {run}: worker logs in {logs}")
    mixed = mix_poison(records)
    poison = sum(kind is not None for *_, kind in mixed.records)
    result = Result(name, broken_sink, len(records), poison)
    workers = Workers(ns, logs, broken_sink)
    for _ in range(3):
        workers.start()
    sender = threading.Thread(target=mixed.send, args=(ns, progress, rate), daemon=True)
    sender.start()
    stack = Stack(settings)
    try:
        FAULTS[name](stack, workers, sender, result, hang_seconds, progress)
        sender.join()
        if mixed.error is not None:
            result.failures.append(f"sending failed: {mixed.error}")
            return result
        started = time.monotonic()
        caught_up(ns, workers, progress)
        rollups_settled(ns, workers, progress)
        result.catch_up_seconds = round(time.monotonic() - started, 1)
        workers.sample()
        judge(ns, mixed, result)
    except (Stalled, StackError) as exc:
        result.failures.append(str(exc).splitlines()[0])
    finally:
        workers.sample()
        result.peak_rss_mb = sorted(round(v, 1) for v in workers.peaks.values())
        result.restarts = workers.restarts
        workers.stop_all()
        _resume(stack)
        _drop_topics(ns)
    return result


def _drop_topics(settings: Settings) -> None:
    """The scenario's topics go (a broker holding every run's partitions recovers ever more
    slowly after a kill), and its workers' local store with them (a cache of their changelog);
    its database stays for a look, and its worker logs."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    from streams.agents.local import LocalStore

    LocalStore.of(settings).remove()
    try:
        admin = KafkaAdminClient(**access.kafka_python(settings))
        try:
            ours = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
            if ours:
                admin.delete_topics(ours, timeout_ms=60_000)
        finally:
            admin.close()
    except KafkaError:
        pass  # the broker is down: the topics stay, harmless


# -- the faults --------------------------------------------------------------------------------

Fault = Callable[[Stack, Workers, threading.Thread, Result, float, Progress], None]


def _while_sending(sender: threading.Thread, every: float, workers: Workers) -> Any:
    """Yield every ``every`` seconds (± a third) while the sender runs; supervise meanwhile."""
    while sender.is_alive():
        deadline = time.monotonic() + every * random.uniform(0.67, 1.33)
        while time.monotonic() < deadline and sender.is_alive():
            workers.supervise()
            time.sleep(0.5)
        if sender.is_alive():
            yield


def kill_workers(
    stack: Stack,
    workers: Workers,
    sender: threading.Thread,
    result: Result,
    hang: float,
    progress: Progress,
) -> None:
    for _ in _while_sending(sender, 10, workers):
        victim = random.choice(workers.running)
        workers.kill(victim)
        result.faults.append(f"SIGKILL worker pid {victim.pid}")
        workers.start()
    progress(f"{len(result.faults)} workers killed and restarted")


def kill_broker(
    stack: Stack,
    workers: Workers,
    sender: threading.Thread,
    result: Result,
    hang: float,
    progress: Progress,
) -> None:
    _sleep_supervising(workers, 20)
    pid = stack.kafka.process.pid()
    assert pid is not None, "the Kafka broker is not running"
    os.kill(pid, signal.SIGKILL)
    result.faults.append(f"SIGKILL Kafka broker pid {pid}")
    progress("Kafka broker killed; starting it again in 10 s")
    time.sleep(10)  # no supervision meanwhile: a worker started now would only fail
    stack.kafka.up(progress, timeout=BROKER_RECOVERY)
    result.faults.append("Kafka broker started again")
    while sender.is_alive():
        _sleep_supervising(workers, 1)


def hang_clickhouse(
    stack: Stack,
    workers: Workers,
    sender: threading.Thread,
    result: Result,
    hang: float,
    progress: Progress,
) -> None:
    _sleep_supervising(workers, 20)
    pid = stack.clickhouse.process.pid()
    assert pid is not None, "ClickHouse is not running"
    os.kill(pid, signal.SIGSTOP)
    result.faults.append(f"SIGSTOP ClickHouse pid {pid} for {hang:.0f} s")
    progress(f"ClickHouse stopped (SIGSTOP) for {hang:.0f} s")
    try:
        _kill_one_halfway(workers, result, hang, "the hang")
    finally:
        os.kill(pid, signal.SIGCONT)
    result.faults.append("SIGCONT ClickHouse")
    progress("ClickHouse resumed (SIGCONT)")


def clickhouse_outage(
    stack: Stack,
    workers: Workers,
    sender: threading.Thread,
    result: Result,
    hang: float,
    progress: Progress,
) -> None:
    _sleep_supervising(workers, 20)
    stack.clickhouse.down()
    result.faults.append(f"ClickHouse stopped for {OUTAGE:.0f} s")
    progress(f"ClickHouse stopped (a refusal, not a hang) for {OUTAGE:.0f} s")
    try:
        _kill_one_halfway(workers, result, OUTAGE, "the outage")
    finally:
        stack.clickhouse.up(progress)
    result.faults.append("ClickHouse started again")


def rebalance_storm(
    stack: Stack,
    workers: Workers,
    sender: threading.Thread,
    result: Result,
    hang: float,
    progress: Progress,
) -> None:
    for _ in _while_sending(sender, 20, workers):
        if len(workers.running) <= 2 or (len(workers.running) < 4 and random.random() < 0.5):
            process = workers.start()
            result.faults.append(f"worker pid {process.pid} joined")
        else:
            leaving = random.choice(workers.running)
            workers.leave(leaving)
            result.faults.append(f"worker pid {leaving.pid} left (SIGTERM)")
    while len(workers.running) < 3:
        workers.start()
    progress(f"{len(result.faults)} joins and leaves")


FAULTS: dict[str, Fault] = {
    "kill": kill_workers,
    "broker": kill_broker,
    "hang": hang_clickhouse,
    "outage": clickhouse_outage,
    "storm": rebalance_storm,
}


def _kill_one_halfway(workers: Workers, result: Result, seconds: float, during: str) -> None:
    """Through ``seconds`` of a fault, a worker chosen at random SIGKILLed halfway and restarted."""
    _sleep_supervising(workers, seconds / 2)
    victim = random.choice(workers.running)
    workers.kill(victim)
    result.faults.append(f"SIGKILL worker pid {victim.pid} during {during}")
    workers.start()
    _sleep_supervising(workers, seconds / 2)


def _sleep_supervising(workers: Workers, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        workers.supervise()
        time.sleep(0.5)


def _resume(stack: Stack) -> None:
    """Never leave ClickHouse stopped, whatever happened."""
    pid = stack.clickhouse.process.pid()
    if pid is not None:
        os.kill(pid, signal.SIGCONT)


# -- catching up and the oracle ----------------------------------------------------------------


def caught_up(settings: Settings, workers: Workers, progress: Progress) -> None:
    """Wait until both groups have committed everything, twice in a row (the rollups' flush comes
    in between), for as long as something moves."""
    from streams.status import read_status

    last: list[Any] = []

    def done() -> bool:
        workers.supervise()
        status = read_status(settings)
        if not last or status.line() != last[-1].line():
            progress(status.line(last[-1] if last else None))
        settled = status.done and bool(last) and last[-1].done
        last.append(status)
        return settled

    wait_while_moving(
        done,
        lambda: (last[-1].decide_lag, last[-1].sink_lag, last[-1].decided) if last else None,
        what="the pipeline to catch up",
        stall=CATCH_UP_STALL,
        interval=3,
    )


def rollups_settled(settings: Settings, workers: Workers, progress: Progress) -> None:
    """The rollups are written by the decide stage's timer, after the raw tables (a ClickHouse
    hang leaves their writes retrying a while longer): wait until they reconcile, for as long as
    their snapshots keep coming. One that never comes is the oracle's to find."""
    from clickhouse_driver import Client

    from streams.report import reconcile
    from streams.rollups import TABLES

    client = Client.from_url(access.clickhouse_url(settings))

    def execute(sql: str) -> list[Any]:
        return list(client.execute(sql))

    def clean() -> bool:
        workers.supervise()
        mismatches = len(reconcile(execute)[1])
        if mismatches:
            progress(f"rollups: {mismatches} groups differ from the raw tables yet")
        return mismatches == 0

    def written() -> int:
        """The rollups' latest snapshot versions, summed: they move while flushes come."""
        return sum(int(execute(f"SELECT max(version) FROM {t}")[0][0]) for t in TABLES)

    try:
        wait_while_moving(
            clean, written, what="the rollups to settle", stall=CATCH_UP_STALL, interval=5
        )
    except Stalled:
        pass  # judged below, with the figures
    finally:
        client.disconnect()


def judge(settings: Settings, mixed: Poisoned, result: Result) -> None:
    from clickhouse_driver import Client

    from streams.report import reconcile

    client = Client.from_url(access.clickhouse_url(settings))
    try:
        for topic, (table, column) in RAW_TABLES.items():
            expected = len(mixed.valid_ids.get(topic, set()))
            ((final, distinct),) = client.execute(
                f"SELECT count(), uniqExact({column}) FROM {table} FINAL"
            )
            ((physical,),) = client.execute(f"SELECT count() FROM {table}")
            result.tables[table] = {
                "expected": expected,
                "final": final,
                "physical": physical,
            }
            if distinct < expected:
                result.failures.append(f"{table}: {expected - distinct} events lost")
            if final > distinct:
                result.failures.append(f"{table}: {final - distinct} counted twice with FINAL")
        entries = mixed.valid_ids.get("gate.entries", set())
        ((decided,),) = client.execute("SELECT uniqExact(entry_id) FROM decisions")
        result.undecided = len(entries) - decided
        if result.undecided:
            result.failures.append(f"{result.undecided} entries without a decision")
        _, mismatches = reconcile(lambda sql: list(client.execute(sql)))
        result.reconcile_mismatches = len(mismatches)
        if mismatches:
            result.failures.append(f"reconcile: {len(mismatches)} rollup groups differ")
    finally:
        client.disconnect()
    judge_dlq(settings, mixed, result)


def judge_dlq(settings: Settings, mixed: Poisoned, result: Result) -> None:
    from streams.dlq import letters

    seen: Counter[tuple[str, int, int]] = Counter()
    unexpected = 0
    without_headers = 0
    for letter in letters(settings):
        meta = letter.meta
        where = (
            meta.source_topic.removeprefix(settings.topic_prefix),
            meta.source_partition,
            meta.source_offset,
        )
        seen[where] += 1
        if where not in mixed.poison:
            unexpected += 1
        if not (meta.stage and meta.error_class and meta.error_message):
            without_headers += 1
    missing = [where for where in mixed.poison if where not in seen]
    result.dlq = {
        "poison_sent": len(mixed.poison),
        "poison_dead_lettered_once": sum(1 for w in mixed.poison if seen[w] >= 1),
        "physical_duplicates": sum(n - 1 for n in seen.values()),
        "missing": len(missing),
        "not_poison": unexpected,
        "without_headers": without_headers,
        "kinds": len(set(mixed.poison.values())),
    }
    if missing:
        result.failures.append(f"DLQ: {len(missing)} poison messages missing")
    if unexpected:
        result.failures.append(f"DLQ: {unexpected} letters for valid events")
    if without_headers:
        result.failures.append(f"DLQ: {without_headers} letters without their headers")


def _peak_rss(process: subprocess.Popen[bytes]) -> float:
    try:
        text = Path(f"/proc/{process.pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024 if found else 0.0


def report(results: list[Result]) -> str:
    lines = []
    for r in results:
        kind = "negative control" if r.broken_sink else "scenario"
        lines.append(f"{kind} {r.scenario}: {'PASSED' if r.passed else 'FAILED'}")
        lines.append(
            f"  {r.events:,} events + {r.poison:,} poison; faults: {len(r.faults)}; "
            f"restarts by the supervisor: {r.restarts}; caught up {r.catch_up_seconds:,.0f} s "
            "after the faults"
        )
        for table, n in r.tables.items():
            lines.append(
                f"  {table:<14} expected {n['expected']:>7,}  FINAL {n['final']:>7,}  "
                f"physical {n['physical']:>7,} ({n['physical'] - n['final']:,} duplicates)"
            )
        lines.append(
            f"  entries undecided: {r.undecided}; reconcile mismatches: {r.reconcile_mismatches}"
        )
        lines.append("  dlq: " + ", ".join(f"{k} {v:,}" for k, v in r.dlq.items()))
        lines.append(f"  peak RSS per worker (MiB): {', '.join(map(str, r.peak_rss_mb))}")
        for failure in r.failures:
            lines.append(f"  ! {failure}")
    return "\n".join(lines)


def save(results: list[Result], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(
        json.dumps([r.__dict__ | {"passed": r.passed} for r in results], indent=2, default=str)
    )
    return path

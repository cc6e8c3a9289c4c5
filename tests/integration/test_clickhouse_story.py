"""The whole jinshan-2022 scenario through Kafka, real workers and ClickHouse 18.16.

The report equals the simulator's ground truth and every rollup equals the raw tables: after the
demo, by the README's own commands (history in a namespace of its own); and they stay equal, 0
lost and 0 double-counted, when the same history is replayed twice, when the worker is killed
with SIGKILL mid-run and restarted, with two workers in one group, and when ClickHouse is
stopped for a minute mid-run.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from streams.agents.local import Grouped, LocalStore
from streams.agents.state import read_partition
from streams.jsonl import read_jsonl, write_jsonl
from streams.progress import Stalled, wait_while_moving
from streams.report import build_report, reconcile
from streams.settings import Settings, load_settings
from tests.integration.helpers import (
    STALL,
    Activity,
    Worker,
    drop_database,
    group_lag,
    query,
    rss_mb,
    running_worker,
    send_events,
    settings_env,
)
from workbench.demo import sample_events
from workbench.detach import worker_name
from workbench.playback import produce
from workbench.simulator.jinshan import Params, generate
from workbench.stack import Stack
from workbench.stack.clickhouse import ClickHouseServer

RAW_TABLES = {
    "entries": "gate.entries",
    "exits": "gate.exits",
    "antigen_tests": "health.antigen",
    "nat_reports": "health.nat",
    "health_visits": "health.visits",
}
REPORTED = (
    "total_entries",
    "peak_date",
    "peak_entries",
    "positives",
    "holds_by_rule",
    "denials_by_rule",
    "overdue_visits",
)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    generated = generate(Params(seed=1))
    # The directory names `sentinel replay`'s namespace: one of its own for this session.
    path = tmp_path_factory.mktemp(f"story-{uuid.uuid4().hex[:8]}", numbered=False) / "events.jsonl"
    write_jsonl(generated.events, path, len(generated.events))
    return path, generated.truth


def send(settings: Settings, path: Path) -> None:
    records = [record for _, record in read_jsonl(path)]
    produce(settings, records, len(records), label="jinshan-2022")


def expected(truth: dict[str, Any]) -> dict[str, Any]:
    return {
        **{key: truth[key] for key in REPORTED},
        "decided_entries": truth["total_entries"],
        "dwell_alerts": truth["dwell_violations"],  # hazmat trucks inside past the 6 h cap
        "raw": {table: truth["events_by_topic"][topic] for table, topic in RAW_TABLES.items()},
        "mismatches": [],
    }


def observed(settings: Settings) -> dict[str, Any]:
    def execute(sql: str) -> list[tuple[Any, ...]]:
        return query(settings, sql)

    report = build_report(execute)
    _, mismatches = reconcile(execute)
    return {
        **{key: getattr(report, key) for key in REPORTED},
        "decided_entries": query(settings, "SELECT uniqExact(entry_id) FROM decisions")[0][0],
        "dwell_alerts": query(
            settings, "SELECT uniqExact(dedup_key) FROM alerts WHERE dedup_key LIKE 'dwell:%'"
        )[0][0],
        "raw": {t: query(settings, f"SELECT count() FROM {t} FINAL")[0][0] for t in RAW_TABLES},
        "mismatches": mismatches,
    }


def settle(settings: Settings, want: dict[str, Any], worker: Worker) -> dict[str, Any]:
    """Wait until the group has committed everything and the tables say ``want``, for as long as
    the pipeline moves; then check that they still say it after the rollups' next flushes (a
    double count would show by then)."""
    activity = Activity(settings)
    got: dict[str, Any] = {}

    def settled() -> bool:
        nonlocal got
        if group_lag(settings):
            return False
        got = observed(settings)
        return got == want

    try:
        wait_while_moving(
            settled,
            lambda: (activity(), str(got)),
            what="the story to settle",
            stall=STALL,
            interval=3,
        )
    except Stalled as stalled:
        raise AssertionError(f"{stalled}\nwant {want}\ngot  {got}") from None
    finally:
        activity.close()
    flushes = worker.metric("sentinel_rollup_flushes_total")
    wait_while_moving(
        lambda: worker.metric("sentinel_rollup_flushes_total") >= flushes + 3,
        worker.signs,
        what="three more rollup flushes",
        stall=STALL,
    )
    assert group_lag(settings) == 0
    assert observed(settings) == want
    return got


def wait_for_decisions(settings: Settings, at_least: int) -> None:
    activity = Activity(settings)
    try:
        wait_while_moving(
            lambda: query(settings, "SELECT uniqExact(entry_id) FROM decisions")[0][0] >= at_least,
            activity,
            what=f"{at_least} entries decided",
            stall=STALL,
        )
    finally:
        activity.close()


def test_the_readme_sequence_after_the_demo_gives_the_ground_truth_and_replays_count_once(
    fresh: Settings, scenario: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    # The README: `make demo` (entries at today's time), then the story. Sent where the demo's
    # traffic is, every 2022 deadline would fire at once (2,445 holds, 5,398 overdue visits):
    # `sentinel produce` refuses it; `sentinel replay` runs it in a namespace of its own.
    path, truth = scenario
    want = expected(truth)
    with running_worker(fresh, tmp_path) as live:
        entries, antigens = sample_events(6, datetime.now(UTC))
        send_events(fresh, [("gate.entries", e) for e in entries], "the demo's entries")
        send_events(fresh, [("health.antigen", a) for a in antigens], "their antigens")
        wait_for_decisions(fresh, 6)
        refused = sentinel(fresh, "produce", str(path))
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "they would all arrive late" in refused.stderr
        assert "sentinel replay" in refused.stderr
        assert live.process.poll() is None
    namespace = path.parent.name
    story = load_settings({**settings_env(fresh), "SENTINEL_NAMESPACE": namespace})
    try:
        replayed = sentinel(fresh, "replay", str(path))
        assert replayed.returncode == 0, replayed.stderr[-3000:]
        assert f"`sentinel --namespace {namespace} report`" in replayed.stdout
        reported = json.loads(sentinel(fresh, "--namespace", namespace, "report", "--json").stdout)
        assert {key: reported[key] for key in REPORTED} == {key: truth[key] for key in REPORTED}
        assert reported["visit_obligations"] == truth["visit_obligations"]
        reconciled = sentinel(fresh, "--namespace", namespace, "reconcile")
        assert reconciled.returncode == 0 and ", 0 differ" in reconciled.stdout
        assert observed(story) == want
        # The same history again: refused, and when forced, nothing counts twice (its first
        # 20,000 events, in the same namespace: the whole file again took 100 s more).
        again = sentinel(fresh, "replay", str(path))
        assert again.returncode != 0 and "it holds this history already" in again.stderr
        part = path.parent / "again.jsonl"
        with path.open(encoding="utf-8") as lines:
            part.write_text("".join(islice(lines, 20_000)), encoding="utf-8")
        again = sentinel(fresh, "replay", "--late-ok", str(part))
        assert again.returncode == 0, again.stderr[-3000:]
        assert f"`sentinel --namespace {namespace} report`" in again.stdout  # the same one
        assert observed(story) == want
    finally:
        Stack(story).worker(worker_name(story)).stop()
        LocalStore.of(story).remove()
        drop_database(story)


def sentinel(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: the stack's places, the default Kafka user (``replay``
    once lost the admin it runs as when it made its namespace: only a user's shell showed it)."""
    env = settings_env(settings)
    del env["SENTINEL_KAFKA_USER"], env["SENTINEL_KAFKA_PASSWORD"]
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,  # a guard against a hung command; its own waits follow progress
    )


def test_sigkill_mid_run_and_a_restart_lose_and_double_nothing(
    fresh: Settings, scenario: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, truth = scenario
    with running_worker(fresh, tmp_path) as first:
        send(fresh, path)
        wait_for_decisions(fresh, truth["total_entries"] // 3)
        first.process.kill()  # SIGKILL: no shutdown, no final commit, no flush
        first.process.wait()
    # Its successor joins once the killed member's session has expired (about 60 s), then
    # restores every table from the changelogs: the readiness wait follows its progress.
    with running_worker(fresh, tmp_path) as successor:
        settle(fresh, expected(truth), successor)


def test_clean_stops_restart_from_the_local_store_and_a_lost_store_from_the_changelog(
    fresh: Settings, scenario: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """A worker stopped cleanly keeps its state on its disk, the changelog's records as they are
    (``streams/agents/local.py``); its successor reads from the changelog only what came after,
    and decides as if it had read it all. A snapshot of another history, or a host that lost that
    disk, reads the changelog."""
    path, truth = scenario
    store = LocalStore.of(fresh)
    with running_worker(fresh, tmp_path) as first:
        send(fresh, path)
        wait_for_decisions(fresh, truth["total_entries"] // 3)
    held = assert_snapshots_are_the_changelog(fresh, store)
    assert f"state of {len(held)} partitions saved" in first.log()
    with running_worker(fresh, tmp_path) as second:
        restored = second.log().count("restored from the local snapshot")
        wait_for_decisions(fresh, 2 * truth["total_entries"] // 3)
    assert restored == len(held), second.log()
    assert_snapshots_are_the_changelog(fresh, store)
    # Snapshots of another history (a topic made again): their anchors no longer match.
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE snapshots SET last_digest = x'00'")
    with running_worker(fresh, tmp_path) as third:
        assert "restored from the local snapshot" not in third.log()
        assert third.log().count("the local snapshot does not match") == len(held)
    store.remove()
    with running_worker(fresh, tmp_path) as fourth:
        assert "restored from the local snapshot" not in fourth.log()
        settle(fresh, expected(truth), fourth)


def assert_snapshots_are_the_changelog(settings: Settings, store: LocalStore) -> list[int]:
    """Each partition with a changelog has a snapshot that holds what the changelog gives back,
    key for key (an empty partition has none: it is read at once); returns them."""

    async def changelog(partition: int) -> Grouped:
        grouped = await read_partition(settings, store.topic, partition)
        return {park: entities for park, entities in grouped.items() if entities}

    kept = {p: asyncio.run(changelog(p)) for p in range(settings.partitions)}
    held = [p for p, grouped in kept.items() if grouped]
    assert held and store.partitions() == held
    for partition in held:
        snapshot = store.load(partition)
        assert snapshot is not None
        assert snapshot.grouped == kept[partition], partition
    return held


def test_two_workers_in_one_group_one_killed_and_a_successor_agree_with_the_truth(
    fresh: Settings, scenario: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    # Deadlines cross workers here: one worker's vehicle stage sends visit obligations to the
    # other's person stage, whose watermark must wait for them (a watermark per worker lost
    # 2 to 32 of the 358 overdue visits). Then the survivor takes the killed one's partitions
    # and gives half back to its successor: each rebalance restores its tables from their
    # changelogs, and its sweeps must wait for that (they fired 35 false overdue visits); and
    # the inputs the killed one had not committed are read again, whose outputs must be sent
    # again (a decision was lost: its state had reached the changelog, its record had not).
    path, truth = scenario
    with running_worker(fresh, tmp_path) as one:
        with running_worker(fresh, tmp_path) as two:
            send(fresh, path)
            wait_for_decisions(fresh, truth["total_entries"] // 3)
            for worker in (one, two):
                assert worker.readies() and " 0 partitions" not in worker.readies()[-1]
            before = len(one.readies())
            two.process.kill()  # SIGKILL: no shutdown, no final commit, no flush
            two.process.wait()
        one.wait_rebalanced(before)  # its session expires, then the survivor's
        with running_worker(fresh, tmp_path) as successor:
            settle(fresh, expected(truth), successor)
            assert " 0 partitions" not in successor.readies()[-1]


def test_clickhouse_down_for_a_minute_pauses_the_sink_and_loses_nothing(
    fresh: Settings,
    stack_settings: Settings,
    scenario: tuple[Path, dict[str, Any]],
    tmp_path: Path,
) -> None:
    path, truth = scenario
    server = ClickHouseServer(stack_settings)
    with running_worker(fresh, tmp_path) as worker:
        pid = worker.process.pid
        send(fresh, path)
        wait_for_decisions(fresh, truth["total_entries"] // 4)
        before = rss_mb(pid)
        server.down()
        try:
            lag_at_stop = group_lag(fresh)
            peak = before
            stopped = time.monotonic()
            while time.monotonic() - stopped < 60:
                peak = max(peak, rss_mb(pid))
                time.sleep(0.5)
            lag_after_a_minute = group_lag(fresh)
        finally:
            server.up(progress=print)
        settle(fresh, expected(truth), worker)
        after = rss_mb(pid)
        print(
            f"\nworker RSS: {before:.0f} MiB before the outage, peak {peak:.0f} MiB during it, "
            f"{after:.0f} MiB after catching up; lag {lag_at_stop} at the stop, "
            f"{lag_after_a_minute} a minute later"
        )
        assert "failed (attempt" in worker.log()  # the sink retried, and held its batch
        assert lag_after_a_minute > 0  # consumption paused: offsets did not run ahead
        assert peak < before + 256, "worker memory grew while ClickHouse was down"

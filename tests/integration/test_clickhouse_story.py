"""The whole jinshan-2022 scenario through Kafka, real workers and ClickHouse 18.16.

The report equals the simulator's ground truth and every rollup equals the raw tables; and they
stay equal, 0 lost and 0 double-counted, when the same output is sent twice, when the worker is
killed with SIGKILL mid-run and restarted, with two workers in one group, and when ClickHouse is
stopped for a minute mid-run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from streams.report import build_report, reconcile
from streams.settings import Settings
from streams.simulator.jinshan import Params, generate
from streams.simulator.playback import produce, read_jsonl, write_jsonl
from streams.stack.clickhouse import ClickHouseServer
from tests.integration.helpers import (
    group_lag,
    query,
    rss_mb,
    running_worker,
    settings_env,
)

RAW_TABLES = {
    "entries": "gate.entries",
    "exits": "gate.exits",
    "antigen_tests": "health.antigen",
    "nat_reports": "health.nat",
    "health_visits": "health.visits",
}
REPORTED = (
    "total_entries", "peak_date", "peak_entries", "positives", "holds_by_rule",
    "denials_by_rule", "overdue_visits",
)  # fmt: skip


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    generated = generate(Params(seed=1))
    path = tmp_path_factory.mktemp("jinshan") / "events.jsonl"
    write_jsonl(generated.events, path, len(generated.events))
    return path, generated.truth


def send(settings: Settings, path: Path) -> None:
    records = [record for _, record in read_jsonl(path)]
    produce(settings, records, len(records), label="jinshan-2022")


def expected(truth: dict[str, Any]) -> dict[str, Any]:
    return {
        **{key: truth[key] for key in REPORTED},
        "decided_entries": truth["total_entries"],
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
        "raw": {t: query(settings, f"SELECT count() FROM {t} FINAL")[0][0] for t in RAW_TABLES},
        "mismatches": mismatches,
    }


def settle(settings: Settings, want: dict[str, Any], timeout: float = 420) -> dict[str, Any]:
    """Wait until the group has committed everything and the tables say ``want``; then check
    that they still say it a few flushes later (a double count would show by then)."""
    deadline = time.monotonic() + timeout
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        lag = group_lag(settings)
        if lag == 0:
            got = observed(settings)
            if got == want:
                time.sleep(3 * settings.sink_flush_seconds + 1)
                assert group_lag(settings) == 0
                assert observed(settings) == want
                return got
        time.sleep(3)
    assert got == want, f"not settled in {timeout:.0f}s (lag {group_lag(settings)})"
    return got


def wait_for_decisions(settings: Settings, at_least: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while query(settings, "SELECT uniqExact(entry_id) FROM decisions")[0][0] < at_least:
        assert time.monotonic() < deadline, f"fewer than {at_least} decisions in {timeout:.0f}s"
        time.sleep(0.5)


def test_report_equals_the_ground_truth_and_a_second_send_changes_nothing(
    fresh: Settings, scenario: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, truth = scenario
    want = expected(truth)
    with running_worker(fresh, tmp_path):
        send(fresh, path)
        settle(fresh, want)
        cli = subprocess.run(
            [sys.executable, "-m", "streams.cli", "report", "--json"],
            env=settings_env(fresh), capture_output=True, text=True, check=True,
        )  # fmt: skip
        reported = json.loads(cli.stdout)
        assert {key: reported[key] for key in REPORTED} == {key: truth[key] for key in REPORTED}
        assert reported["visit_obligations"] == truth["visit_obligations"]
        reconciled = subprocess.run(
            [sys.executable, "-m", "streams.cli", "reconcile"],
            env=settings_env(fresh), capture_output=True, text=True,
        )  # fmt: skip
        assert reconciled.returncode == 0, reconciled.stdout
        assert ", 0 differ" in reconciled.stdout

        send(fresh, path)  # the same output again
        settle(fresh, want)


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
    # restores every table from the changelogs (15-30 s): 90 s was too close.
    with running_worker(fresh, tmp_path, ready_timeout=240):
        settle(fresh, expected(truth))


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
        one.wait_rebalanced(before, timeout=180)  # its session expires, then the survivor's
        with running_worker(fresh, tmp_path) as successor:
            settle(fresh, expected(truth))
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
        settle(fresh, expected(truth))
        after = rss_mb(pid)
        print(
            f"\nworker RSS: {before:.0f} MiB before the outage, peak {peak:.0f} MiB during it, "
            f"{after:.0f} MiB after catching up; lag {lag_at_stop} at the stop, "
            f"{lag_after_a_minute} a minute later"
        )
        assert "failed (attempt" in worker.log()  # the sink retried, and held its batch
        assert lag_after_a_minute > 0  # consumption paused: offsets did not run ahead
        assert peak < before + 256, "worker memory grew while ClickHouse was down"

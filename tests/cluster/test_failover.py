"""The 2022 story through the local cluster (3 brokers, replication factor 3, min ISR 2; 2
ClickHouse replicas) with two workers: mid-run the broker that leads the most of the run's
partitions is SIGKILLed and stays down to the end, later ClickHouse replica 1 (the one the
workers' URL names first; they go on with replica 2, its ``alt_hosts``) is stopped for two
minutes and started again. At the end, on two brokers, the report equals the simulator's ground
truth, every rollup reconciles, every raw table counts each event once with FINAL, and the two
replicas hold the same rows. (With one copy of each partition, the killed broker's would be
offline and the story would stall: SENTINEL_REPLICATION_FACTOR=1 makes this test fail.)"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from clickhouse_driver import Client
from kafka import KafkaAdminClient

from streams import access
from streams.settings import Settings
from tests.integration.helpers import running_worker
from tests.integration.test_clickhouse_story import (
    expected,
    send,
    settle,
    wait_for_decisions,
)
from workbench.stack import Stack
from workbench.stack.clickhouse import ClickHouseServer

OUTAGE = 120.0  # seconds replica 1 is down: the fault's length, not a wait


def test_the_story_through_a_cluster_loses_a_broker_and_a_replica_and_nothing_else(
    cluster: Stack, fresh: Settings, scenario: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, truth = scenario
    started = time.monotonic()

    def mark(what: str) -> None:
        print(f"{time.monotonic() - started:6.0f} s  {what}", flush=True)

    failed: list[BaseException] = []

    def sending() -> None:
        try:
            send(fresh, path)
            mark("the story sent")
        except BaseException as exc:  # noqa: BLE001 - judged below, in the test's thread
            failed.append(exc)

    with running_worker(fresh, tmp_path) as one, running_worker(fresh, tmp_path) as two:
        sender = threading.Thread(target=sending, daemon=True)
        sender.start()
        mark(f"sending the story ({sum(truth['events_by_topic'].values()):,} events)")
        wait_for_decisions(fresh, truth["total_entries"] // 4)
        node, led, of = leading_most(fresh)
        broker = cluster.brokers[node - 1]
        pid = broker.process.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        mark(
            f"SIGKILL broker node {node} (pid {pid}), leader of {led} of the run's {of} partitions"
        )
        try:
            wait_for_decisions(fresh, truth["total_entries"] // 2)
            replica, other = cluster.replicas
            replica.down()
            before = rows(fresh, other, "decisions_local")
            mark(f"ClickHouse replica 1 stopped for {OUTAGE:.0f} s; replica 2 has {before:,} rows")
            time.sleep(OUTAGE)
            during = rows(fresh, other, "decisions_local") - before
            replica.up(print)
            mark(f"ClickHouse replica 1 started again; {during:,} decisions written meanwhile")
            sender.join()
            assert not failed, f"sending failed: {failed[0]!r}"
            back = time.monotonic()
            settle(fresh, expected(truth), one)
            mark(
                "report equals the ground truth, reconcile 0, raw counts with FINAL equal: "
                f"{time.monotonic() - back:.0f} s after replica 1 came back, on 2 brokers"
            )
            assert one.process.poll() is None and two.process.poll() is None
            counts = replica_counts(fresh, cluster.replicas)
            mark("replicas caught up")
        finally:
            broker.up(print, timeout=900)  # the cluster whole again for what comes next
            broker.wait_answering(900)
            mark(f"broker node {node} started again")
    for table, (first, second) in counts.items():
        print(f"{table:<24} replica 1 {first:>8,}  replica 2 {second:>8,}")
    assert all(first == second for first, second in counts.values()), counts
    assert counts["decisions_local"][0] > 0
    # The workers went on through replica 2 (their URL's alt_hosts) while replica 1 was down.
    assert during > 0


def rows(settings: Settings, replica: ClickHouseServer, table: str) -> int:
    client = _client(settings, replica)
    try:
        return int(client.execute(f"SELECT count() FROM {table}")[0][0])
    finally:
        client.disconnect()


def _client(settings: Settings, replica: ClickHouseServer) -> Client:
    """The admin's session with this replica alone, in the run's database."""
    return Client.from_url(replica.admin_url(settings.clickhouse_database))


def leading_most(settings: Settings) -> tuple[int, int, int]:
    """The broker node that leads the most partitions of the run's topics: (node, led, all)."""
    admin = KafkaAdminClient(**access.kafka_python(settings))
    try:
        ours = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        leaders = Counter(p["leader"] for t in admin.describe_topics(ours) for p in t["partitions"])
    finally:
        admin.close()
    node, led = leaders.most_common(1)[0]
    return int(node), led, sum(leaders.values())


def replica_counts(
    settings: Settings, replicas: list[ClickHouseServer]
) -> dict[str, tuple[int, int]]:
    """Rows of every replicated table on each replica, read from each directly, after each has
    fetched what its replication queue holds (SYSTEM SYNC REPLICA)."""
    counts: dict[str, list[int]] = {}
    for replica in replicas:
        client = _client(settings, replica)
        try:
            tables = [
                name
                for (name,) in client.execute(
                    "SELECT name FROM system.tables WHERE database = currentDatabase() "
                    "AND engine LIKE 'Replicated%'"
                )
            ]
            for table in tables:
                client.execute(f"SYSTEM SYNC REPLICA {table}")
                counts.setdefault(table, []).append(
                    client.execute(f"SELECT count() FROM {table}")[0][0]
                )
        finally:
            client.disconnect()
    return {table: (n[0], n[1]) for table, n in counts.items()}

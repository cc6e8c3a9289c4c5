"""``sentinel stack up|down|status``: the services in start order, plus workers started detached.

One Kafka broker and one ClickHouse server by default; ``stack up --brokers 3
--clickhouse-replicas 2`` runs a three-node KRaft quorum and two ClickHouse replicas with their
ZooKeeper. The shape chosen is kept in ``<state_dir>/topology.json``, so that ``status`` and
``down`` find every node.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from streams.settings import Settings
from workbench.stack import secrets
from workbench.stack._process import ManagedProcess, Progress, StackError, absolute
from workbench.stack.clickhouse import CLUSTER, ClickHouseServer
from workbench.stack.kafka import KafkaBroker
from workbench.stack.zookeeper import ZooKeeper

QUORUM_TIMEOUT = 180.0  # seconds a new quorum may take to elect a leader and answer


@dataclass(frozen=True)
class Topology:
    brokers: int = 1
    clickhouse_replicas: int = 1


class Stack:
    def __init__(self, settings: Settings, topology: Topology | None = None) -> None:
        self.settings = settings = absolute(settings)
        self.saved = settings.state_dir / "topology.json"
        self.topology = topology or self._saved_topology() or Topology()
        t = self.topology
        self.brokers = [KafkaBroker(settings, n, t.brokers) for n in range(1, t.brokers + 1)]
        self.replicas = [
            ClickHouseServer(settings, n, t.clickhouse_replicas)
            for n in range(1, t.clickhouse_replicas + 1)
        ]
        self.kafka = self.brokers[0]
        self.clickhouse = self.replicas[0]
        self.zookeeper = ZooKeeper(settings)

    def worker(self, name: str = "worker") -> ManagedProcess:
        """A worker started detached by `sentinel worker --detach` or `make demo`."""
        return ManagedProcess(
            name=name,
            run_dir=self.settings.state_dir / "run",
            log_file=self.settings.state_dir / "logs" / f"{name}.log",
            marker="streams.cli",
        )

    def up(self, progress: Progress) -> dict[str, str]:
        """Start what is not running. Harmless when everything already runs."""
        self._check()
        secrets.pseudonym_key(self.settings)
        secrets.board_password(self.settings)
        self.saved.parent.mkdir(parents=True, exist_ok=True)
        self.saved.write_text(json.dumps(asdict(self.topology)))
        report = {broker.name: broker.up(progress) for broker in self.brokers}
        if len(self.brokers) > 1:
            progress(f"waiting for the {len(self.brokers)} Kafka nodes to elect a controller")
            for broker in self.brokers:
                broker.wait_answering(QUORUM_TIMEOUT)
            self.kafka.add_missing_users(progress)
        if len(self.replicas) > 1:
            report["zookeeper"] = self.zookeeper.up(progress)
        report |= {replica.name: replica.up(progress) for replica in self.replicas}
        return report

    def _check(self) -> None:
        t, s = self.topology, self.settings
        running = self._saved_topology()
        if running and running != t and any(b.process.pid() for b in Stack(s, running).brokers):
            raise StackError(
                f"the stack in {s.state_dir} runs with {running.brokers} broker(s) and "
                f"{running.clickhouse_replicas} ClickHouse replica(s): stop it first (`sentinel "
                "stack down`), or use another SENTINEL_STATE_DIR and ports"
            )
        if s.replication_factor > t.brokers:
            raise StackError(
                f"SENTINEL_REPLICATION_FACTOR={s.replication_factor} needs as many brokers, and "
                f"this stack runs {t.brokers}: set it to at most {t.brokers}, or start more "
                f"(`sentinel stack up --brokers {s.replication_factor}`)"
            )
        if t.brokers > 1 and s.replication_factor == 1:
            raise StackError(
                f"{t.brokers} brokers and SENTINEL_REPLICATION_FACTOR=1: a broker lost would take "
                "its partitions with it; set SENTINEL_REPLICATION_FACTOR=3 and "
                "SENTINEL_MIN_INSYNC_REPLICAS=2"
            )
        addresses = [b.address for b in self.brokers]
        if t.brokers > 1 and sorted(s.kafka_bootstrap.split(",")) != sorted(addresses):
            raise StackError(
                f"SENTINEL_KAFKA_BOOTSTRAP={s.kafka_bootstrap} should name every broker, so that "
                f"clients still start with one lost: set it to {','.join(addresses)} "
                "(deploy/local-cluster.env has a whole cluster's settings)"
            )
        if t.clickhouse_replicas > 1 and not s.clickhouse_cluster:
            raise StackError(
                f"{t.clickhouse_replicas} ClickHouse replicas need their tables made replicated: "
                f"set SENTINEL_CLICKHOUSE_CLUSTER={CLUSTER} (deploy/local-cluster.env has a "
                "whole cluster's settings)"
            )
        if t.brokers % 2 == 0:
            raise StackError(
                f"{t.brokers} brokers make a controller quorum that survives no more losses than "
                f"{t.brokers - 1}: use an odd number (1 or 3)"
            )

    def _saved_topology(self) -> Topology | None:
        try:
            return Topology(**json.loads(self.saved.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def down(self, workers: bool = True) -> dict[str, str]:
        """Stop what this stack started (by pid file): workers first (unless not ``workers``: a
        restart of the services that a running worker rides through), then the services."""
        stopped = {}
        run_dir = self.settings.state_dir / "run"
        for pid_file in sorted(run_dir.glob("worker*.pid")) if workers else ():
            worker = self.worker(pid_file.stem)
            stopped[worker.name] = "stopped" if worker.stop() else "was not running"
        for replica in self.replicas:
            stopped[replica.name] = "stopped" if replica.down() else "was not running"
        if len(self.replicas) > 1:
            stopped["zookeeper"] = "stopped" if self.zookeeper.down() else "was not running"
        for broker in reversed(self.brokers):
            stopped[broker.name] = "stopped" if broker.down() else "was not running"
        return stopped

    def status(self) -> dict[str, str]:
        report = {broker.name: broker.status() for broker in self.brokers}
        if len(self.replicas) > 1:
            report["zookeeper"] = self.zookeeper.status()
        report |= {replica.name: replica.status() for replica in self.replicas}
        for pid_file in sorted((self.settings.state_dir / "run").glob("worker*.pid")):
            worker = self.worker(pid_file.stem)
            pid = worker.pid()
            report[worker.name] = (
                f"running (pid {pid}); log {worker.log_file}"
                if pid
                else f"stopped: {worker.last_words()} (log {worker.log_file}; `sentinel "
                "worker --detach` starts it again)"
            )
        return report

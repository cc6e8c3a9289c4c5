"""``sentinel stack up|down|status``: the services in start order, plus workers started detached."""

from __future__ import annotations

from streams.settings import Settings
from workbench.stack import secrets
from workbench.stack._process import ManagedProcess, Progress, StackError, absolute
from workbench.stack.clickhouse import ClickHouseServer
from workbench.stack.kafka import KafkaBroker

BROKERS = 1  # the local stack's Kafka brokers


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings = absolute(settings)
        self.kafka = KafkaBroker(settings)
        self.clickhouse = ClickHouseServer(settings)

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
        if self.settings.replication_factor > BROKERS:
            raise StackError(
                f"SENTINEL_REPLICATION_FACTOR={self.settings.replication_factor} needs as many "
                f"brokers, and the local stack runs {BROKERS}: set it to {BROKERS} here (a "
                "cluster of several brokers is not built yet)"
            )
        secrets.pseudonym_key(self.settings)
        return {
            "kafka": self.kafka.up(progress),
            "clickhouse": self.clickhouse.up(progress),
        }

    def down(self) -> dict[str, str]:
        """Stop what this stack started (by pid file): workers first, then the services."""
        stopped = {}
        run_dir = self.settings.state_dir / "run"
        for pid_file in sorted(run_dir.glob("worker*.pid")):
            worker = self.worker(pid_file.stem)
            stopped[worker.name] = "stopped" if worker.stop() else "was not running"
        stopped["clickhouse"] = "stopped" if self.clickhouse.down() else "was not running"
        stopped["kafka"] = "stopped" if self.kafka.down() else "was not running"
        return stopped

    def status(self) -> dict[str, str]:
        report = {"kafka": self.kafka.status(), "clickhouse": self.clickhouse.status()}
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

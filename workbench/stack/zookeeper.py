"""The local ZooKeeper (Debian's ``zookeeper`` 3.8): a replicated ClickHouse's coordinator, one
standalone server, for ``sentinel stack up --clickhouse-replicas 2``. Kafka needs none (KRaft).

Layout under ``<state_dir>/zookeeper``: ``data/``, ``logs/``, the rendered ``zoo.cfg``.
"""

from __future__ import annotations

import socket
from pathlib import Path

from streams.settings import Settings
from workbench.stack._process import (
    ManagedProcess,
    Progress,
    StackError,
    absolute,
    ensure_ports_free,
    wait_until,
)
from workbench.stack.kafka import java
from workbench.stack.ports import load_ports

JAR = Path("/usr/share/java/zookeeper.jar")  # Debian's; its manifest names what it needs
INSTALL_HINT = "install it with `make deps-cluster` (Debian's zookeeper package)"


class ZooKeeper:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings = absolute(settings)
        self.port = load_ports().zookeeper_port
        self.home = settings.state_dir / "zookeeper"
        self.config = self.home / "zoo.cfg"
        self.process = ManagedProcess(
            name="zookeeper",
            run_dir=settings.state_dir / "run",
            log_file=self.home / "logs" / "stdout.log",
            marker=str(self.config),
        )

    def up(self, progress: Progress) -> str:
        if self.process.pid() is not None:
            return f"already running (pid {self.process.pid()})"
        if not JAR.exists():
            raise StackError(f"ZooKeeper is not installed ({JAR} is missing); {INSTALL_HINT}")
        port = self.port
        ensure_ports_free(
            "ZooKeeper", {port: "ZooKeeper client port"}, "SENTINEL_STACK_ZOOKEEPER_PORT"
        )
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            "tickTime=2000\n"
            f"dataDir={self.home / 'data'}\n"
            f"clientPort={port}\n"
            "clientPortAddress=127.0.0.1\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=srvr,ruok\n"
            "autopurge.purgeInterval=1\n"
        )
        progress("starting ZooKeeper (ClickHouse's replicas coordinate through it)")
        self.process.start(
            [
                java(),
                "-Xmx256m",
                f"-Dzookeeper.log.dir={self.home / 'logs'}",
                "-cp",
                str(JAR),
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                str(self.config),
            ]
        )
        wait_until(
            self.answers,
            what=f"ZooKeeper on 127.0.0.1:{port}",
            timeout=60,
            process=self.process,
        )
        return f"started (pid {self.process.pid()}) on 127.0.0.1:{port}"

    def down(self) -> bool:
        return self.process.stop(timeout=30)

    def status(self) -> str:
        pid = self.process.pid()
        if pid is None:
            return "stopped"
        state = "answering" if self.answers() else "NOT answering"
        where = f"127.0.0.1:{self.port}"
        return f"running (pid {pid}) on {where} (ClickHouse's coordinator), {state}"

    def answers(self) -> bool:
        """True when the server says it serves (its ``srvr`` word names its mode)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                conn.sendall(b"srvr")
                said = b""
                while chunk := conn.recv(4096):
                    said += chunk
        except OSError:
            return False
        return b"Mode:" in said

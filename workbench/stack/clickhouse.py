"""The local ClickHouse server (Debian's ``clickhouse-server``), run with the project's own config;
or, with ``sentinel stack up --clickhouse-replicas 2``, two replicas of one shard coordinated by
the local ZooKeeper, replica N's ports ``NODE_PORT_STEP * (N - 1)`` above the first's.

Layout under ``<state_dir>/clickhouse`` (replica N: ``clickhouse-N``): ``data/``, ``tmp/``,
``logs/``, and the rendered ``config.xml`` / ``users.xml`` from ``deploy/clickhouse`` (0600).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from string import Template
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape

from streams import access
from streams.settings import ConfigError, Settings
from workbench import REPO_ROOT
from workbench.stack import secrets
from workbench.stack._process import (
    ManagedProcess,
    Progress,
    StackError,
    absolute,
    ensure_ports_free,
    node_port,
    wait_until,
)
from workbench.stack.ports import StackPorts, load_ports

DEPLOY = REPO_ROOT / "deploy" / "clickhouse"
INSTALL_HINT = "install it with `make deps` (Debian's clickhouse-server package)"
CLUSTER = "sentinel"  # the cluster's name when SENTINEL_CLICKHOUSE_CLUSTER does not give one


class ClickHouseServer:
    def __init__(
        self,
        settings: Settings,
        replica: int = 1,
        replicas: int = 1,
        stack_ports: StackPorts | None = None,
    ) -> None:
        self.settings = settings = absolute(settings)
        self.stack_ports = stack_ports or load_ports()
        self.replica, self.replicas = replica, replicas
        self.name = "clickhouse" if replica == 1 else f"clickhouse-{replica}"
        self.home = settings.state_dir / self.name
        self.config = self.home / "config.xml"
        self.port = node_port(settings.clickhouse_port, replica)
        self.process = ManagedProcess(
            name=self.name,
            run_dir=settings.state_dir / "run",
            log_file=self.home / "logs" / "stdout.log",
            marker=str(self.config),
        )

    @property
    def ports(self) -> dict[int, str]:
        s, n = self.stack_ports, self.replica
        return {
            self.port: "ClickHouse native protocol",
            node_port(s.clickhouse_http_port, n): "ClickHouse HTTP",
            node_port(s.clickhouse_tls_port, n): "ClickHouse native protocol over TLS",
            node_port(s.clickhouse_interserver_port, n): "ClickHouse interserver HTTP",
        }

    def up(self, progress: Progress) -> str:
        if self.process.pid() is not None:
            return f"already running (pid {self.process.pid()})"
        ensure_ports_free(
            "ClickHouse",
            self.ports,
            "SENTINEL_CLICKHOUSE_URL=clickhouse://worker@127.0.0.1:<port>/sentinel, "
            "SENTINEL_STACK_CLICKHOUSE_HTTP_PORT=<port>, "
            "SENTINEL_STACK_CLICKHOUSE_TLS_PORT=<port> and "
            "SENTINEL_STACK_CLICKHOUSE_INTERSERVER_PORT=<port>",
        )
        binary = server_binary()
        self._render_config()
        which = f", replica {self.replica} of {self.replicas}" if self.replicas > 1 else ""
        progress(f"starting ClickHouse ({' '.join(binary)}){which}")
        self.process.start([*binary, f"--config-file={self.config}"])
        wait_until(
            self.answers_select,
            what=f"ClickHouse on 127.0.0.1:{self.port}",
            timeout=60,
            process=self.process,
        )
        return f"started (pid {self.process.pid()}) on 127.0.0.1:{self.port}"

    def down(self) -> bool:
        return self.process.stop(timeout=30)

    def status(self) -> str:
        pid = self.process.pid()
        if pid is None:
            return "stopped"
        state = "answering" if self.answers_select() else "NOT answering"
        ports = ", ".join(
            f"{port} ({what.removeprefix('ClickHouse ')})" for port, what in self.ports.items()
        )
        role = f", replica {self.replica} of {self.replicas}" if self.replicas > 1 else ""
        return f"running (pid {pid}) on 127.0.0.1: {ports}{role}, {state}; logs {self.home}/logs"

    def admin_url(self, database: str, query: str = "") -> str:
        """The admin's URL of this server alone, in ``database`` (no other replica to fail over
        to: the URL's ``alt_hosts`` go)."""
        parts = urlsplit(access.clickhouse_admin_url(self.settings, database))
        host = parts.netloc.rsplit(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{host}:{self.port}", query=query))

    def answers_select(self) -> bool:
        from clickhouse_driver import Client
        from clickhouse_driver.errors import Error

        # The driver logs every refused connection with a traceback; while polling that is noise.
        logging.getLogger("clickhouse_driver.connection").setLevel(logging.CRITICAL)
        try:
            url = self.admin_url("default", "connect_timeout=2&send_receive_timeout=5")
        except ConfigError:
            return False  # no password made: not the stack's server
        client = Client.from_url(url)
        try:
            return bool(client.execute("SELECT 1") == [(1,)])
        except (Error, OSError, EOFError):
            return False
        finally:
            client.disconnect()

    def _render_config(self) -> None:
        for sub in ("data", "tmp", "logs", "user_files", "format_schemas"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        users = self.home / "users.xml"
        hashes = {
            f"{user}_sha256": hashlib.sha256(password.encode()).hexdigest()
            for user, password in secrets.clickhouse_passwords(self.settings).items()
        }
        users.touch(mode=0o600)
        users.write_text(Template((DEPLOY / "users.xml").read_text()).substitute(hashes))
        s, p, n = self.settings, self.stack_ports, self.replica
        template = Template((DEPLOY / "config.xml").read_text())
        self.config.touch(mode=0o600)
        self.config.chmod(0o600)  # a cluster's holds the worker's password
        self.config.write_text(
            template.substitute(
                home=self.home,
                tcp_port=self.port,
                http_port=node_port(p.clickhouse_http_port, n),
                tls_port=node_port(p.clickhouse_tls_port, n),
                interserver_port=node_port(p.clickhouse_interserver_port, n),
                tls_dir=secrets.certificates(s),
                users_config=users,
                cluster=self._cluster_config() if self.replicas > 1 else "",
            )
        )

    def _cluster_config(self) -> str:
        password = secrets.clickhouse_passwords(self.settings)["worker"]
        replicas = "\n".join(
            f"                <replica><host>127.0.0.1</host>"
            f"<port>{node_port(self.settings.clickhouse_port, n)}</port>"
            f"<user>worker</user><password>{escape(password)}</password></replica>"
            for n in range(1, self.replicas + 1)
        )
        return Template((DEPLOY / "cluster.xml").read_text()).substitute(
            zookeeper_port=self.stack_ports.zookeeper_port,
            cluster_name=self.settings.clickhouse_cluster or CLUSTER,
            replicas=replicas,
            replica=self.replica,
        )


def server_binary() -> list[str]:
    """The command that runs a ClickHouse server: ``clickhouse-server`` or ``clickhouse server``.

    Debian puts ``clickhouse-server`` in /usr/sbin, which is not on every user's PATH.
    """
    found = shutil.which("clickhouse-server") or shutil.which(
        "clickhouse-server", path="/usr/sbin:/usr/local/sbin"
    )
    if found:
        return [found]
    found = shutil.which("clickhouse")
    if found:
        return [found, "server"]
    raise StackError(f"clickhouse-server is not installed; {INSTALL_HINT}")

"""The local ClickHouse server (Debian's ``clickhouse-server``), run with the project's own config.

Layout under ``<state_dir>/clickhouse``: ``data/``, ``tmp/``, ``logs/``, and the rendered
``config.xml`` / ``users.xml`` from ``deploy/clickhouse``.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from string import Template

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
    wait_until,
)

DEPLOY = REPO_ROOT / "deploy" / "clickhouse"
INSTALL_HINT = "install it with `make deps` (Debian's clickhouse-server package)"


class ClickHouseServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings = absolute(settings)
        self.home = settings.state_dir / "clickhouse"
        self.config = self.home / "config.xml"
        self.process = ManagedProcess(
            name="clickhouse",
            run_dir=settings.state_dir / "run",
            log_file=self.home / "logs" / "stdout.log",
            marker=str(self.config),
        )

    @property
    def ports(self) -> dict[int, str]:
        return {
            self.settings.clickhouse_port: "ClickHouse native protocol",
            self.settings.clickhouse_http_port: "ClickHouse HTTP",
            self.settings.clickhouse_tls_port: "ClickHouse native protocol over TLS",
        }

    def up(self, progress: Progress) -> str:
        if self.process.pid() is not None:
            return f"already running (pid {self.process.pid()})"
        ensure_ports_free(
            "ClickHouse",
            self.ports,
            "SENTINEL_CLICKHOUSE_URL=clickhouse://worker@127.0.0.1:<port>/sentinel, "
            "SENTINEL_CLICKHOUSE_HTTP_PORT=<port> and SENTINEL_CLICKHOUSE_TLS_PORT=<port>",
        )
        binary = server_binary()
        self._render_config()
        progress(f"starting ClickHouse ({' '.join(binary)})")
        self.process.start([*binary, f"--config-file={self.config}"])
        wait_until(
            self.answers_select,
            what=f"ClickHouse on 127.0.0.1:{self.settings.clickhouse_port}",
            timeout=60,
            process=self.process,
        )
        return f"started (pid {self.process.pid()}) on 127.0.0.1:{self.settings.clickhouse_port}"

    def down(self) -> bool:
        return self.process.stop(timeout=30)

    def status(self) -> str:
        pid = self.process.pid()
        if pid is None:
            return "stopped"
        state = "answering" if self.answers_select() else "NOT answering"
        return (
            f"running (pid {pid}) on 127.0.0.1:{self.settings.clickhouse_port} (native), "
            f"{self.settings.clickhouse_http_port} (HTTP), {self.settings.clickhouse_tls_port} "
            f"(native over TLS), {state}; logs {self.home}/logs"
        )

    def answers_select(self) -> bool:
        from clickhouse_driver import Client
        from clickhouse_driver.errors import Error

        # The driver logs every refused connection with a traceback; while polling that is noise.
        logging.getLogger("clickhouse_driver.connection").setLevel(logging.CRITICAL)
        try:
            url = access.clickhouse_admin_url(self.settings, "default")
        except ConfigError:
            return False  # no password made: not the stack's server
        client = Client.from_url(f"{url}?connect_timeout=2&send_receive_timeout=5")
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
        users.write_text(Template((DEPLOY / "users.xml").read_text()).substitute(hashes))
        users.chmod(0o600)
        template = Template((DEPLOY / "config.xml").read_text())
        self.config.write_text(
            template.substitute(
                home=self.home,
                tcp_port=self.settings.clickhouse_port,
                http_port=self.settings.clickhouse_http_port,
                tls_port=self.settings.clickhouse_tls_port,
                tls_dir=secrets.certificates(self.settings),
                users_config=users,
            )
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

"""The local Apache Kafka brokers: KRaft nodes that are broker and controller both, jars resolved
from Maven Central. One by default; ``sentinel stack up --brokers 3`` runs three, a three-voter
controller quorum, node N's ports ``NODE_PORT_STEP * (N - 1)`` above the first's.

Layout under ``<state_dir>/kafka`` (node 1; node N: ``kafka-N``): ``libs/`` (the resolved jars,
reused across runs, node 1's shared by all), ``data/`` (the KRaft log dirs, formatted once),
``logs/`` (server.log), ``server.properties`` (mode 0600: it holds the admin's password).
Secured by default (``deploy/kafka/security-sasl_ssl.properties``): the users, made when the
storage is formatted, and the certificates come from ``secrets.py``.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from string import Template

from streams import access
from streams.settings import ConfigError, Settings
from workbench import REPO_ROOT
from workbench.stack._process import (
    ManagedProcess,
    Progress,
    StackError,
    absolute,
    ensure_ports_free,
    node_port,
    port_open,
    wait_until,
)
from workbench.stack.ports import StackPorts, load_ports
from workbench.stack.secrets import certificates, passwords

DEPLOY = REPO_ROOT / "deploy" / "kafka"
HEAP = "-Xmx768m"


class KafkaBroker:
    def __init__(
        self,
        settings: Settings,
        node: int = 1,
        brokers: int = 1,
        stack_ports: StackPorts | None = None,
    ) -> None:
        self.settings = settings = absolute(settings)
        self.stack_ports = stack_ports or load_ports()
        self.node, self.brokers = node, brokers
        self.name = "kafka" if node == 1 else f"kafka-{node}"
        self.home = settings.state_dir / self.name
        self.libs = settings.state_dir / "kafka" / "libs"
        self.data = self.home / "data"
        self.config = self.home / "server.properties"
        self.port = node_port(settings.kafka_port, node)
        self.controller_port = node_port(self.stack_ports.kafka_controller_port, node)
        self.process = ManagedProcess(
            name=self.name,
            run_dir=settings.state_dir / "run",
            log_file=self.home / "logs" / "stdout.log",
            marker=str(self.config),
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ports(self) -> dict[int, str]:
        of = f" of node {self.node}" if self.brokers > 1 else ""
        return {
            self.port: f"Kafka client listener{of}",
            self.controller_port: f"KRaft controller{of}",
        }

    def up(self, progress: Progress, timeout: float = 90) -> str:
        """Start the broker unless it runs; ``timeout``: how long it may take to answer (after
        an unclean stop it first recovers every partition's log)."""
        if self.process.pid() is not None:
            self.add_missing_users(progress)
            return f"already running (pid {self.process.pid()})"
        ensure_ports_free(
            "Kafka",
            self.ports,
            "SENTINEL_KAFKA_BOOTSTRAP=127.0.0.1:<port> and "
            "SENTINEL_STACK_KAFKA_CONTROLLER_PORT=<port>",
        )
        if self.node == 1:
            self._resolve_jars(progress)
        self._render_config()
        self._format_storage(progress)
        if self.settings.kafka_security == "plaintext":
            progress(
                "WARNING: Kafka in PLAINTEXT (SENTINEL_KAFKA_SECURITY=plaintext): no "
                "authentication, no encryption, anyone who reaches the port reads ID numbers"
            )
        of = f" (node {self.node} of {self.brokers})" if self.brokers > 1 else ""
        progress(f"starting the Kafka broker{of}")
        self.process.start(
            [
                java(),
                HEAP,
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dkafka.logs.dir={self.home / 'logs'}",
                f"-Dlog4j.configuration=file:{DEPLOY / 'log4j.properties'}",
                "-cp",
                f"{self.libs}/*",
                "kafka.Kafka",
                str(self.config),
            ]
        )
        if self.brokers == 1:  # a quorum's first node answers once a majority runs: Stack waits
            self.wait_answering(timeout)
            self.add_missing_users(progress)
        return f"started (pid {self.process.pid()}) on {self.address}"

    def wait_answering(self, timeout: float) -> None:
        wait_until(
            self.answers_metadata,
            what=f"Kafka on {self.address}",
            timeout=timeout,
            process=self.process,
        )

    def down(self) -> bool:
        return self.process.stop(timeout=45)

    def status(self) -> str:
        pid = self.process.pid()
        if pid is None:
            return "stopped"
        state = "answering" if self.answers_metadata() else "NOT answering"
        role = f"broker+controller, node {self.node} of {self.brokers}"
        return f"running (pid {pid}) on {self.address} ({role}), {state}; logs {self.home}/logs"

    def answers_metadata(self) -> bool:
        """True when the broker answers a metadata request (and so can serve clients)."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        if not port_open(self.port):
            return False  # cheap, and spares kafka-python a failed connection
        try:
            options = access.kafka_python(access.as_user(self.settings, "admin"))
            admin = KafkaAdminClient(
                **(options | {"bootstrap_servers": self.address}), request_timeout_ms=3000
            )
        except (KafkaError, OSError, ValueError, ConfigError):  # ConfigError: no stack secrets
            return False
        try:
            admin.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()

    def _resolve_jars(self, progress: Progress) -> None:
        pom = DEPLOY / "pom.xml"
        stamp = self.libs / ".resolved-from"
        if stamp.exists() and stamp.read_text() == pom.read_text():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError("Maven (mvn) is not on PATH; install it: apt-get install -y maven")
        progress(f"resolving Kafka jars with Maven from {pom} (once; cached in {self.libs})")
        if self.libs.exists():
            shutil.rmtree(self.libs)
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(
                f"Maven could not resolve the Kafka jars (exit {result.returncode}). "
                "Check that Maven Central is reachable.\n"
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
        stamp.write_text(pom.read_text())

    def _render_config(self) -> None:
        voters = ",".join(
            f"{n}@127.0.0.1:{node_port(self.stack_ports.kafka_controller_port, n)}"
            for n in range(1, self.brokers + 1)
        )
        internal = min(self.brokers, 3)  # copies of the offsets and transaction state topics
        values = {
            "node": self.node,
            "voters": voters,
            "port": self.port,
            "controller_port": self.controller_port,
            "data_dir": self.data,
            "internal_replicas": internal,
            "internal_min_isr": min(self.settings.min_insync_replicas, internal),
            "replication_factor": self.settings.replication_factor,
            "min_insync_replicas": self.settings.min_insync_replicas,
        }
        if self.settings.kafka_security == "sasl_ssl":
            values["admin_password"] = passwords(self.settings)["admin"]
            values["tls_dir"] = certificates(self.settings)
        security = DEPLOY / f"security-{self.settings.kafka_security}.properties"
        values["security"] = Template(security.read_text()).substitute(values)
        template = Template((DEPLOY / "server.properties").read_text())
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.touch(mode=0o600)
        self.config.chmod(0o600)
        self.config.write_text(template.substitute(values))

    def _format_storage(self, progress: Progress) -> None:
        users = self.data / ".scram-users"  # the storage was formatted with them
        if (self.data / "meta.properties").exists():
            if self.settings.kafka_security == "sasl_ssl" and not users.exists():
                raise StackError(
                    f"the Kafka storage in {self.data} was made without users (before the "
                    "broker was secured): remove it (`sentinel stack down && rm -rf "
                    f"{self.data}`; its topics go with it), or set "
                    "SENTINEL_KAFKA_SECURITY=plaintext"
                )
            return
        progress(f"formatting KRaft storage in {self.data} (once)")
        scram = []
        if self.settings.kafka_security == "sasl_ssl":
            for user, secret in passwords(self.settings).items():
                scram += ["--add-scram", f"{access.MECHANISM}=[name={user},password={secret}]"]
        result = subprocess.run(
            [
                java(),
                "-cp",
                f"{self.libs}/*",
                f"-Dlog4j.configuration=file:{DEPLOY / 'log4j.properties'}",
                f"-Dkafka.logs.dir={self.home / 'logs'}",
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={self._cluster_id()}",
                "-c",
                str(self.config),
                *scram,
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")
        if scram:
            users.write_text(" ".join(passwords(self.settings)))

    def _cluster_id(self) -> str:
        """One id for every node of the quorum, made once: ``<state_dir>/kafka/cluster-id``."""
        path = self.settings.state_dir / "kafka" / "cluster-id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id())
        return path.read_text().strip()

    def add_missing_users(self, progress: Progress) -> None:
        """Users added to the project after this stack's storage was formatted (the storage
        tool makes users only then): made on the running broker, by the admin."""
        users = self.data / ".scram-users"
        if self.node != 1 or self.settings.kafka_security != "sasl_ssl" or not users.exists():
            return  # users are the quorum's metadata: node 1's file says which it was made with
        have = users.read_text().split()
        missing = {u: p for u, p in passwords(self.settings).items() if u not in have}
        if not missing:
            return
        progress(f"adding Kafka users {', '.join(missing)} (this stack was made before them)")
        for user, secret in missing.items():
            self.alter_user(user, secret)
            have.append(user)
            users.write_text(" ".join(have))

    def alter_user(self, user: str, password: str | None) -> None:
        """Give ``user`` this SCRAM password on the running broker, or take its password away
        (None), as the admin. The password goes to the JVM in an argument file (mode 0600),
        never on a command line."""
        client = self.home / "admin-client.properties"
        arguments = self.home / "alter-user.args"
        for path in (client, arguments):
            path.touch(mode=0o600)
            path.chmod(0o600)
        client.write_text(
            "security.protocol=SASL_SSL\n"
            f"sasl.mechanism={access.MECHANISM}\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="admin" password="{passwords(self.settings)["admin"]}";\n'
            "ssl.truststore.type=PEM\n"
            f"ssl.truststore.location={access.ca_file(self.settings)}\n"
        )
        change = (
            f"--delete-config {access.MECHANISM}"
            if password is None
            else f"--add-config {access.MECHANISM}=[password={password}]"
        )
        # The launcher reads @files only before the main class: it and its arguments go in.
        arguments.write_text(
            f"kafka.admin.ConfigCommand --bootstrap-server {self.settings.kafka_bootstrap}"
            f' --command-config "{client}" --alter --entity-type users --entity-name {user}'
            f" {change}\n"
        )
        try:
            result = subprocess.run(
                [
                    java(),
                    "-cp",
                    f"{self.libs}/*",
                    f"-Dlog4j.configuration=file:{DEPLOY / 'log4j.properties'}",
                    f"@{arguments}",
                ],
                capture_output=True,
                text=True,
            )
        finally:
            arguments.unlink(missing_ok=True)
        if result.returncode != 0:
            said = (result.stdout + result.stderr)[-1000:].strip()
            if password:
                said = said.replace(password, "***")
            raise StackError(
                f"could not change Kafka user {user}: {said}; or remove the storage to make "
                f"every user anew (`sentinel stack down && rm -rf {self.data}`; its topics go "
                "with it)"
            )


def new_cluster_id() -> str:
    """A random KRaft cluster id, as Kafka makes them: a UUID in URL-safe base64, never starting
    with "-" (a fresh clone's first `make test` once failed on one that did: the storage tool
    took it for an option)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def java() -> str:
    path = shutil.which("java")
    if path is None:
        raise StackError("java is not on PATH; install a JDK 17: apt-get install -y openjdk-17-jre")
    return path

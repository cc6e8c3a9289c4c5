"""docker-compose.yml is not run here (no Docker engine): check that what it names exists and
agrees with the code, so that it does not rot unseen."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from streams.cli import build_parser
from streams.settings import load_settings
from workbench import REPO_ROOT
from workbench.cli import all_commands

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
OUR_IMAGE = "gate-sentinel:dev"


def our_services() -> list[str]:
    return [name for name, svc in SERVICES.items() if svc.get("image") == OUR_IMAGE]


# ClickHouse users of the compose server beside its admin -> the variable holding each password.
USERS = dict(
    re.findall(
        r"<(\w+)>\s*<password from_env=\"(\w+)\"",
        (REPO_ROOT / "deploy/docker/clickhouse-users.xml").read_text(),
    )
)
WORKERS = ["worker-1", "worker-2"]
ONE_SHOT = {"init", "migrate", "simulator"}


def test_the_full_stack_is_there() -> None:
    assert {
        "kafka",
        "clickhouse",
        *WORKERS,
        "simulator",
        "prometheus",
        "alertmanager",
        "grafana",
    } <= set(SERVICES)
    assert set(WORKERS) | {"simulator"} <= set(our_services())


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name: str) -> None:
    image = SERVICES[name]["image"]
    assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image} to a version"


@pytest.mark.parametrize("name", sorted(set(SERVICES) - ONE_SHOT))
def test_long_running_services_have_healthchecks(name: str) -> None:
    assert SERVICES[name]["healthcheck"]["test"]


def service_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "//" in url else f"//{url}")
    assert parts.hostname and parts.port, url
    return parts.hostname, parts.port


def test_prometheus_scrapes_every_worker_where_it_serves_metrics() -> None:
    config = yaml.safe_load((REPO_ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "sentinel-workers"]
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    expected = set()
    for name in WORKERS:
        settings = load_settings({k: str(v) for k, v in SERVICES[name]["environment"].items()})
        assert settings.http_host == "0.0.0.0"  # reachable from Prometheus' container
        expected.add(f"{name}:{settings.http_port}")
        assert str(settings.http_port) in SERVICES[name]["healthcheck"]["test"][-1]
        assert any(p.endswith(f":{settings.http_port}") for p in SERVICES[name]["ports"])
    assert targets == expected
    (alerting,) = config["alerting"]["alertmanagers"]
    assert alerting["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_workers_page_the_alertmanager_service() -> None:
    for name in WORKERS:
        settings = load_settings({k: str(v) for k, v in SERVICES[name]["environment"].items()})
        assert service_port(settings.alertmanager_url) == ("alertmanager", 9093)
    assert any(p.endswith(":9093") for p in SERVICES["alertmanager"]["ports"])


def test_alertmanager_webhooks_reach_the_example_receiver() -> None:
    config = yaml.safe_load((REPO_ROOT / "deploy/alertmanager/alertmanager.yml").read_text())
    port = int(SERVICES["webhook"]["environment"]["HTTP_PORT"])
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            assert service_port(hook["url"]) == ("webhook", port), hook["url"]


def test_grafana_datasources_point_at_the_services() -> None:
    provisioning = REPO_ROOT / "dashboards/provisioning/datasources/datasources.yml"
    sources = {d["type"]: d for d in yaml.safe_load(provisioning.read_text())["datasources"]}
    clickhouse = sources["grafana-clickhouse-datasource"]["jsonData"]
    assert (clickhouse["host"], clickhouse["port"]) == ("clickhouse", 9000)
    assert clickhouse["username"] == "analyst"
    # Grafana reads the password from its environment, which has it from .env, as ClickHouse's.
    password = sources["grafana-clickhouse-datasource"]["secureJsonData"]["password"]
    assert password == "$CLICKHOUSE_ANALYST_PASSWORD"
    assert USERS["analyst"] == "CLICKHOUSE_ANALYST_PASSWORD"
    grafana, server = SERVICES["grafana"]["environment"], SERVICES["clickhouse"]["environment"]
    assert grafana["CLICKHOUSE_ANALYST_PASSWORD"] == server["CLICKHOUSE_ANALYST_PASSWORD"]
    assert service_port(sources["prometheus"]["url"]) == ("prometheus", 9090)
    mounts = [v.split(":")[1] for v in SERVICES["grafana"]["volumes"]]
    provider = yaml.safe_load(
        (REPO_ROOT / "dashboards/provisioning/dashboards/dashboards.yml").read_text()
    )["providers"][0]
    assert provider["options"]["path"] in mounts and "/etc/grafana/provisioning" in mounts


def test_build_context_and_dockerfile_exist() -> None:
    builds = [svc["build"] for svc in SERVICES.values() if "build" in svc]
    assert builds, "one service builds our image"
    for build in builds:
        dockerfile = REPO_ROOT / build["context"] / build["dockerfile"]
        assert dockerfile.is_file()
        for source in re.findall(r"^COPY\s+(.+?)\s+\S+$", dockerfile.read_text(), re.M):
            for path in source.split():
                assert (REPO_ROOT / build["context"] / path).exists(), f"COPY {path} is missing"


def test_host_mounts_exist_in_the_repo() -> None:
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes", []):
            # ${VAR:-default}: the default, which a park may replace in .env
            source = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", volume).split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in COMPOSE["volumes"], f"{name}: undeclared volume {source}"


@pytest.mark.parametrize("name", our_services())
def test_our_services_run_real_commands_with_valid_settings(name: str) -> None:
    service = SERVICES[name]
    environment = {k: str(v) for k, v in service["environment"].items()}
    settings = load_settings(environment)  # raises on unknown or invalid SENTINEL_* variables
    build_parser(all_commands()).parse_args(service["command"])  # exits on an unknown command
    assert settings.kafka_bootstrap == "kafka:9092"
    # The pseudonym key comes from .env, never written in the file (compose refuses without it).
    key = settings.pseudonym_key.get_secret_value()
    assert key.startswith("${SENTINEL_PSEUDONYM_KEY:?"), key


def test_the_workers_reach_kafka_and_clickhouse_where_they_listen() -> None:
    settings = load_settings({k: str(v) for k, v in SERVICES["worker-1"]["environment"].items()})
    kafka_env = SERVICES["kafka"]["environment"]
    assert f"PLAINTEXT://{settings.kafka_bootstrap}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    url = urlsplit(settings.clickhouse_url)
    assert url.hostname == "clickhouse" and url.port == 9000
    assert url.password is None  # from .env, as SENTINEL_CLICKHOUSE_PASSWORD
    server = SERVICES["clickhouse"]["environment"]
    given = settings.clickhouse_password.get_secret_value()
    assert url.username == "worker" and given == server[USERS["worker"]]
    migrate = load_settings({k: str(v) for k, v in SERVICES["migrate"]["environment"].items()})
    assert migrate.clickhouse_admin_user == server["CLICKHOUSE_USER"]
    assert migrate.clickhouse_admin_password.get_secret_value() == server["CLICKHOUSE_PASSWORD"]


def test_no_secret_is_written_in_the_compose_file() -> None:
    secret = re.compile(r"PASSWORD|_KEY$|TOKEN")
    found = 0
    for name, service in SERVICES.items():
        for variable, value in (service.get("environment") or {}).items():
            if secret.search(variable):
                found += 1
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), (name, variable)
    assert found >= 8


def test_kafka_image_matches_the_local_broker_version() -> None:
    pom = (Path(REPO_ROOT) / "deploy" / "kafka" / "pom.xml").read_text()
    version = re.search(r"<kafka.version>(.+?)</kafka.version>", pom)
    assert version is not None
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{version.group(1)}"


def test_the_readmes_env_command_makes_every_secret_compose_asks_for() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    command = re.search(r"^(python3 -c .+) > \.env$", readme, re.M)
    assert command is not None, "README.md tells how to make .env"
    made = subprocess.run(command.group(1), shell=True, capture_output=True, text=True, check=True)
    values = dict(line.split("=", 1) for line in made.stdout.splitlines())
    asked = set(re.findall(r"\$\{(\w+):\?", (REPO_ROOT / "docker-compose.yml").read_text()))
    assert set(values) == asked
    assert len(set(values.values())) == len(values) and min(map(len, values.values())) >= 32


def test_the_readmes_host_commands_reach_what_compose_publishes() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    exported = dict(re.findall(r"(SENTINEL_\w+)=(\S+)", readme.split("## Docker", 1)[1]))
    host, port = exported["SENTINEL_KAFKA_BOOTSTRAP"].split(":")
    kafka = SERVICES["kafka"]
    assert f"{host}:{port}:{port}" in kafka["ports"]
    advertised = kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    (listener,) = [a for a in advertised if a.endswith(f"//{host}:{port}")]
    name = listener.split(":", 1)[0]
    assert f":{port}" in kafka["environment"]["KAFKA_LISTENERS"]
    assert f"{name}:PLAINTEXT" in kafka["environment"]["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert exported["SENTINEL_KAFKA_SECURITY"] == "plaintext"
    assert "127.0.0.1:9000:9000" in SERVICES["clickhouse"]["ports"]
    assert exported["SENTINEL_CLICKHOUSE_PASSWORD"] == '"$CLICKHOUSE_WORKER_PASSWORD"'
    assert "CLICKHOUSE_WORKER_PASSWORD" in USERS.values()

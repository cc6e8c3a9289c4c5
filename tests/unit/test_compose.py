"""docker-compose.yml is not run here (no Docker engine): check that what it names exists and
agrees with the code, so that it does not rot unseen."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from streams.cli import build_parser
from streams.settings import REPO_ROOT, load_settings

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
OUR_IMAGE = "gate-sentinel:dev"


def our_services() -> list[str]:
    return [name for name, svc in SERVICES.items() if svc.get("image") == OUR_IMAGE]


def test_the_stack_has_kafka_clickhouse_and_a_worker() -> None:
    assert {"kafka", "clickhouse", "worker"} <= set(SERVICES)
    assert "worker" in our_services()


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name: str) -> None:
    image = SERVICES[name]["image"]
    assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image} to a version"


@pytest.mark.parametrize("name", ["kafka", "clickhouse"])
def test_services_have_healthchecks(name: str) -> None:
    assert SERVICES[name]["healthcheck"]["test"]


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
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in COMPOSE["volumes"], f"{name}: undeclared volume {source}"


@pytest.mark.parametrize("name", our_services())
def test_our_services_run_real_commands_with_valid_settings(name: str) -> None:
    service = SERVICES[name]
    environment = {k: str(v) for k, v in service["environment"].items()}
    settings = load_settings(environment)  # raises on unknown or invalid SENTINEL_* variables
    build_parser().parse_args(service["command"])  # exits on an unknown command
    assert settings.kafka_bootstrap == "kafka:9092"


def test_the_workers_reach_kafka_and_clickhouse_where_they_listen() -> None:
    settings = load_settings({k: str(v) for k, v in SERVICES["worker"]["environment"].items()})
    kafka_env = SERVICES["kafka"]["environment"]
    assert f"PLAINTEXT://{settings.kafka_bootstrap}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    url = urlsplit(settings.clickhouse_url)
    assert url.hostname == "clickhouse" and url.port == 9000
    clickhouse_env = SERVICES["clickhouse"]["environment"]
    assert (url.username, url.password) == (
        clickhouse_env["CLICKHOUSE_USER"],
        clickhouse_env["CLICKHOUSE_PASSWORD"],
    )


def test_kafka_image_matches_the_local_broker_version() -> None:
    pom = (Path(REPO_ROOT) / "deploy" / "kafka" / "pom.xml").read_text()
    version = re.search(r"<kafka.version>(.+?)</kafka.version>", pom)
    assert version is not None
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{version.group(1)}"

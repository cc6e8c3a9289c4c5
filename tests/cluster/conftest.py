"""Fixtures for the cluster tests (`make test-cluster`): the stack that `sentinel stack up
--brokers 3 --clickhouse-replicas 2` started with deploy/local-cluster.env's settings. With
CI=true a cluster that is not there fails the run; elsewhere it skips with the command to run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams import access
from streams.settings import Settings, load_settings
from tests.integration.helpers import isolated
from tests.integration.test_clickhouse_story import scenario  # noqa: F401 - the 2022 story
from workbench.stack import Stack

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster() -> Stack:
    stack = Stack(access.as_user(load_settings(), "admin"))
    shape = stack.topology
    down = [b.name for b in stack.brokers if not b.answers_metadata()]
    down += [r.name for r in stack.replicas if not r.answers_select()]
    if shape.brokers < 3 or shape.clickhouse_replicas < 2 or down:
        message = (
            f"no whole cluster in {stack.settings.state_dir} ({shape.brokers} brokers, "
            f"{shape.clickhouse_replicas} ClickHouse replicas, not answering: {down or 'none'}); "
            "start it with `make test-cluster`"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)
    return stack


@pytest.fixture
def fresh(cluster: Stack) -> Iterator[Settings]:
    """Settings isolated to this one test on the cluster: own topics, group and database."""
    with isolated(cluster.settings) as settings:
        yield settings

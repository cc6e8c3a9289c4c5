"""Fixtures for tests against the real Kafka broker and ClickHouse server.

`make test` starts them (`sentinel stack up`). Each session gets its own topic prefix, consumer
group and ClickHouse database, so runs never see each other's data. With CI=true a missing
service fails the run; on a developer's machine it skips with the command to run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from streams import access
from streams.settings import Settings, load_settings
from tests.integration.helpers import Worker, isolated, running_worker
from workbench.stack.clickhouse import ClickHouseServer
from workbench.stack.kafka import KafkaBroker

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    """The settings of the stack that `sentinel stack up` started, as its admin user (the tests
    play gates and labs, and make topics; workers and operators' commands run as the worker)."""
    return access.as_user(load_settings(), "admin")


@pytest.fixture(scope="session")
def services(stack_settings: Settings) -> None:
    missing = []
    if not KafkaBroker(stack_settings).answers_metadata():
        missing.append(f"Kafka at {stack_settings.kafka_bootstrap}")
    if not ClickHouseServer(stack_settings).answers_select():
        missing.append(f"ClickHouse at 127.0.0.1:{stack_settings.clickhouse_port}")
    if missing:
        message = f"{' and '.join(missing)} not answering; start them with `sentinel stack up`"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def settings(stack_settings: Settings, services: None) -> Iterator[Settings]:
    """Settings isolated to this test module: own topics, consumer group and database."""
    with isolated(stack_settings) as settings:
        yield settings


@pytest.fixture
def fresh(stack_settings: Settings, services: None) -> Iterator[Settings]:
    """Settings isolated to this one test."""
    with isolated(stack_settings) as settings:
        yield settings


@pytest.fixture(scope="module")
def worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A real `sentinel worker` process on this module's topics."""
    with running_worker(settings, tmp_path_factory.mktemp("worker")) as worker:
        yield worker


@pytest.fixture
def chromium() -> Iterator[webdriver.Chrome]:
    """Debian's headless Chromium, driven by Selenium, for the gate board's browser tests."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert browser and driver, "chromium and chromedriver are missing; `make deps` installs them"
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()

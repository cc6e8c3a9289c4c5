"""`sentinel stack`: restart keeps data; up is idempotent; a taken port is named with its owner."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from pathlib import Path

import pytest

from streams.settings import Settings, load_settings
from tests.integration.helpers import produce, query, read_all
from workbench.stack import Stack, StackError
from workbench.stack.clickhouse import ClickHouseServer
from workbench.stack.kafka import KafkaBroker
from workbench.stack.ports import StackPorts


def test_restart_keeps_kafka_data_and_clickhouse_rows(
    stack_settings: Settings, settings: Settings
) -> None:
    marker = uuid.uuid4().hex.encode()
    produce(settings, "gate.exits", [(b"plate", marker)])
    query(
        settings,
        "INSERT INTO decisions (decision_id, entry_id, revision, park, gate, plate, outcome, "
        "failed_rules, ruleset_version, event_time, event_date) "
        "SELECT 'restart:0', 'restart', 0, 'p', 'g', 'x', 'hold', ['nat_48h'], 'v', now(), today()",
    )

    stack = Stack(stack_settings)
    # A worker the stack started (the demo's, `make demo`) rides through the tests' restart.
    demo = stack.worker("worker-of-the-demo")
    demo.start([sys.executable, "-c", "import time; time.sleep(900)", "streams.cli"])
    try:
        stopped = stack.down(workers=False)
        assert stopped["kafka"] == "stopped" and stopped["clickhouse"] == "stopped"
        assert demo.pid() is not None, "the tests stopped the demo's worker"
    finally:
        demo.stop()
    assert stack.status()["kafka"] == "stopped"
    assert not KafkaBroker(stack_settings).answers_metadata()

    started = stack.up(progress=lambda _: None)
    assert started["kafka"].startswith("started") and started["clickhouse"].startswith("started")
    again = stack.up(progress=lambda _: None)
    assert again["kafka"].startswith("already running")
    assert again["clickhouse"].startswith("already running")
    # The tests name the state directory relatively, the `sentinel` command absolutely: both
    # must see the same processes (the command once took them for strangers and lost them).
    state = stack_settings.state_dir.resolve()
    for view in (Path(os.path.relpath(state)), state):
        seen = Stack(stack_settings.model_copy(update={"state_dir": view})).status()
        assert seen["kafka"].startswith("running") and seen["clickhouse"].startswith("running")

    assert marker in [r.value for r in read_all(settings, "gate.exits")]
    assert query(settings, "SELECT outcome FROM decisions WHERE entry_id = 'restart'") == [
        ("hold",)
    ]


@pytest.fixture
def taken_port() -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock, sock.getsockname()[1]
    sock.close()


def test_a_taken_kafka_port_names_the_port_and_its_process(
    tmp_path: Path, taken_port: tuple[socket.socket, int]
) -> None:
    _, port = taken_port
    settings = load_settings(
        {"SENTINEL_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}", "SENTINEL_STATE_DIR": str(tmp_path)}
    )
    with pytest.raises(StackError) as caught:
        KafkaBroker(settings).up(progress=lambda _: None)
    message = str(caught.value)
    assert f"port {port} (Kafka client listener) is already taken by pid {os.getpid()}" in message
    assert "SENTINEL_KAFKA_BOOTSTRAP" in message
    assert not (tmp_path / "kafka" / "data").exists(), "nothing was started or formatted"


def test_a_taken_clickhouse_port_names_the_port_and_its_process(
    tmp_path: Path, taken_port: tuple[socket.socket, int]
) -> None:
    _, port = taken_port
    settings = load_settings(
        {
            "SENTINEL_STATE_DIR": str(tmp_path),
            "SENTINEL_CLICKHOUSE_URL": "clickhouse://default@127.0.0.1:1/sentinel",
        }
    )
    with pytest.raises(
        StackError, match=f"port {port} \\(ClickHouse HTTP\\) is already taken by pid"
    ):
        ClickHouseServer(settings, stack_ports=StackPorts(clickhouse_http_port=port)).up(
            progress=lambda _: None
        )

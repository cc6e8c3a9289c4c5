"""Paging through the real Alertmanager (Debian's 0.25) with the repository's routing, to a local
webhook receiver that records every notification: a positive antigen pages within 10 s of its
event time, exactly once, even after sentinel.alerts is replayed."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from streams.settings import Settings
from streams.simulator.playback import envelope, key_for
from tests.integration import story
from tests.integration.helpers import (
    Worker,
    consume_all,
    group_lag_of,
    produce,
    running_worker,
)

CONFIG = Path(__file__).parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Webhook:
    """Records every notification Alertmanager posts, with the time it arrived."""

    def __init__(self) -> None:
        self.pages: list[tuple[float, str, dict[str, Any]]] = []
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                pages.append((time.time(), self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def pages_for(self, dedup_key: str) -> list[tuple[float, str]]:
        return [
            (at, path)
            for at, path, body in self.pages
            for alert in body["alerts"]
            if alert["labels"].get("dedup_key") == dedup_key
        ]


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


@pytest.fixture(scope="module")
def alertmanager(webhook: Webhook, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's Alertmanager with deploy/alertmanager/alertmanager.yml, its example webhooks
    pointed at the recorder. The critical route's group_interval is cut from 1m to 3s, so that a
    duplicate notification, if there were one, would show within seconds."""
    binary = shutil.which("prometheus-alertmanager")
    assert binary, "prometheus-alertmanager is missing; `make deps` installs it"
    directory = tmp_path_factory.mktemp("alertmanager")
    config = CONFIG.read_text().replace("http://webhook:9099", webhook.url)
    config = config.replace("group_interval: 1m", "group_interval: 3s")
    (directory / "alertmanager.yml").write_text(config)
    port = free_port()
    log = (directory / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={directory / 'alertmanager.yml'}",
         f"--storage.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, (directory / "alertmanager.log").read_text()
                assert process.poll() is None, (directory / "alertmanager.log").read_text()
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def paging_worker(
    settings: Settings, alertmanager: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    with running_worker(
        settings, tmp_path_factory.mktemp("worker"), alertmanager_url=alertmanager
    ) as worker:
        yield worker


def send(settings: Settings, topic: str, event: Any) -> None:
    record = envelope(topic, event)
    produce(settings, topic, [(key_for(record), json.dumps(record["value"]).encode())])


def test_a_positive_pages_within_10s_once_even_after_a_replay(
    settings: Settings, webhook: Webhook, paging_worker: Worker
) -> None:
    (who,) = story.people(1)
    tested = datetime.now(UTC)
    send(settings, *story.antigen("ag-live-positive", who, tested, result="positive"))
    key = "positive:ag-live-positive"
    deadline = time.monotonic() + 30
    while not webhook.pages_for(key) and time.monotonic() < deadline:
        time.sleep(0.1)
    pages = webhook.pages_for(key)
    assert pages, f"no page for {key}; worker log:\n{paging_worker.log()[-3000:]}"
    arrived, path = pages[0]
    latency = arrived - tested.timestamp()
    print(f"\npositive antigen -> webhook {path}: {latency:.2f} s after its event time")
    assert latency <= 10
    assert path == "/tangu-duty"  # critical, park tangu-green-bay

    # Replay the alerts topic: every alert is posted to Alertmanager again.
    alerts = consume_all(settings, "sentinel.alerts", until=1)
    produce(settings, "sentinel.alerts", [(r.key, r.value) for r in alerts])
    deadline = time.monotonic() + 60
    while group_lag_of(settings, "sentinel.alerts") > 0:
        assert time.monotonic() < deadline, "the dispatcher did not take the replayed alerts"
        time.sleep(0.3)
    time.sleep(8)  # more than two group intervals of the critical route (3 s in this test)
    assert len(webhook.pages_for(key)) == 1, webhook.pages


def test_old_alerts_are_not_paged(
    settings: Settings, webhook: Webhook, paging_worker: Worker
) -> None:
    (who,) = story.people(1)
    long_ago = datetime(2022, 4, 14, 2, 0, tzinfo=UTC)
    send(settings, *story.antigen("ag-2022-positive", who, long_ago, result="positive"))
    deadline = time.monotonic() + 60
    while "not paging 1 alerts older than" not in paging_worker.log():
        assert time.monotonic() < deadline, "the old alert did not reach the dispatcher"
        time.sleep(0.3)
    time.sleep(4)
    assert webhook.pages_for("positive:ag-2022-positive") == []


def test_metrics_count_the_alert_and_the_page_on_loopback(paging_worker: Worker) -> None:
    url = paging_worker.board_url()
    assert url.startswith("http://127.0.0.1:")  # loopback unless SENTINEL_HTTP_HOST says otherwise
    with urllib.request.urlopen(f"{url}metrics", timeout=5) as response:
        text = response.read().decode()
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(samples['sentinel_alerts_total{rule="no_positive",severity="critical"}']) >= 1
    assert float(samples['sentinel_pages_total{severity="critical"}']) >= 1
    assert float(samples['sentinel_events_in_total{topic="health.antigen"}']) >= 2

"""Paging through the real Alertmanager (Debian's 0.25) with the repository's routing, to a local
webhook receiver that records every notification: a positive antigen pages within 10 s of its
event time, exactly once, even after sentinel.alerts is replayed."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from schemas import Alert, DeadLetter, GateHeartbeat, RawNatReport
from schemas.resolution import Resolution
from streams import access
from streams.jsonl import envelope, key_for
from streams.progress import wait_while_moving
from streams.settings import Settings
from tests.integration import story
from tests.integration.helpers import (
    STALL,
    Tail,
    Worker,
    drained,
    off_screen,
    on_screen,
    poll_query,
    produce,
    read_all,
    running_worker,
)

CONFIG = Path(__file__).parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Webhook:
    """Records every notification Alertmanager posts, with the time it arrived: the webhooks',
    and the WeChat Work API's (its token asked, its messages posted) under /wechat/."""

    def __init__(self) -> None:
        self.pages: list[tuple[float, str, dict[str, Any]]] = []
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - WeChat's gettoken
                self._answer({"errcode": 0, "access_token": "token", "expires_in": 7200})

            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                pages.append((time.time(), self.path, json.loads(body)))
                self._answer({"errcode": 0, "errmsg": "ok"})

            def _answer(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def pages_for(
        self, dedup_key: str, *, prefix: bool = False, status: str = "firing"
    ) -> list[tuple[float, str]]:
        """The webhook notifications of the alert (``status``: firing, or resolved)."""
        return [
            (at, path)
            for at, path, body in self.pages
            for alert in body.get("alerts", [])
            if alert["status"] == status
            and (
                (key := alert["labels"].get("dedup_key", "")) == dedup_key
                or (prefix and key.startswith(dedup_key))
            )
        ]

    def wechat(self, containing: str) -> list[dict[str, Any]]:
        """The WeChat Work messages whose text contains ``containing``."""
        return [
            body
            for _, path, body in self.pages
            if path.startswith("/wechat/message/send") and containing in body["text"]["content"]
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
    config = config.replace("https://qyapi.weixin.qq.com/cgi-bin/", f"{webhook.url}/wechat/")
    config = config.replace("group_interval: 1m", "group_interval: 3s")
    config = config.replace("group_interval: 5m", "group_interval: 3s")
    config = config.replace("group_wait: 30s", "group_wait: 1s")
    (directory / "alertmanager.yml").write_text(config)
    shutil.copytree(CONFIG.parent / "templates", directory / "templates")
    port = free_port()
    log = (directory / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={directory / 'alertmanager.yml'}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
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
    with running_worker(  # the jinshan park's: its pages in Chinese
        settings, tmp_path_factory.mktemp("worker"), alertmanager_url=alertmanager, language="zh"
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
    pages = wait_while_moving(
        lambda: webhook.pages_for(key),
        paging_worker.signs,
        what=f"a page for {key}",
        stall=STALL,
        interval=0.1,
    )
    arrived, path = pages[0]
    latency = arrived - tested.timestamp()
    print(f"\npositive antigen -> webhook {path}: {latency:.2f} s after its event time")
    assert latency <= 10
    assert path == "/duty"  # critical
    # and in WeChat Work, to the park's duty department, in Chinese (templates/sentinel.tmpl
    # lays out the words the dispatcher took from the catalogue)
    (message,) = wait_while_moving(
        lambda: webhook.wechat("抗原阳性"),
        paging_worker.signs,
        what="the WeChat message",
        stall=STALL,
        interval=0.1,
    )
    assert message["toparty"] == "2"
    headline, line = message["text"]["content"].splitlines()[:2]
    assert headline == "【紧急】检测阳性，园区 tangu-green-bay"
    assert "车上人员抗原阳性" in line and "立即隔离" in line

    # Replay the alerts topic: every alert is posted to Alertmanager again.
    alerts = read_all(settings, "sentinel.alerts")
    produce(settings, "sentinel.alerts", [(r.key, r.value) for r in alerts])
    drained(settings, "sentinel.alerts")
    # And the input again, as a station resends it: the engine must not raise it anew under
    # another dedup key, which Alertmanager's grouping would page as a new alert.
    send(settings, *story.antigen("ag-live-positive", who, tested, result="positive"))
    drained(settings, "health.antigen", "sentinel.alerts")
    keys = [
        json.loads(r.value)["dedup_key"]
        for r in read_all(settings, "sentinel.alerts")
        if "ag-live-positive" in json.loads(r.value)["dedup_key"]
    ]
    assert set(keys) == {key}, keys  # one alert, however often it was sent
    time.sleep(8)  # more than two group intervals of the critical route (3 s in this test)
    paged = [
        k
        for _, _, body in webhook.pages
        for a in body.get("alerts", [])
        if "ag-live-positive" in (k := a["labels"].get("dedup_key", ""))
    ]
    assert paged == [key], webhook.pages


def test_old_alerts_are_not_paged(
    settings: Settings, webhook: Webhook, paging_worker: Worker
) -> None:
    (who,) = story.people(1)
    long_ago = datetime(2022, 4, 14, 2, 0, tzinfo=UTC)
    send(settings, *story.antigen("ag-2022-positive", who, long_ago, result="positive"))
    wait_while_moving(
        lambda: "not paging 1 alerts learnt more than" in paging_worker.log(),
        paging_worker.signs,
        what="the old alert at the dispatcher",
        stall=STALL,
        interval=0.3,
    )
    time.sleep(4)  # two of Alertmanager's group intervals (3 s here): a page would show
    assert webhook.pages_for("positive:ag-2022-positive") == []


def page_of(webhook: Webhook, worker: Worker, key: str) -> tuple[float, str]:
    pages = wait_while_moving(
        lambda: webhook.pages_for(key),
        worker.signs,
        what=f"a page for {key}",
        stall=STALL,
        interval=0.1,
    )
    return pages[0]


def alerts_of(webhook: Webhook, key: str) -> list[dict[str, Any]]:
    """The alerts with this dedup key in the notifications received, firing, once each."""
    found = {
        json.dumps(alert, sort_keys=True): alert
        for _, _, body in webhook.pages
        for alert in body.get("alerts", [])
        if alert["status"] == "firing" and alert["labels"].get("dedup_key") == key
    }
    return list(found.values())


def test_a_lab_positive_reported_30_hours_after_its_sample_pages_at_once(
    settings: Settings, webhook: Webhook, paging_worker: Worker
) -> None:
    (who,) = story.people(1)
    reported = datetime.now(UTC)
    nat = RawNatReport(
        event_id="nat-slow-lab",
        event_time=reported,
        id_number=who.id_number,
        sample_time=reported - timedelta(hours=30),
        result="positive",
        lab="cdc",
    )
    send(settings, "health.nat", nat)
    arrived, path = page_of(webhook, paging_worker, "positive:nat-slow-lab")
    print(
        f"\npositive NAT, sampled 30 h before: paged {arrived - reported.timestamp():.2f} s "
        "after its report"
    )
    assert arrived - reported.timestamp() <= 10
    assert path == "/duty"  # a lab result belongs to no park: the district's duty
    time.sleep(8)  # two of the critical route's group intervals (3 s here): no second page
    assert len(webhook.pages_for("positive:nat-slow-lab")) == 1


def test_a_positive_found_26_hours_after_a_release_pages_once_and_denies(
    settings: Settings, webhook: Webhook, paging_worker: Worker
) -> None:
    crew = story.people(2)
    entered = datetime.now(UTC) - timedelta(hours=26)
    decisions = Tail(settings, "sentinel.decisions")
    try:
        send(settings, *story.entry("released-26h", crew, at=entered, plate="沪D26262"))
        for n, who in enumerate(crew):
            send(settings, *story.antigen(f"ag-26h-{n}", who, entered + timedelta(minutes=5)))
        decisions.wait(
            lambda r: b'"released-26h"' in r.value and b'"outcome":"release"' in r.value,
            what="the release, 26 h ago",
        )
        reported = datetime.now(UTC)
        nat = RawNatReport(
            event_id="nat-26h",
            event_time=reported,
            id_number=crew[0].id_number,
            sample_time=entered - timedelta(hours=2),
            result="positive",
            lab="cdc",
        )
        send(settings, "health.nat", nat)
        arrived, _ = page_of(webhook, paging_worker, "positive:nat-26h")
        assert arrived - reported.timestamp() <= 10
        decisions.wait(
            lambda r: b'"released-26h"' in r.value and b'"outcome":"deny"' in r.value,
            what="the released entry's decision revised to a denial",
        )
        # The park that let the person in is paged too, critical, on its duty route: the
        # entry, its gate and plate, and that the vehicle is inside now (no exit was sent).
        key = "positive-release:nat-26h:released-26h"
        drained(settings, "health.nat")  # the report's batch delivered, its alerts too
        sent = [json.loads(r.value)["dedup_key"] for r in read_all(settings, "sentinel.alerts")]
        assert key in sent, "the park that let the person in must be paged"
        _, path = page_of(webhook, paging_worker, key)
        (page,) = alerts_of(webhook, key)
        assert path == "/duty"
        assert page["labels"]["severity"] == "critical"
        assert (
            page["labels"]["park"] == "tangu-green-bay" and page["labels"]["gate"] == "jinshanwei-1"
        )
        assert page["annotations"]["entry_id"] == "released-26h"
        assert "沪D26262" in page["annotations"]["summary"]
        assert "仍在园区内" in page["annotations"]["summary"]  # the vehicle: inside now
    finally:
        decisions.close()
    time.sleep(8)
    assert len(webhook.pages_for("positive:nat-26h")) == 1
    assert len(webhook.pages_for("positive-release:nat-26h:released-26h")) == 1


def test_a_replay_of_last_months_alerts_pages_nobody(
    settings: Settings, webhook: Webhook, paging_worker: Worker
) -> None:
    month_ago = datetime.now(UTC) - timedelta(days=30)
    old = Alert(
        event_id="positive:old-month",
        event_time=month_ago,
        severity="critical",
        rule="no_positive",
        subject="p_" + "3" * 32,
        dedup_key="positive:old-month",
        park="tangu-green-bay",
        message="positive antigen result",
        detected_at=month_ago,
    )
    skipped = paging_worker.log().count("not paging 1 alerts learnt more than")
    produce(settings, "sentinel.alerts", [(old.dedup_key.encode(), old.model_dump_json().encode())])
    wait_while_moving(
        lambda: paging_worker.log().count("not paging 1 alerts learnt more than") > skipped,
        paging_worker.signs,
        what="the month-old alert at the dispatcher",
        stall=STALL,
    )
    time.sleep(4)
    assert webhook.pages_for("positive:old-month") == []


def test_a_red_code_pages_at_once_and_a_positive_is_traced_into_clickhouse(
    settings: Settings, webhook: Webhook, paging_worker: Worker
) -> None:
    # DOMAIN rule 3: red denies and isolates, a page at once, whatever the rule's `alert` says.
    now = datetime.now(UTC)
    red = story.people(2)
    send(
        settings, *story.entry("red-code", red, at=now, plate="沪R00001", colours=["red", "green"])
    )
    pages = wait_while_moving(
        lambda: webhook.pages_for("health_code:red-code:", prefix=True),
        paging_worker.signs,
        what="a page for the red code",
        stall=STALL,
        interval=0.1,
    )
    assert pages[0][1] == "/duty"  # critical: the duty pager (the park: its labels)

    # Rule 15: a positive traces the person's co-occupants and the vehicles through the same gate
    # around the same time, into ClickHouse (table contacts) for the analysts.
    # Times within the park's lateness (10 min) and ingestion's future tolerance (5 min).
    crew, neighbour = story.people(2), story.people(1)
    before, after = now - timedelta(minutes=8), now + timedelta(minutes=2)
    send(settings, *story.entry("traced", crew, at=before, plate="沪T00001", gate="tinglin-1"))
    send(
        settings, *story.entry("same-gate", neighbour, at=after, plate="沪T00002", gate="tinglin-1")
    )
    send(settings, *story.antigen("ag-traced", crew[0], now - timedelta(minutes=7), "positive"))
    contacts = poll_query(
        settings,
        "SELECT kind, entry_id, plate FROM contacts FINAL WHERE positive_event_id = %(id)s "
        "ORDER BY kind, entry_id",
        {"id": "ag-traced"},
        rows=2,
    )
    assert [(kind, entry, plate) for kind, entry, plate in contacts] == [
        ("co-occupant", "traced", "沪T00001"),
        ("same-gate", "same-gate", "沪T00002"),
    ]


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


def test_an_alert_whose_condition_ended_is_told_resolved_to_its_receiver(
    settings: Settings, webhook: Webhook, paging_worker: Worker
) -> None:
    # A hold at the gate for over an hour pages the operators (gate_wait, fired by the engine on
    # the park's clock); an officer's release ends the hold, the engine closes the alert
    # (resolved_at), the dispatcher posts it ending then, and the operators hear it ended.
    now = datetime.now(UTC).replace(microsecond=0)
    park = f"wait-{uuid.uuid4().hex[:6]}"  # a park of its own: its clock starts with this test
    (driver,) = story.people(1)
    held = story.entry(
        "wait-resolved",
        [driver],
        at=now - timedelta(minutes=75),
        nat_ages=[None],
        hazmat=False,
        plate="沪W65000",
        park=park,
    )
    # The park's clock moves on to now; its watermark (now less 10 min) passes the hour's wait.
    beat = GateHeartbeat(event_id="beat-wait-resolved", event_time=now, park=park, gate="g-1")
    send(settings, *held)
    send(settings, "gate.heartbeats", beat)
    key = "gate-wait:wait-resolved"
    watermark = (now - timedelta(minutes=10)).timestamp()
    wait_while_moving(  # the tick that moved it fired the deadlines and sent their alerts
        lambda: (
            paging_worker.metric_of("sentinel_watermark_timestamp_seconds", park=park) == watermark
        ),
        paging_worker.signs,
        what=f"park {park}'s watermark",
        stall=STALL,
        interval=0.5,
    )
    sent = {json.loads(r.value)["dedup_key"] for r in read_all(settings, "sentinel.alerts")}
    assert key in sent, "an hour's wait at the gate fires the engine's gate-wait alert"
    page_of(webhook, paging_worker, key)  # firing
    release = Resolution(
        event_id="res-wait-resolved",
        event_time=datetime.now(UTC).replace(microsecond=0),
        park=park,
        entry_id="wait-resolved",
        officer="officer.zhou",
        action="released_after_check",
        reason="NAT report on paper, checked",
    )
    produce(settings, "gate.resolutions", [(park.encode(), release.model_dump_json().encode())])
    drained(settings, "gate.resolutions")  # decided: the closed alert is on sentinel.alerts
    closed = [
        json.loads(r.value)
        for r in read_all(settings, "sentinel.alerts")
        if json.loads(r.value)["dedup_key"] == key
    ]
    assert [a["resolved_at"] is not None for a in closed] == [False, True]
    wait_while_moving(
        lambda: webhook.pages_for(key, status="resolved"),
        paging_worker.signs,
        what=f"the end of {key}",
        stall=STALL,
        interval=0.3,
    )
    ((_, path),) = webhook.pages_for(key, status="resolved")
    assert path == "/operations"


def test_an_alert_alertmanager_refuses_is_dead_lettered_and_keeps_no_positive_from_paging(
    settings: Settings, webhook: Webhook, paging_worker: Worker
) -> None:
    # The pager retried a 4xx forever; and a batch with one refused alert would have paged
    # none of the others.
    now = datetime.now(UTC).replace(microsecond=0)
    common = {"subject": "p_0", "park": "tangu-green-bay", "message": "test", "detected_at": now}
    refused = Alert(  # ends before it starts: Alertmanager answers 400
        event_id="al-refused",
        event_time=now,
        severity="warning",
        rule="dwell",
        dedup_key="dwell:refused",
        resolved_at=now - timedelta(hours=1),
        **common,
    )
    positive = Alert(
        event_id="al-positive",
        event_time=now,
        severity="critical",
        rule="positive",
        dedup_key="positive:beside-a-refused-one",
        **common,
    )
    produce(
        settings,
        "sentinel.alerts",
        [(a.dedup_key.encode(), a.model_dump_json().encode()) for a in (refused, positive)],
    )
    page_of(webhook, paging_worker, "positive:beside-a-refused-one")
    letters = wait_while_moving(
        lambda: [
            r
            for r in read_all(settings, "sentinel.dlq")
            if DeadLetter.from_headers(list(r.headers)).stage == "dispatch"
        ],
        paging_worker.signs,
        what="the refused alert in the DLQ",
        stall=STALL,
        interval=0.3,
    )
    (letter,) = letters
    meta = DeadLetter.from_headers(list(letter.headers))
    assert meta.error_class == "Refused" and "HTTP 400" in meta.error_message
    assert json.loads(letter.value)["dedup_key"] == "dwell:refused"


def test_a_critical_alerts_banner_stays_until_an_officer_acknowledges_it_in_the_browser(
    settings: Settings,
    webhook: Webhook,
    paging_worker: Worker,
    alertmanager: str,
    chromium: webdriver.Chrome,
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    positive = Alert(
        event_id="al-ack",
        event_time=now,
        severity="critical",
        rule="no_positive",
        dedup_key="positive:to-acknowledge",
        subject="p_1",
        park="tangu-green-bay",
        gate="jinshanwei-1",
        message="positive antigen: deny and isolate",
        detected_at=now,
    )
    produce(settings, "sentinel.alerts", [(b"k", positive.model_dump_json().encode())])
    page_of(webhook, paging_worker, positive.dedup_key)
    board = paging_worker.board_url()
    chromium.get(board)
    selector = f'form.banner[data-key="{positive.dedup_key}"]'
    banner = on_screen(chromium, selector, paging_worker.signs, "the positive's banner")
    assert "positive antigen" in banner.text and "jinshanwei-1" in banner.text
    assert banner.text.startswith("紧急 ")  # the park's language: the paging worker's is Chinese
    shot = tmp_path / "banner.png"
    chromium.save_screenshot(str(shot))
    banner.find_element(By.NAME, "officer").send_keys("officer.li")
    banner.find_element(By.NAME, "password").send_keys(access.board_password(settings))
    banner.find_element(By.TAG_NAME, "button").click()
    off_screen(chromium, selector, paging_worker.signs, "the banner to go once acknowledged")
    # The acknowledgement is an Alertmanager silence in the officer's name.
    with urllib.request.urlopen(f"{alertmanager}/api/v2/silences", timeout=5) as response:
        silences = json.loads(response.read())
    (silence,) = [
        s
        for s in silences
        if s["status"]["state"] == "active"
        and {"name": "dedup_key", "value": positive.dedup_key, "isRegex": False, "isEqual": True}
        in s["matchers"]
    ]
    assert silence["createdBy"] == "officer.li"
    # The board still lists the alert, saying who took it; it never was lost.
    with urllib.request.urlopen(f"{board}api/board", timeout=5) as response:
        shown = json.loads(response.read())
    assert positive.dedup_key not in [b["dedup_key"] for b in shown["banners"]]
    (row,) = [a for a in shown["alerts"] if a["dedup_key"] == positive.dedup_key]
    assert row["acknowledged_by"] == "officer.li"
    print(f"\nbanner screenshot: {shot}")


@pytest.mark.parametrize(
    ("key", "body", "content_type", "status", "said"),
    [
        ("positive:to-acknowledge", b'{"officer": ""}', "application/json", 400, "say who"),
        ("no-such-alert", b'{"officer": "Li"}', "application/json", 404, "no open alert"),
        ("positive:to-acknowledge", b"officer=Li", "application/x-www-form-urlencoded", 415, ""),
    ],
)
def test_an_acknowledgement_without_a_name_for_no_alert_or_from_a_form_is_refused(
    settings: Settings,
    paging_worker: Worker,
    key: str,
    body: bytes,
    content_type: str,
    status: int,
    said: str,
) -> None:
    request = urllib.request.Request(
        f"{paging_worker.board_url()}api/alerts/{key}/acknowledge",
        data=body,
        headers={
            "Content-Type": content_type,
            "Authorization": "Basic "
            + base64.b64encode(f"operator:{access.board_password(settings)}".encode()).decode(),
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == status
    assert said in json.loads(refused.value.read())["error"]

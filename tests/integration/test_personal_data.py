"""No ID number and no phone number leaves ingestion: a worker at debug level takes entries, a
positive, an expired NAT and a visit, and then every topic it writes (changelogs, alerts, traces,
evidence, Faust's own included), every ClickHouse table, the board's JSON and page, /metrics,
what it posted to Alertmanager, and its log hold none of them. Only the raw topics (the gates'
and labs' own) and the dead-letter topic (raw bytes, read by the workers alone) hold them."""

from __future__ import annotations

import re
import threading
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from clickhouse_driver import Client
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from schemas.people import id_check_char
from streams import access
from streams.progress import wait_while_moving
from streams.settings import Settings
from tests.integration import story
from tests.integration.helpers import STALL, poll_query, running_worker
from tests.integration.test_rules_story import send
from workbench.simulator.identities import Person
from workbench.simulator.jinshan import TZ

RAW = ("gate.", "health.", "ref.", "sentinel.dlq")
# Standing alone: not inside a pseudonym's hex, nor a float's digits (/metrics has 18 of them).
ID_LIKE = re.compile(r"(?<![0-9A-Za-z.])(\d{17})([\dX])(?![0-9A-Za-z.])")
PHONE_LIKE = re.compile(r"(?<![0-9A-Za-z.])1[3-9]\d{9}(?![0-9A-Za-z.])")


class Pages(BaseHTTPRequestHandler):
    """Alertmanager's API as the dispatcher sees it: every body posted is kept."""

    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - the handler's protocol
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def alertmanager() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_nothing_but_the_raw_topics_holds_an_id_or_a_phone_number(
    fresh: Settings, tmp_path: Path, alertmanager: str
) -> None:
    crew, late = story.people(2), story.people(2)
    at = datetime.now(TZ).replace(microsecond=0) - timedelta(hours=2)  # live: it pages
    with running_worker(
        fresh, tmp_path, log_level="debug", alertmanager_url=alertmanager
    ) as worker:
        send(
            fresh,
            story.entry("pii-1", crew, at=at),
            story.antigen("ag-pii-1", crew[0], at + timedelta(minutes=5)),
            story.antigen("ag-pii-2", crew[1], at + timedelta(minutes=5), result="positive"),
            story.entry("pii-2", late, at=at + timedelta(minutes=20), nat_ages=[60, 60]),
            story.visit("v-pii-1", crew[0], at + timedelta(hours=1), "pii-1"),
        )
        poll_query(
            fresh,
            "SELECT DISTINCT entry_id FROM decisions WHERE entry_id LIKE 'pii-%%'",
            {},
            rows=2,
        )
        wait_while_moving(
            lambda: any(b"positive" in body for body in Pages.bodies),
            worker.signs,
            what="the positive paged",
            stall=STALL,
        )
        places = {
            "the board's JSON": _get(worker.board_url() + "api/board"),
            "the board": _get(worker.board_url()),
            "/metrics": _get(worker.board_url() + "metrics"),
            "the pages posted to Alertmanager": b"\n".join(Pages.bodies).decode(),
        }
    places["the worker's log"] = worker.log()
    assert "[DEBUG] decision pii-1:" in places["the worker's log"]  # at debug, what it decided
    places |= _tables(fresh)
    places |= _topics(fresh)
    assert len(places) > 20
    people = [*crew, *late]
    assert any(p.id_number in _raw(fresh) for p in people)  # the needles are the right ones
    found = {where: sorted(_personal(text, people)) for where, text in places.items()}
    assert not {where: hits for where, hits in found.items() if hits}


def _personal(text: str, people: list[Person]) -> set[str]:
    hits = {p.id_number for p in people if p.id_number in text}
    hits |= {p.phone for p in people if p.phone in text}
    hits |= {m.group(0) for m in ID_LIKE.finditer(text) if id_check_char(m[1]) == m[2]}
    return hits | set(PHONE_LIKE.findall(text))


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return str(answer.read().decode())


def _tables(settings: Settings) -> dict[str, str]:
    client = Client.from_url(access.clickhouse_url(settings))
    try:
        names = [row[0] for row in client.execute("SHOW TABLES")]
        return {f"table {t}": repr(client.execute(f"SELECT * FROM {t}")) for t in names}
    finally:
        client.disconnect()


def _topics(settings: Settings) -> dict[str, str]:
    admin = KafkaAdminClient(**access.kafka_python(settings))
    try:
        ours = [
            t
            for t in admin.list_topics()
            if t.startswith((settings.topic_prefix, settings.app_id + "-"))
            and not t.removeprefix(settings.topic_prefix).startswith(RAW)
        ]
    finally:
        admin.close()
    return {f"topic {t}": _read(settings, t) for t in ours}


def _raw(settings: Settings) -> str:
    return _read(settings, settings.topic("gate.entries"))


def _read(settings: Settings, topic: str) -> str:
    """Keys, values and headers of every record of ``topic``, as text."""
    consumer = KafkaConsumer(**access.kafka_python(settings), group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        end = consumer.end_offsets(partitions)
        texts: list[str] = []
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    parts = [r.key or b"", r.value or b"", *(v for _, v in r.headers or [])]
                    texts.append(" ".join(p.decode("utf-8", "replace") for p in parts))
        return "\n".join(texts)
    finally:
        consumer.close()

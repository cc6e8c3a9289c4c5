"""``sentinel demo``: send a few vehicle entries through the running pipeline and show the results.

It starts a worker in the background if none runs, sends raw entries with kafka-python to
``gate.entries``, reads their decisions back from ``sentinel.decisions``, and counts their rows in
ClickHouse.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import Cargo, Decision, RawAntigenTest, RawOccupant, RawVehicleEntry
from streams import access
from streams.jsonl import envelope, key_for
from streams.progress import Stalled, wait_while_moving
from streams.settings import Settings
from streams.topics import create_topics
from workbench.detach import worker_name
from workbench.simulator.identities import LOCAL_REGION, person, plate
from workbench.stack._process import Progress

STALL = 120.0  # seconds without a new decision or row before the demo shows what it has


def sample_events(count: int, now: datetime) -> tuple[list[RawVehicleEntry], list[RawAntigenTest]]:
    """Hazmat entries at one gate, as a gate sends them (synthetic ID numbers), and the crews'
    on-site antigen results a few minutes later. Entry 1, 4, ... presents a NAT sampled 60 h ago
    (held, then released on its negative antigen); entry 2, 5, ... has a positive escort
    (denied); the others are released once their antigens are in."""
    rng = random.Random()
    batch = uuid.uuid4().hex[:8]
    entries, antigens = [], []
    for i in range(count):
        at = now - timedelta(minutes=20, seconds=count - i)
        crew = [person(rng, LOCAL_REGION[0]) for _ in range(2)]
        occupants = tuple(
            RawOccupant(
                id_number=who.id_number,
                role=role,
                nat_sample_time=at - timedelta(hours=60 if i % 3 == 1 and role == "driver" else 20),
                nat_result="negative",
                code_colour="green",
                on_roster=True,
            )
            for who, role in zip(crew, ("driver", "escort"), strict=True)
        )
        entry_id = f"demo-{batch}-{i}"
        entries.append(
            RawVehicleEntry(
                event_id=entry_id,
                event_time=at,
                park="tangu-green-bay",
                gate="jinshanwei-1",
                gate_class="hazmat",
                plate=plate(rng),
                vehicle_class="tanker",
                hazmat=True,
                cargo=Cargo(un_number="UN1230", hazard_class="3", quantity_kg=20_000),
                consignee="ent-001",
                waybill_id=f"wb-{entry_id}",
                appointment_id=f"ap-{entry_id}",
                origin_region=LOCAL_REGION[1],
                occupants=occupants,
            )
        )
        for n, who in enumerate(crew):
            antigens.append(
                RawAntigenTest(
                    event_id=f"{entry_id}-ag{n}",
                    event_time=at + timedelta(minutes=8),
                    id_number=who.id_number,
                    park="tangu-green-bay",
                    site="jinshanwei-1",
                    result="positive" if i % 3 == 2 and n == 1 else "negative",
                )
            )
    return entries, antigens


def send(settings: Settings, topic: str, events: list[Any]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(**access.kafka_producer(settings))
    try:
        for event in events:
            record = envelope(topic, event)
            producer.send(
                settings.topic(topic), key=key_for(record), value=event.model_dump_json().encode()
            )
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=access.PRODUCER_CLOSE_SECONDS)


def read_decisions(settings: Settings, entry_ids: set[str]) -> dict[str, Decision]:
    """Read ``sentinel.decisions`` from the start until every entry in ``entry_ids`` has a
    decision with nothing pending; the latest revision of each. Waits for as long as the
    worker's group makes progress."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topic("sentinel.decisions"),
        **access.kafka_python(settings),
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    found: dict[str, Decision] = {}

    def settled() -> bool:
        for message in consumer:
            decision = Decision.model_validate_json(message.value)
            known = found.get(decision.entry_id)
            if decision.entry_id in entry_ids and (not known or known.revision < decision.revision):
                found[decision.entry_id] = decision
        done = [d for d in found.values() if not d.pending_rules]
        return len(done) == len(entry_ids)

    try:
        wait_while_moving(
            settled,
            lambda: tuple(sorted((k, d.revision) for k, d in found.items())),
            what="the demo's decisions",
            stall=STALL,
            interval=0,
        )
    except Stalled:
        pass  # what came is shown; the missing ones say so
    finally:
        consumer.close()
    return found


def count_rows(settings: Settings, entry_ids: set[str], revisions: int) -> int:
    """Rows in ClickHouse ``decisions`` for ``entry_ids`` (one per revision), waiting for all
    ``revisions`` of them for as long as the sink writes rows."""
    from clickhouse_driver import Client

    client = Client.from_url(access.clickhouse_url(settings))
    counted = [0]

    def written() -> bool:
        ((count,),) = client.execute(
            "SELECT count() FROM decisions FINAL WHERE entry_id IN %(ids)s",
            {"ids": tuple(entry_ids)},
        )
        counted[0] = int(count)
        return counted[0] >= revisions

    try:
        wait_while_moving(written, lambda: counted[0], what="the demo's rows", stall=STALL)
    except Stalled:
        pass
    finally:
        client.disconnect()
    return counted[0]


def board_url(settings: Settings) -> str:
    """Where the demo worker serves the board, as the running worker's log says."""
    from workbench.stack import Stack

    process = Stack(settings).worker(worker_name(settings))
    log_file = process.log_file
    text = log_file.read_text(errors="replace") if log_file.exists() else ""
    return announced_board(text, process.pid()) or f"not served yet, see {log_file}"


def announced_board(log: str, pid: int | None) -> str | None:
    """The board's URL the worker ``pid`` announced last in ``log`` (a log holds the lines of
    earlier runs too), or why it is not served: its port taken, which it tries again."""
    from streams.agents.board import BOARD_NOT_SERVED, BOARD_URL_MARKER

    for line in reversed([line for line in log.splitlines() if f"] [{pid}] [" in line]):
        if url := re.search(rf"{BOARD_URL_MARKER} (http://\S+/)", line):
            return url[1]
        if taken := re.search(rf"{BOARD_NOT_SERVED} (\S+) ", line):
            return (
                f"not served: {taken[1]} is taken; the worker tries it again until it is free "
                "(or restart it with SENTINEL_HTTP_PORT set to a free port)"
            )
    return None


def run_demo(settings: Settings, entries: int, progress: Progress) -> int:
    from workbench.detach import start_detached
    from workbench.simulator.jinshan import in_park_language

    create_topics(settings)
    progress(start_detached(in_park_language(settings), progress))
    batch, antigens = sample_events(entries, datetime.now(UTC))
    ids = {e.event_id for e in batch}
    progress(f"sending {len(batch)} vehicle entries to {settings.topic('gate.entries')}")
    progress("(ingestion pseudonymises the people, the rules decide, the sink writes ClickHouse)")
    send(settings, "gate.entries", batch)
    progress(f"sending the crews' on-site antigen results to {settings.topic('health.antigen')}")
    send(settings, "health.antigen", antigens)
    progress(f"reading their decisions from {settings.topic('sentinel.decisions')}")
    decisions = read_decisions(settings, ids)
    print(f"\n{'entry':<22} {'plate':<10} {'outcome':<8} {'rev':<4} failed rules / reason")
    for entry in batch:
        decision = decisions.get(entry.event_id)
        if decision is None:
            print(f"{entry.event_id:<22} {entry.plate:<10} {'(none)':<8} no decision came")
            continue
        failed = sorted({f"{r.rule}: {r.reason}" for r in decision.rules if not r.passed})
        print(
            f"{entry.event_id:<22} {entry.plate:<10} {decision.outcome:<8} {decision.revision:<4} "
            f"{'; '.join(failed) or '-'}"
        )
    rows = count_rows(settings, ids, revisions=sum(d.revision + 1 for d in decisions.values()))
    print(
        f"\nClickHouse {settings.clickhouse_database}.decisions: {rows} rows (one per revision) "
        f"for the {len(batch)} entries sent (127.0.0.1:{settings.clickhouse_port})"
    )
    print(f"\nThe live gate board: {board_url(settings)} (metrics at /metrics)")
    print(
        "The 2022 story (11,778 entries), in a namespace of its own (its clock is 2022's): "
        ".venv/bin/sentinel simulate --out /tmp/jinshan && .venv/bin/sentinel replay "
        "/tmp/jinshan/events.jsonl"
    )
    print(
        "The full stack on Docker (two workers, Prometheus, Alertmanager, Grafana, the "
        "simulator): docker compose up --build, after making .env (README.md, Docker)"
    )
    print(
        "The stack and the worker keep running: `sentinel stack status` shows them, "
        "`.venv/bin/sentinel stack down` stops them."
    )
    settled = len(decisions) == len(batch) and not any(d.pending_rules for d in decisions.values())
    return 0 if settled and rows == sum(d.revision + 1 for d in decisions.values()) else 1

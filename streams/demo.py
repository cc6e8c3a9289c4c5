"""``sentinel demo``: send a few vehicle entries through the running pipeline and show the results.

It starts a worker in the background if none runs, sends raw entries with kafka-python to
``gate.entries``, reads their decisions back from ``sentinel.decisions``, and counts their rows in
ClickHouse.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from schemas import Cargo, Decision, RawOccupant, RawVehicleEntry
from streams.settings import Settings
from streams.simulator.identities import LOCAL_REGION, person, plate
from streams.stack._process import Progress
from streams.topics import create_topics


def sample_entries(count: int, now: datetime) -> list[RawVehicleEntry]:
    """Hazmat entries at one gate, as a gate sends them (synthetic ID numbers); every third
    presents a NAT sampled 60 h ago and is held."""
    rng = random.Random()
    batch = uuid.uuid4().hex[:8]
    entries = []
    for i in range(count):
        sampled = now - timedelta(hours=60 if i % 3 == 2 else 20)
        occupants = tuple(
            RawOccupant(
                id_number=person(rng, LOCAL_REGION[0]).id_number,
                role=role,
                nat_sample_time=sampled,
                nat_result="negative",
            )
            for role in ("driver", "escort")
        )
        entries.append(
            RawVehicleEntry(
                event_id=f"demo-{batch}-{i}",
                event_time=now - timedelta(seconds=count - i),
                park="tangu-green-bay",
                gate="jinshanwei-1",
                plate=plate(rng),
                hazmat=True,
                cargo=Cargo(un_number="UN1230", hazard_class="3", quantity_kg=20_000),
                consignee="ent-001",
                origin_region=LOCAL_REGION[1],
                occupants=occupants,
            )
        )
    return entries


def send_entries(settings: Settings, entries: list[RawVehicleEntry]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        for entry in entries:
            producer.send(
                settings.topic("gate.entries"),
                key=entry.plate.encode(),
                value=entry.model_dump_json().encode(),
            )
        producer.flush(timeout=30)
    finally:
        producer.close()


def read_decisions(
    settings: Settings, entry_ids: set[str], timeout: float = 60
) -> dict[str, Decision]:
    """Read ``sentinel.decisions`` from the start until every entry in ``entry_ids`` has one."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topic("sentinel.decisions"),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    found: dict[str, Decision] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(found) < len(entry_ids) and time.monotonic() < deadline:
            for message in consumer:
                decision = Decision.model_validate_json(message.value)
                if decision.entry_id in entry_ids:
                    found[decision.entry_id] = decision
                if len(found) == len(entry_ids):
                    break
    finally:
        consumer.close()
    return found


def count_rows(settings: Settings, entry_ids: set[str], timeout: float = 30) -> int:
    """Rows in ClickHouse ``decisions`` for ``entry_ids``, waiting up to ``timeout`` for all."""
    from clickhouse_driver import Client

    client = Client.from_url(settings.clickhouse_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            ((count,),) = client.execute(
                "SELECT count() FROM decisions FINAL WHERE entry_id IN %(ids)s",
                {"ids": tuple(entry_ids)},
            )
            if count >= len(entry_ids) or time.monotonic() > deadline:
                return int(count)
            time.sleep(0.5)
    finally:
        client.disconnect()


def run_demo(settings: Settings, entries: int, progress: Progress) -> int:
    from streams.worker import start_detached

    create_topics(settings)
    progress(start_detached(settings, progress))
    batch = sample_entries(entries, datetime.now(UTC))
    ids = {e.event_id for e in batch}
    progress(f"sending {len(batch)} vehicle entries to {settings.topic('gate.entries')}")
    progress(
        "(ingestion pseudonymises the occupants, the rules decide, the sink writes ClickHouse)"
    )
    send_entries(settings, batch)
    progress(f"reading their decisions from {settings.topic('sentinel.decisions')}")
    decisions = read_decisions(settings, ids)
    print(f"\n{'entry':<22} {'plate':<10} {'outcome':<8} failed rules / reason")
    for entry in batch:
        decision = decisions.get(entry.event_id)
        if decision is None:
            print(f"{entry.event_id:<22} {entry.plate:<10} {'(none)':<8} no decision within 60 s")
            continue
        failed = [f"{r.rule}: {r.reason}" for r in decision.rules if not r.passed]
        print(
            f"{entry.event_id:<22} {entry.plate:<10} {decision.outcome:<8} "
            f"{'; '.join(failed) or '-'}"
        )
    rows = count_rows(settings, ids)
    print(
        f"\nClickHouse {settings.clickhouse_database}.decisions: {rows} rows for the "
        f"{len(batch)} entries sent (127.0.0.1:{settings.clickhouse_port})"
    )
    print(
        "The stack and the worker keep running: `sentinel stack status` shows them, "
        "`.venv/bin/sentinel stack down` stops them."
    )
    return 0 if len(decisions) == len(batch) and rows == len(batch) else 1

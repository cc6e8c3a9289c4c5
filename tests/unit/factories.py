"""Valid raw events for unit tests, built as dicts (as JSON producers send them), and the 2022
story's first days as canonical events (as ingestion makes them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.people import id_check_char
from streams.engine import FAR_FUTURE
from streams.ingest import Accepted, Ingestor
from streams.pseudonym import Pseudonymiser
from workbench.simulator.jinshan import Params, generate
from workbench.simulator.traffic import FIRST_DAY

AT = datetime(2022, 4, 12, 8, 30, tzinfo=UTC)


def resident_id(first17: str = "31011619800101123") -> str:
    return first17 + id_check_char(first17)


DRIVER_ID = resident_id("31011619800101123")
ESCORT_ID = resident_id("33040219790505456")


def entry(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event_id": "entry-1",
        "event_time": AT.isoformat(),
        "park": "tangu-green-bay",
        "gate": "jinshanwei-1",
        "gate_class": "hazmat",
        "plate": "沪A12345",
        "vehicle_class": "tanker",
        "hazmat": True,
        "cargo": {"un_number": "UN1230", "hazard_class": "3", "quantity_kg": 20000},
        "consignee": "ent-001",
        "origin_region": "浙江省嘉兴市南湖区",
        "occupants": [
            {
                "id_number": DRIVER_ID,
                "phone": "13812345678",
                "role": "driver",
                "nat_sample_time": (AT - timedelta(hours=20)).isoformat(),
                "nat_result": "negative",
                "code_colour": "green",
                "on_roster": True,
            },
            {
                "id_number": ESCORT_ID,
                "phone": "+86 139-0000-1111",
                "role": "escort",
                "nat_sample_time": (AT - timedelta(hours=30)).isoformat(),
                "nat_result": "negative",
                "code_colour": "green",
                "on_roster": True,
            },
        ],
    }
    value.update(changes)
    return value


def antigen(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event_id": "antigen-1",
        "event_time": AT.isoformat(),
        "id_number": DRIVER_ID,
        "park": "tangu-green-bay",
        "site": "jinshanwei-1",
        "result": "negative",
    }
    value.update(changes)
    return value


def nat(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event_id": "nat-1",
        "event_time": AT.isoformat(),
        "id_number": DRIVER_ID,
        "sample_time": (AT - timedelta(hours=8)).isoformat(),
        "result": "negative",
        "lab": "jinshan-cdc",
    }
    value.update(changes)
    return value


def visit(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event_id": "visit-1",
        "event_time": AT.isoformat(),
        "id_number": DRIVER_ID,
        "park": "tangu-green-bay",
        "enterprise": "ent-001",
        "visit_number": 1,
        "temperature_c": 36.6,
    }
    value.update(changes)
    return value


def eleven_days() -> list[Any]:
    """The jinshan-2022 story (seed 2) up to its eleventh day, ingested: canonical events in time
    order, as the engine takes them."""
    ingestor = Ingestor(
        Pseudonymiser(b"k" * 32), max_message_bytes=1 << 20, future_tolerance=timedelta(0)
    )
    kept = []
    for topic, event in generate(Params(seed=2)).events:
        if event.event_time.date() <= FIRST_DAY + timedelta(days=10):  # type: ignore[attr-defined]
            accepted = ingestor.ingest(topic, event.model_dump_json().encode(), now=FAR_FUTURE)
            assert isinstance(accepted, Accepted)
            kept.append(accepted.event)
    return kept

"""The contract files themselves (``schemas/json``), read as an outside producer reads them: a
JSON Schema validator (the ``jsonschema`` package, draft 2020-12) takes a valid example of every
raw topic and refuses each invalid one the files promise to refuse: the ID number's pattern,
exactly one driver, cargo on a hazmat truck, the required classes, the Kafka key. What JSON
Schema cannot say (the ID number's check character) the file says in words, and the model
refuses."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import ValidationError

from schemas import RawNatReport, RawVehicleEntry
from streams.jsonl import KEY_FIELDS, key_for
from streams.topics import spec
from tests.integration import story
from workbench.schema_files import SCHEMA_DIR

AT = story.T0
CREW = story.people(2)


def validator(topic: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{topic}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def as_json(event: Any) -> dict[str, Any]:
    return json.loads(event.model_dump_json())  # type: ignore[no-any-return]


def examples() -> dict[str, dict[str, Any]]:
    """A valid record of each raw topic, as a gate, a test station, an enterprise or a lab
    sends it."""
    entry = story.entry("contract-1", CREW, at=AT)[1]
    general = story.entry("contract-2", CREW[:1], at=AT, hazmat=False, plate="沪A54321")[1]
    nat = RawNatReport(
        event_id="contract-nat",
        event_time=AT,
        id_number=CREW[0].id_number,
        sample_time=AT - timedelta(hours=20),
        result="negative",
        lab="cdc",
    )
    return {
        "gate.entries": as_json(entry),
        "gate.entries/general": as_json(general),
        "health.antigen": as_json(story.antigen("contract-ag", CREW[0], AT)[1]),
        "health.visits": as_json(story.visit("contract-v", CREW[0], AT, "contract-1")[1]),
        "health.nat": as_json(nat),
    }


@pytest.mark.parametrize("name", list(examples()))
def test_a_valid_record_of_each_raw_topic_passes_its_file(name: str) -> None:
    topic = name.split("/")[0]
    assert list(validator(topic).iter_errors(examples()[name])) == []


def entry_with(change: Any) -> dict[str, Any]:
    value = copy.deepcopy(examples()["gate.entries"])
    change(value)
    return value


def _set(path: list[Any], to: Any) -> Any:
    def change(value: dict[str, Any]) -> None:
        target = value
        for part in path[:-1]:
            target = target[part]
        if to is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = to

    return change


INVALID = {
    "an ID number of 17 characters": _set(["occupants", 0, "id_number"], "31011619800101123"),
    "an ID number with letters": _set(["occupants", 0, "id_number"], "3101161980010112AB"),
    "an ID number born in month 13": _set(["occupants", 0, "id_number"], "310116198013011234"),
    "no driver": _set(["occupants", 0, "role"], "escort"),
    "two drivers": _set(["occupants", 1, "role"], "driver"),
    "a hazmat truck without cargo": _set(["cargo"], KeyError),
    "a hazmat truck with cargo null": _set(["cargo"], None),
    "no gate class": _set(["gate_class"], KeyError),
    "a gate class not in the list": _set(["gate_class"], "chemical"),
    "no vehicle class": _set(["vehicle_class"], KeyError),
    "a vehicle class not in the list": _set(["vehicle_class"], "tractor"),
    "a UN number without UN": _set(["cargo", "un_number"], "1203"),
    "an unknown field": _set(["remarks"], "hello"),
    "no occupant": _set(["occupants"], []),
    "a plate without its province": _set(["plate"], "A12345"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_each_promise_of_the_entry_file_refuses_what_breaks_it(case: str) -> None:
    value = entry_with(INVALID[case])
    assert list(validator("gate.entries").iter_errors(value)), f"{case} was accepted"
    with pytest.raises(ValidationError):  # and the model, which the file is made from, agrees
        RawVehicleEntry.model_validate(value)


def test_a_general_truck_needs_no_cargo_and_the_check_character_is_the_models() -> None:
    general = examples()["gate.entries/general"]
    assert "cargo" not in general or general["cargo"] is None
    assert list(validator("gate.entries").iter_errors(general)) == []
    # The check character: JSON Schema has no arithmetic; the file says how it is computed,
    # and the model (what the pipeline runs at ingestion) refuses a wrong one.
    schema = json.loads((SCHEMA_DIR / "gate.entries.schema.json").read_text())
    said = schema["$defs"]["RawOccupant"]["properties"]["id_number"]["description"]
    assert "MOD 11-2" in said and "7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2" in said
    number = CREW[0].id_number
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    value = entry_with(_set(["occupants", 0, "id_number"], wrong))
    assert list(validator("gate.entries").iter_errors(value)) == []  # the pattern alone passes
    with pytest.raises(ValidationError, match="check"):
        RawVehicleEntry.model_validate(value)


@pytest.mark.parametrize("name", ["gate.entries", "health.antigen", "health.visits", "health.nat"])
def test_each_file_names_the_kafka_key_producers_must_use(name: str) -> None:
    """``x-kafka-key`` is the catalogue's key, and the field it names is one the file
    requires: a producer that follows the file keys every record as the pipeline expects."""
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    key = schema["x-kafka-key"]
    assert key == spec(name).key
    assert KEY_FIELDS[key] in schema["required"]
    value = examples()[name]
    assert key_for({"topic": name, "value": value}) == str(value[KEY_FIELDS[key]]).encode()

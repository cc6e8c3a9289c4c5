"""Ingestion against anything a producer can send (hypothesis): it never raises; what it accepts
fits ClickHouse's column types; nothing it puts out holds an ID number or a phone number. And the
edge cases the store cannot hold: times outside the sane range, null, non-UTF-8, a size the
broker takes but the dead-letter producer cannot forward, an unknown schema version."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.ingest import Accepted, Rejected
from streams.sink.rows import MAPPERS
from streams.topics import RAW_TO_CANONICAL
from tests.unit import factories as f
from tests.unit.test_ingest import NOW, ingestor, raw

ID_NUMBER = re.compile(r"(?<!\d)\d{6}(19|20)\d{2}[01]\d[0-3]\d\d{3}[\dX](?!\d)")
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
SOURCES = sorted(RAW_TO_CANONICAL)
# What ClickHouse's DateTime and Date can hold (clickhouse-driver raises outside them).
DATETIME_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2106, 2, 7, tzinfo=UTC))
DATE_RANGE = (date(1970, 1, 1), date(2149, 6, 6))
VALID = {
    "gate.entries": f.entry,
    "health.antigen": f.antigen,
    "health.nat": f.nat,
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
times = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
examples = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@examples
@given(source=st.sampled_from(SOURCES), payload=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(source: str, payload: bytes) -> None:
    assert isinstance(ingestor().ingest(source, payload, now=NOW), Accepted | Rejected)


@examples
@given(source=st.sampled_from(SOURCES), value=json_values)
def test_arbitrary_json_never_raises(source: str, value: Any) -> None:
    result = ingestor().ingest(source, json.dumps(value).encode(), now=NOW)
    assert isinstance(result, Accepted | Rejected)


@examples
@given(source=st.sampled_from(sorted(VALID)), event_time=times, sample_time=times)
def test_every_accepted_event_fits_the_column_types(
    source: str, event_time: datetime, sample_time: datetime
) -> None:
    event = VALID[source]()
    event["event_time"] = event_time.isoformat()
    if source == "health.nat":
        event["sample_time"] = min(sample_time, event_time).isoformat()
    if source == "gate.entries":
        for occupant in event["occupants"]:
            occupant["nat_sample_time"] = min(sample_time, event_time).isoformat()
    result = ingestor().ingest(source, raw(event), now=NOW)
    if isinstance(result, Rejected):
        assert result.error_class in {
            "EventTimeTooEarly",
            "EventTimeInFuture",
            "ValidationError",
        }, result
        return
    assert result.topic is not None
    for _, row in MAPPERS[result.topic](result.value, 0):
        for value in row:
            if isinstance(value, datetime):
                assert DATETIME_RANGE[0] <= value <= DATETIME_RANGE[1], value
            elif isinstance(value, date):
                assert DATE_RANGE[0] <= value <= DATE_RANGE[1], value


@examples
@given(
    source=st.sampled_from(sorted(VALID)),
    field=st.sampled_from(["event_id", "park", "gate", "lab", "note", "plate"]),
    filler=st.sampled_from([f.DRIVER_ID, "13812345678", f"x{f.DRIVER_ID}x"]),
)
def test_no_output_holds_an_id_number_or_a_phone_number(
    source: str, field: str, filler: str
) -> None:
    event = VALID[source]()
    event[field] = filler  # personal data where it does not belong: refused, never echoed
    result = ingestor().ingest(source, raw(event), now=NOW)
    said = result.value.decode() if isinstance(result, Accepted) else result.error_message
    assert not ID_NUMBER.search(said) and not PHONE.search(said), said


@pytest.mark.parametrize(
    ("source", "payload", "error_class", "said"),
    [
        (
            "health.nat",
            raw(
                f.nat(
                    event_time="1922-05-04T08:00:00+08:00", sample_time="1922-05-04T07:00:00+08:00"
                )
            ),
            "EventTimeTooEarly",
            "before 2000-01-01",
        ),
        (
            "health.nat",
            raw(f.nat(sample_time="1999-12-31T08:00:00+08:00")),
            "EventTimeTooEarly",
            "before 2000-01-01",
        ),
        ("gate.entries", None, "NullValue", "no value"),
        ("gate.entries", b'{"event_id": "\xff\xfe"}', "ValidationError", "invalid unicode"),
        (
            "health.antigen",
            raw({**f.antigen(), "schema_version": 7}),
            "UnknownSchemaVersion",
            "schema_version 7",
        ),
    ],
)
def test_what_the_store_cannot_hold_is_refused_at_the_edge(
    source: str, payload: bytes | None, error_class: str, said: str
) -> None:
    result = ingestor().ingest(source, payload, now=NOW)
    assert isinstance(result, Rejected) and result.error_class == error_class
    assert said in result.error_message


def test_a_record_the_broker_takes_but_a_producer_cannot_forward_is_refused() -> None:
    # Between the producer's request limit (1,000,000) and the broker's (1,048,588).
    payload = raw({**f.entry(), "note": "x" * 1_010_000})
    result = ingestor(max_bytes=262_144).ingest("gate.entries", payload, now=NOW)
    assert isinstance(result, Rejected) and result.error_class == "MessageTooLarge"


def test_the_far_future_is_refused_too() -> None:
    later = (NOW + timedelta(days=400)).isoformat()
    result = ingestor().ingest("health.nat", raw(f.nat(event_time=later)), now=NOW)
    assert isinstance(result, Rejected) and result.error_class == "EventTimeInFuture"

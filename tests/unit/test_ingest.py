from __future__ import annotations

import json
from datetime import timedelta

import pytest

from schemas import NatReport, VehicleEntry
from streams.ingest import Accepted, BadShareGuard, Ingestor, Rejected
from streams.pseudonym import Pseudonymiser
from tests.unit import factories as f

KEY = b"unit-test-key-0123456789"
NOW = f.AT + timedelta(hours=1)


def ingestor(key: bytes = KEY, max_bytes: int = 65536) -> Ingestor:
    return Ingestor(
        Pseudonymiser(key), max_message_bytes=max_bytes, future_tolerance=timedelta(minutes=5)
    )


def raw(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def test_an_entry_leaves_with_pseudonyms_and_no_phone_numbers() -> None:
    result = ingestor().ingest("gate.entries", raw(f.entry()), now=NOW)
    assert isinstance(result, Accepted)
    assert result.topic == "canonical.entries"
    assert result.key == b"tangu-green-bay"  # a park's events all go to its partition
    text = result.value.decode()
    for secret in (f.DRIVER_ID, f.ESCORT_ID, "13812345678", "13900001111", "1390000"):
        assert secret not in text
    entry = VehicleEntry.model_validate_json(result.value)
    driver, escort = entry.occupants
    assert driver.person == Pseudonymiser(KEY)(f.DRIVER_ID)
    assert driver.person != escort.person
    assert driver.nat_sample_time is not None and entry.cargo is not None  # the rest is kept


def test_on_site_results_are_keyed_by_park_and_lab_reports_by_the_pseudonym() -> None:
    result = ingestor().ingest("health.antigen", raw(f.antigen()), now=NOW)
    assert isinstance(result, Accepted) and result.topic == "canonical.antigen"
    assert result.key == b"tangu-green-bay"
    assert f.DRIVER_ID not in result.value.decode()
    lab = ingestor().ingest("health.nat", raw(f.nat()), now=NOW)
    assert isinstance(lab, Accepted) and lab.topic == "canonical.nat"
    assert lab.key == NatReport.model_validate_json(lab.value).person.encode()
    assert lab.park is None


def test_pseudonyms_are_stable_per_key_and_differ_across_keys() -> None:
    one, again = Pseudonymiser(KEY), Pseudonymiser(KEY)
    other = Pseudonymiser(b"another-key-0123456789")
    assert one(f.DRIVER_ID) == again(f.DRIVER_ID) != other(f.DRIVER_ID)
    assert one(f.DRIVER_ID).startswith("p_") and len(one(f.DRIVER_ID)) == 34
    assert "unit-test-key" not in repr(one)


def test_a_short_key_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="SENTINEL_PSEUDONYM_KEY"):
        Pseudonymiser(b"short")


@pytest.mark.parametrize(
    ("source", "payload", "error_class"),
    [
        ("gate.entries", b"{not json", "ValidationError"),
        ("gate.entries", raw([1, 2, 3]), "ValidationError"),
        ("gate.entries", raw(f.entry(hazmat="yes")), "ValidationError"),
        ("health.antigen", raw(f.antigen(id_number=f.DRIVER_ID[:17] + "0")), "ValidationError"),
        (
            "health.nat",
            raw(f.nat(event_time=(NOW + timedelta(minutes=6)).isoformat())),
            "EventTimeInFuture",
        ),
    ],
)
def test_invalid_messages_are_rejected_with_their_class(
    source: str, payload: bytes, error_class: str
) -> None:
    result = ingestor().ingest(source, payload, now=NOW)
    assert isinstance(result, Rejected)
    assert result.error_class == error_class
    assert f.DRIVER_ID[:17] not in result.error_message


def test_future_tolerance_boundary() -> None:
    at_limit = raw(f.nat(event_time=(NOW + timedelta(minutes=5)).isoformat()))
    assert isinstance(ingestor().ingest("health.nat", at_limit, now=NOW), Accepted)


def test_oversized_messages_are_rejected_before_parsing() -> None:
    result = ingestor(max_bytes=1024).ingest("gate.entries", b"x" * 1025, now=NOW)
    assert result == Rejected("MessageTooLarge", "1025 bytes; the limit is 1024 bytes")


def test_rejection_names_the_field_not_the_value() -> None:
    bad_phone = f.entry()
    bad_phone["occupants"][0]["phone"] = "99912345678"
    result = ingestor().ingest("gate.entries", raw(bad_phone), now=NOW)
    assert isinstance(result, Rejected)
    assert "occupants.0.phone" in result.error_message
    assert "99912345678" not in result.error_message


def test_guard_trips_above_the_share_once_enough_messages_are_seen() -> None:
    guard = BadShareGuard(window=10, max_share=0.5, min_messages=4)
    assert [guard.record(bad=True) for _ in range(3)] == [False, False, False]
    assert guard.record(bad=True) is True


def test_guard_forgets_messages_that_left_the_window() -> None:
    guard = BadShareGuard(window=10, max_share=0.5, min_messages=4)
    for _ in range(5):
        guard.record(bad=True)
    for _ in range(5):
        guard.record(bad=False)
    assert guard.share == 0.5
    assert guard.record(bad=False) is False  # the oldest bad one left the window
    assert (guard.bad, guard.seen) == (4, 10)


def test_the_size_and_time_limits_at_their_edges() -> None:
    entry = raw(f.entry())
    assert isinstance(
        ingestor(max_bytes=len(entry)).ingest("gate.entries", entry, now=NOW), Accepted
    )
    too_big = ingestor(max_bytes=len(entry) - 1).ingest("gate.entries", entry, now=NOW)
    assert isinstance(too_big, Rejected) and too_big.error_class == "MessageTooLarge"
    first = Ingestor(
        Pseudonymiser(KEY),
        max_message_bytes=65536,
        future_tolerance=timedelta(minutes=5),
        earliest=f.AT,
    )
    on_time = raw(f.antigen(event_time=f.AT.isoformat()))  # one time only: at the earliest
    assert isinstance(first.ingest("health.antigen", on_time, now=NOW), Accepted)
    before = raw(f.antigen(event_time=(f.AT - timedelta(seconds=1)).isoformat()))
    assert first.ingest("health.antigen", before, now=NOW) == Rejected(
        "EventTimeTooEarly", "a time is before 2022-04-12: a typing error upstream?"
    )
    beyond = raw(f.nat(event_time=(NOW + timedelta(minutes=5, seconds=1)).isoformat()))
    assert ingestor().ingest("health.nat", beyond, now=NOW) == Rejected(
        "EventTimeInFuture", "event_time is more than 0:05:00 ahead of the receiving clock"
    )


def test_each_rejection_says_what_and_how_to_fix_it_whole() -> None:
    assert ingestor().ingest("gate.entries", None, now=NOW) == Rejected(
        "NullValue", "the record has no value (a tombstone?); send an event"
    )
    future_version = raw(f.entry(schema_version=2))
    assert ingestor().ingest("gate.entries", future_version, now=NOW) == Rejected(
        "UnknownSchemaVersion",
        "schema_version 2 is not one this pipeline reads (1); upgrade the workers first",
        2,
    )
    hidden = f.entry(consignee=f.DRIVER_ID)  # an ID number where none belongs
    result = ingestor().ingest("gate.entries", raw(hidden), now=NOW)
    assert result == Rejected(
        "PersonalDataInField",
        "consignee holds what looks like a resident ID or phone number; only id_number and "
        "phone may, and they never leave ingestion",
    )


def test_the_occupants_keep_what_the_rules_read_and_the_event_its_park_and_id() -> None:
    value = f.entry()
    value["occupants"][0] |= {"code_colour": "yellow", "on_roster": False}
    result = ingestor().ingest("gate.entries", raw(value), now=NOW)
    assert isinstance(result, Accepted)
    driver = result.event.occupants[0]  # type: ignore[attr-defined]
    presented = value["occupants"][0]
    assert (driver.code_colour, driver.on_roster, driver.nat_result) == (
        "yellow",
        False,
        presented["nat_result"],
    )
    assert (result.park, result.event_id) == ("tangu-green-bay", value["event_id"])
    assert result.event_time == VehicleEntry.model_validate_json(result.value).event_time
    nat = ingestor().ingest("health.nat", raw(f.nat()), now=NOW)
    assert isinstance(nat, Accepted) and nat.park is None  # a lab's report knows no park


def test_the_guard_trips_above_its_share_not_at_it_and_forgets_what_left_the_window() -> None:
    guard = BadShareGuard(window=4, max_share=0.5, min_messages=4)
    assert [guard.record(b) for b in (True, False, True, False)] == [False] * 4  # 2 of 4: at it
    assert guard.record(True) is False  # the first bad one left the window: 2 of 4 still
    assert guard.record(True) is True  # True False True True: 3 of 4
    assert (guard.bad, guard.seen) == (3, 4)
    # A good message slides out; the bad count follows what is in the window, not its first slot.
    for bad in (False, False, False):
        guard.record(bad)
    assert (guard.bad, guard.share) == (1, 0.25)


def test_an_occupants_nat_sample_before_the_earliest_time_is_refused() -> None:
    from streams.ingest import EARLIEST

    value = f.entry()
    value["occupants"][1]["nat_sample_time"] = (EARLIEST - timedelta(days=1)).isoformat()
    result = ingestor().ingest("gate.entries", raw(value), now=NOW)
    assert isinstance(result, Rejected) and result.error_class == "EventTimeTooEarly"


def test_a_pseudonym_with_a_long_run_of_digits_is_not_taken_for_an_id_or_phone() -> None:
    """The scan for ID and phone numbers in a canonical event looks for a run of eleven digits
    first; a pseudonym's hex holds one about once in eight (here: an 18-digit ID's length, and a
    phone's), and must still pass, while a real number beside it is found."""
    from streams.ingest import _personal_data_in

    pseudonym = b'"p_123456789012345678abcdefabcdefab"'
    assert _personal_data_in(b'{"person":' + pseudonym + b"}") is None
    assert _personal_data_in(b'{"person":"p_0013800138000abcdefabcdefabcdefa"}') is None
    assert _personal_data_in(b'{"person":' + pseudonym + b',"note":"13800138000"}') == (
        "13800138000"
    )
    assert _personal_data_in(b'{"note":"11010519491231002X"}') == "11010519491231002X"

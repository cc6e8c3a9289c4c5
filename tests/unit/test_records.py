"""A park's state as changelog records (``streams/engine/records.py``), and back: every kind of
entity written, read into a fresh park, and compared field by field with the park that wrote
it; the order a batch's records go out in; the keys."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from schemas import Decision
from schemas.resolution import Resolution
from streams.engine import Engine, records
from streams.engine.keeping import forgotten_day
from streams.engine.park import Park
from streams.engine.tracked import Entity
from tests.unit.test_rules_scenarios import (
    RULES,
    T0,
    antigen,
    crew_antigens,
    entry,
    exit_at,
    occupant,
    out_of_area,
    run,
    visit,
)


def a_park_with_one_of_everything() -> tuple[Engine, Park]:
    """Entries released (out of area, with an obligation and a visit), held then resolved by an
    officer, late, exited; antigens; an exit read before its entry; alerts, open and closed."""
    engine = run(*a_park_with_one_of_everything_events(), until=T0 + timedelta(days=2))
    return engine, engine.parks["tangu"]


def a_park_with_one_of_everything_events() -> list[Any]:
    early_exit = exit_at(timedelta(hours=30), "e-not-yet", plate="沪A77777", event_id="x-early")
    resolution = Resolution(
        event_id="r1",
        event_time=T0 + timedelta(hours=2),
        park="tangu",
        entry_id="e-held",
        officer="officer.zhang",
        action="denied",
        reason="positive escort: turned back to isolation",
    )
    return [
        out_of_area(),
        *crew_antigens(1, 2),
        visit(1, 1),
        entry(
            "e-held",
            at=T0 + timedelta(minutes=30),
            plate="沪A54321",
            occupants=[occupant(3, nat_age=None), occupant(4, "escort")],
        ),
        antigen(3, at=T0 + timedelta(minutes=35)),
        antigen(4, at=T0 + timedelta(minutes=35), result="positive"),
        resolution,
        exit_at(timedelta(hours=7)),
        early_exit,
        entry("e-late", at=T0 - timedelta(hours=1), plate="沪A11111"),  # behind the watermark
    ]


def state(park: Park) -> dict[str, Any]:
    """What a park holds, field by field (the results cached for judging again are left out:
    after a restore the first judging is whole, by design)."""
    return {
        "clocks": (park.clock, park.antigen_clock, park.watermark),
        "entries": {
            i: (
                t.entry,
                t.ref,
                t.anchor,
                t.late,
                t.revision,
                t.fingerprint,
                t.outcome,
                t.released,
                t.exited,
                t.alerts,
                t.obligation,
                t.resolution,
                t.not_passed,
                t.waiting,
            )
            for i, t in park.entries.items()
        },
        # (an index keeps a key with no entry left once one is forgotten: the same to read; a
        # restored index is in event-time order, a live one in arrival order)
        "by_person": {k: sorted(v) for k, v in park.by_person.items() if v},
        "by_plate": {k: sorted(v) for k, v in park.by_plate.items() if v},
        "by_gate": {k: v for k, v in park.by_gate.items() if v},
        "antigens": park.antigens,
        "antigen_ids": park.antigen_ids,
        "visits": park.visits,
        "visit_ids": park.visit_ids,
        "early_exits": park.early_exits,
        # (an id read back from its day's record is kept to the day's end: its expiry apart)
        "forgotten": park.forgotten_days,
        "expiry": sorted(e for e in park._expiry if e[1] != Entity.FORGOTTEN),
    }


def test_every_entity_written_and_read_back_is_the_park_that_wrote_it() -> None:
    engine, park = a_park_with_one_of_everything()
    written = {e: records.dump(park, e) for e in records.entities(park)}
    kinds = {entity.split(":")[0] for entity in written}
    assert kinds == {"c", "e", "a", "v", "x"}  # (forgotten ids: below)
    assert all(value is not None for value in written.values())
    held = park.entries["e-held"]
    assert held.resolution is not None and held.outcome == "deny"
    assert park.entries["e1"].alerts  # its stay over the cap, alerted at its exit
    assert park.entries["e1"].obligation is not None and park.entries["e1"].exited is not None
    assert park.entries["e-late"].late
    restored = Park("tangu", lambda: RULES, engine.shared)
    records.load(restored, {e: v for e, v in written.items() if v is not None})
    assert state(restored) == state(park)
    assert restored.dirty == set()  # what was read is what the changelog holds
    # The same deadlines pending (the writer's heap also keeps ones already superseded).
    due = {(when, entry_id) for when, _, entry_id in restored._heap}
    assert due and due <= {(when, entry_id) for when, _, entry_id in park._heap}


def test_a_forgotten_entry_is_a_tombstone_and_its_id_in_its_day_s_record() -> None:
    engine, park = a_park_with_one_of_everything()
    park.take_dirty()
    engine.advance(T0 + timedelta(days=20))  # past the entries' retention
    changed = park.take_dirty()
    day = forgotten_day(park.forgotten["e1"])
    assert f"f:{day}" in changed and "e:e1" in changed
    assert records.dump(park, "e:e1") is None  # the entry's record: a tombstone
    assert json.loads(records.dump(park, f"f:{day}") or b"") == sorted(park.forgotten_days[day])
    assert "e1" in park.forgotten_days[day]
    restored = Park("tangu", lambda: RULES, engine.shared)
    kept = {e: records.dump(park, e) for e in records.entities(park)}
    records.load(restored, {e: v for e, v in kept.items() if v is not None})
    assert restored.forgotten.keys() == park.forgotten.keys() and "e1" in restored.forgotten
    assert state(restored) == state(park)
    # Each id kept as long as its writer kept it, and at most a day more.
    expiry = {i: when for when, kind, i in park._expiry if kind == Entity.FORGOTTEN}
    again = {i: when for when, kind, i in restored._expiry if kind == Entity.FORGOTTEN}
    assert again.keys() == expiry.keys()
    assert all(0 <= again[i] - expiry[i] < 86_400 for i in expiry)


def test_a_forgotten_id_still_kept_goes_out_as_a_record_before_the_clock() -> None:
    engine, park = a_park_with_one_of_everything()
    engine.advance(T0 + timedelta(days=20))  # e1 forgotten, its id kept against replays
    day = f"f:{forgotten_day(park.forgotten['e1'])}"
    assert records.write_order(park, ["c:", day, "f:d1"]) == [day, "c:", "f:d1"]


def test_records_of_the_earlier_form_are_read_and_written_anew() -> None:
    """An entry's JSON as a string in its record, with its full ref and anchor; a record per
    forgotten id with its time: what the last release wrote (the changelog of a running
    deployment), read as this one's, then written in this one's form."""
    engine, park = a_park_with_one_of_everything()
    for later in (timedelta(0), timedelta(days=20)):  # entries kept, then forgotten
        engine.advance(T0 + later)
        earlier = earlier_form(park)
        restored = Park("tangu", lambda: RULES, engine.shared)
        records.load(restored, earlier)
        assert state(restored) == state(park)
        assert restored.forgotten == park.forgotten  # the earlier form's times, as they were
        rewritten = {e: records.dump(restored, e) for e in restored.take_dirty()}
        old_ids = {e for e in earlier if e.startswith("f:")}
        assert {e for e, v in rewritten.items() if v is None} == old_ids  # tombstones
        assert {e: v for e, v in rewritten.items() if v is not None} == {
            e: records.dump(park, e) for e in records.entities(park) if e.startswith("f:")
        }
        assert any(k.startswith("e:") for k in earlier) or "f:e1" in earlier
    assert "f:e1" in earlier


def earlier_form(park: Park) -> dict[str, bytes]:
    earlier: dict[str, bytes] = {}
    for entity in records.entities(park):
        value = records.dump(park, entity)
        assert value is not None
        kind, _, ident = entity.partition(":")
        if kind == "f":
            for entry_id in json.loads(value):
                earlier[f"f:{entry_id}"] = json.dumps(park.forgotten[entry_id].isoformat()).encode()
        elif kind == "e":
            tracked, fields = park.entries[ident], json.loads(value)
            fields["entry"] = tracked.entry.model_dump_json()
            fields["ref"] = list(tracked.ref)
            fields["anchor"] = tracked.anchor.isoformat()
            earlier[entity] = json.dumps(fields).encode()
        else:
            earlier[entity] = value
    return earlier


def test_a_batch_goes_out_entries_first_then_evidence_then_clocks_then_tombstones() -> None:
    _, park = a_park_with_one_of_everything()
    changed = [
        "c:",
        "x:e-not-yet",
        "a:ag-1-020800",
        "e:e1",
        "e:gone",
        "v:v1-1",
        "f:gone-too",
        "a:a-gone",
    ]
    assert records.write_order(park, changed) == [
        "e:e1",
        "a:ag-1-020800",
        "v:v1-1",
        "x:e-not-yet",
        "c:",
        "a:a-gone",
        "e:gone",
        "f:gone-too",
    ]


def test_keys_name_the_park_and_the_entity() -> None:
    key = records.key_of("tangu", "e:e1")
    assert key == b"tangu\x1fe:e1"
    assert records.split_key(key) == ("tangu", "e:e1")
    assert records.split_key(records.key_of("a:b", "c:")) == ("a:b", "c:")


def test_a_decisions_fast_json_is_its_wire_models_json_validated() -> None:
    """The decide stage sends ``Decided.json()``, written by hand for speed; every reader parses
    it as ``schemas.Decision``. On every decision of a varied run (revisions, pending, denials,
    an officer's resolution, evidence with offsets), the two say the same, field by field."""
    engine = Engine(RULES, record=False)
    sent = []
    events: list[Any] = [*a_park_with_one_of_everything_events()]
    for event in events:
        engine.feed(event)
        sent += engine.take().decisions
    engine.advance(T0 + timedelta(days=2))
    sent += engine.take().decisions
    assert len(sent) >= 6 and any(d.resolution for d in sent) and any(d.revision for d in sent)
    for decided in sent:
        parsed = Decision.model_validate_json(decided.json())
        assert parsed == Decision.model_validate(decided.wire().model_dump()), decided.event_id


def test_an_entry_whose_id_holds_colons_is_written_and_read_back_whole() -> None:
    engine = run(entry("gate:7:e1"), *crew_antigens(1, 2))
    park = engine.parks["tangu"]
    written = {e: records.dump(park, e) for e in records.entities(park)}
    assert "e:gate:7:e1" in written
    key = records.key_of("tangu", "e:gate:7:e1")
    assert records.split_key(key) == ("tangu", "e:gate:7:e1")
    restored = Park("tangu", lambda: RULES, engine.shared)
    records.load(restored, {e: v for e, v in written.items() if v is not None})
    assert list(restored.entries) == ["gate:7:e1"]
    assert state(restored) == state(park)


def test_an_entry_waiting_on_evidence_is_restored_waiting() -> None:
    engine = Engine(RULES, live=True)  # a worker: the antigen station may still send
    engine.feed(entry())
    park = engine.parks["tangu"]
    assert park.entries["e1"].waiting is True
    written = {e: records.dump(park, e) for e in records.entities(park)}
    restored = Park("tangu", lambda: RULES, engine.shared, complete_feed=False)
    records.load(restored, {e: v for e, v in written.items() if v is not None})
    assert restored.entries["e1"].waiting is True
    assert restored.entries["e1"].entry_json() == park.entries["e1"].entry_json()


def test_a_park_marks_its_clocks_for_the_changelog_when_only_the_antigen_clock_moves() -> None:
    later = entry("e2", at=T0 + timedelta(hours=3), plate="沪A99999", hazmat=False)
    engine = run(entry(), *crew_antigens(1, 2), later)
    park = engine.parks["tangu"]
    park.take_dirty()
    engine.feed(antigen(5, at=T0 + timedelta(minutes=50)))  # behind the clock, ahead of antigens
    assert park.clock == T0 + timedelta(hours=3)
    assert park.antigen_clock == T0 + timedelta(minutes=50)
    assert "c:" in park.take_dirty()
    park.take_dirty()
    engine.advance(T0 + timedelta(hours=4))  # the watermark alone moves
    assert "c:" in park.take_dirty()


def test_an_exit_taken_up_by_its_entry_is_marked_gone_for_the_changelog() -> None:
    engine = run(exit_at(timedelta(hours=2), event_id="x-first"))
    park = engine.parks["tangu"]
    park.take_dirty()
    engine.feed(entry())
    assert "x:e1" in park.take_dirty()
    assert park.early_exits == {}


def test_a_clock_moved_while_the_watermark_is_held_is_marked_for_the_changelog() -> None:
    engine = Engine(RULES)
    engine.bound = lambda park: T0  # an input not read yet holds the watermark
    engine.feed(entry("e0", at=T0, hazmat=False))
    park = engine.parks["tangu"]
    park.take_dirty()
    engine.feed(entry(at=T0 + timedelta(hours=1)))
    assert park.watermark == T0 - RULES.lateness
    assert "c:" in park.take_dirty()


def test_an_entry_written_by_the_version_that_kept_reasons_is_read_with_its_rule_ids() -> None:
    # Until 2026-12 an entry's record kept what did not pass as "<rule>: <why>" sentences, and
    # the gate wait's page split the rule ids back out of them; now it keeps the ids. A worker
    # upgraded over such a changelog reads the ids out of the old sentences, once.
    engine = Engine(RULES, live=True)
    engine.feed(entry())  # held: its antigen tests not read yet
    park = engine.parks["tangu"]
    held = park.entries["e1"].not_passed
    assert held and all(":" not in rule for rule in held)
    record = json.loads(records.dump(park, "e:e1") or b"")
    assert record["not_passed"] == list(held)
    old = {k: v for k, v in record.items() if k != "not_passed"}
    old["reasons"] = [f"{rule}: not passed yet: waits" for rule in held]
    restored = Park("tangu", lambda: RULES, engine.shared, complete_feed=False)
    records.load(restored, {"e:e1": json.dumps(old).encode()})
    assert restored.entries["e1"].not_passed == held


def test_a_record_is_compact_json_in_utf_8_saying_nothing_twice() -> None:
    """The state per tracked person is a target (<= 1 KB, docs/benchmarks.md): no spaces, no
    ``\\u`` escapes (a Chinese character is 3 bytes, not 6), an entry's ref without the entry's
    own id and topic, its anchor only when it is not the entry's time."""
    engine, park = a_park_with_one_of_everything()
    tracked = park.entries["e1"]
    assert "沪" in tracked.entry.plate and tracked.anchor == tracked.entry.event_time
    value = records.dump(park, "e:e1") or b""
    assert "沪".encode() in value and b"\\u" not in value
    assert b", " not in value and b": " not in value
    fields = json.loads(value)
    assert isinstance(fields["entry"], dict) and "anchor" not in fields
    assert fields["ref"] == list(tracked.ref)[2:]
    engine.advance(T0 + timedelta(days=20))
    day = records.dump(park, f"f:{forgotten_day(park.forgotten['e1'])}") or b""
    assert b" " not in day

"""Rollups, the pure core: folding is idempotent, a superseding decision moves counts instead of
adding them, and snapshots are absolute values per group and shard."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from schemas import Alert, AntigenTest, Decision, NatReport, RuleResult, VehicleEntry, VehicleExit
from streams.engine.outputs import ObligationMade
from streams.rollups import (
    Fact,
    Rollups,
    VersionClock,
    fold_decision,
    fold_entry,
    fold_exit,
)

T0 = datetime(2022, 5, 3, 16, 30, tzinfo=UTC)  # 00:30 on 4 May in Shanghai
PERSON = "p_" + "1" * 32
OCCUPANT = {"person": PERSON, "role": "driver"}


def entry(entry_id: str = "e1", at: datetime = T0) -> VehicleEntry:
    return VehicleEntry(
        event_id=entry_id,
        event_time=at,
        park="tangu",
        gate="g1",
        plate="沪A12345",
        hazmat=False,
        vehicle_class="truck",
        gate_class="general",
        origin_region="x",
        occupants=(OCCUPANT,),
    )


def decision(revision: int, outcome: str, *failed: str, entry_id: str = "e1") -> Decision:
    rules = tuple(RuleResult(rule=r, status="fail", outcome=outcome) for r in failed)
    return Decision(
        event_id=f"{entry_id}:{revision}",
        event_time=T0,
        entry_id=entry_id,
        revision=revision,
        park="tangu",
        gate="g1",
        plate="沪A12345",
        outcome=outcome,
        rules=rules,
        ruleset_version="v1",
    )


def apply(rollups: Rollups, shard: int, decisions: list[Decision]) -> None:
    facts: dict[str, Fact] = {}
    for d in decisions:
        folded = fold_decision(d, facts.get(f"decision:{d.entry_id}"))
        if folded is not None:
            facts[folded[0]] = folded[1]
            rollups.put(shard, *folded)


def rows(rollups: Rollups, table: str, shards: tuple[int, ...] = (0,)) -> list[tuple[object, ...]]:
    return rollups.flush(shards, version=7).get(table, [])


def test_entries_count_once_per_entry_in_the_park_local_day_and_hour() -> None:
    rollups = Rollups()
    first = fold_entry(entry(), None)
    assert first is not None
    assert fold_entry(entry(), first[1]) is None  # a replay changes nothing
    rollups.put(0, *first)
    assert rows(rollups, "rollup_gate_hourly") == [("tangu", "g1", date(2022, 5, 4), 0, 0, 7, 1, 0)]


def test_a_superseding_decision_moves_the_counts() -> None:
    rollups = Rollups()
    apply(rollups, 0, [decision(0, "hold", "nat_48h")])
    assert rows(rollups, "rollup_rules_daily") == [
        ("tangu", date(2022, 5, 4), "nat_48h", 0, 7, 1, 0)
    ]
    apply(rollups, 0, [decision(0, "hold", "nat_48h"), decision(1, "deny", "no_positive")])
    flushed = rollups.flush((0,), version=8)
    assert sorted(flushed["rollup_rules_daily"]) == [
        ("tangu", date(2022, 5, 4), "nat_48h", 0, 8, 0, 0),  # now zero: written, not skipped
        ("tangu", date(2022, 5, 4), "no_positive", 0, 8, 0, 1),
    ]
    assert flushed["rollup_outcomes_daily"] == [("tangu", date(2022, 5, 4), 0, 8, 1, 0, 0, 1)]
    # held on arrival keeps the first decision's outcome
    assert flushed["rollup_gate_hourly"] == [("tangu", "g1", date(2022, 5, 4), 0, 0, 8, 0, 1)]


def test_an_older_revision_after_a_newer_one_changes_nothing() -> None:
    newer = fold_decision(decision(2, "release"), None)
    assert newer is not None
    assert fold_decision(decision(1, "hold", "nat_48h"), newer[1]) is None
    assert fold_decision(decision(2, "release"), newer[1]) is None


def test_an_entry_decided_again_after_a_crash_counts_as_the_later_decision() -> None:
    # Seen by the chaos suite: a worker killed after sending an entry's first decision (held)
    # but before keeping its state; its successor, having read the antigen test by then,
    # decided the same revision again (released). The decisions table keeps the later row;
    # the rollups kept the first, and reconcile differed on "held on arrival".
    held = fold_decision(decision(0, "hold", "antigen_on_site"), None)
    assert held is not None
    again = fold_decision(decision(0, "release"), held[1])
    assert again is not None
    assert (again[1]["outcome"], again[1]["first"], again[1]["failed"]) == (
        "release",
        "release",
        [],
    )


def test_dwell_counts_the_earliest_exit_of_an_entry() -> None:
    rollups = Rollups()
    key, fact = fold_entry(entry(), None)
    out = VehicleExit(
        event_id="x1",
        event_time=T0 + timedelta(hours=5),
        park="tangu",
        gate="g1",
        plate="沪A12345",
        entry_id="e1",
    )
    later = out.model_copy(update={"event_id": "x2", "event_time": T0 + timedelta(hours=9)})
    _, fact = fold_exit(out, fact)
    assert fold_exit(later, fact) is None and fold_exit(out, fact) is None
    rollups.put(0, key, fact)
    assert rows(rollups, "rollup_dwell_daily") == [
        ("tangu", date(2022, 5, 4), 0, 7, 1, 5 * 3600, 5 * 3600)
    ]
    assert fold_exit(out.model_copy(update={"entry_id": None}), None) is None


def test_an_exit_before_its_entry_waits_for_it() -> None:
    out = VehicleExit(
        event_id="x1",
        event_time=T0 + timedelta(hours=2),
        park="tangu",
        gate="g1",
        plate="沪A12345",
        entry_id="e1",
    )
    key, fact = fold_exit(out, None)
    rollups = Rollups()
    rollups.put(0, key, fact)
    assert rollups.flush((0,), 1) == {}  # nothing to say without the entry
    _, fact = fold_entry(entry(), fact)
    rollups.put(0, key, fact)
    assert rows(rollups, "rollup_dwell_daily")[0][4:] == (1, 7200, 7200)


def test_flush_writes_only_owned_shards_and_only_what_changed() -> None:
    rollups = Rollups()
    for shard, entry_id in ((0, "e1"), (1, "e2"), (1, "e3")):
        rollups.put(shard, *fold_entry(entry(entry_id), None))
    assert [r[4:] for r in rows(rollups, "rollup_gate_hourly", (1,))] == [(1, 7, 2, 0)]
    assert rollups.flush((1,), 8) == {}  # clean now
    assert [r[4:] for r in rows(rollups, "rollup_gate_hourly", (0, 1))] == [(0, 7, 1, 0)]


def test_prune_drops_old_days_without_writing_zeros() -> None:
    rollups = Rollups()
    rollups.put(0, *fold_entry(entry("e1"), None))
    rollups.put(0, *fold_entry(entry("e2", T0 + timedelta(days=3)), None))
    rollups.flush((0,), 1)
    rollups.written()
    assert rollups.prune(0, date(2022, 5, 5)) == ["entry:e1"]
    assert rollups.flush((0,), 2) == {} and len(rollups) == 1


def test_a_group_not_written_yet_keeps_its_old_facts_through_a_prune() -> None:
    """The chaos suite's `hang`: the rollups' write held up 10 minutes by a ClickHouse hang
    while the parks' clocks ran weeks on; the prune then dropped facts of days behind the
    horizon whose groups had changed since their last snapshot: 1,731 groups never written."""
    rollups = Rollups()
    rollups.put(0, *fold_entry(entry("e1"), None))
    rollups.flush((0,), 1)
    rollups.written()
    rollups.put(0, *fold_entry(entry("e2", T0 + timedelta(minutes=5)), None))  # same hour
    assert rollups.prune(0, date(2022, 6, 1)) == []  # its group changed, not flushed since
    assert [r[4:] for r in rows(rollups, "rollup_gate_hourly")] == [(0, 7, 2, 0)]  # both
    assert rollups.prune(0, date(2022, 6, 1)) == []  # flushed, not known written
    rollups.written()
    assert sorted(rollups.prune(0, date(2022, 6, 1))) == ["entry:e1", "entry:e2"]


def test_a_flush_that_did_not_reach_clickhouse_is_flushed_again() -> None:
    rollups = Rollups()
    rollups.put(0, *fold_entry(entry("e1"), None))
    (first,) = rollups.flush((0,), 1)["rollup_gate_hourly"]
    rollups.not_written()
    assert rollups.prune(0, date(2022, 6, 1)) == []
    (again,) = rollups.flush((0,), 2)["rollup_gate_hourly"]
    assert again[:5] + again[6:] == first[:5] + first[6:]  # the same group and counts, version 2


def test_versions_rise_even_when_the_clock_does_not() -> None:
    clock = VersionClock()
    first = clock.next(T0)
    assert clock.next(T0) == first + 1
    assert clock.next(T0 - timedelta(seconds=1)) == first + 2
    assert clock.next(T0 + timedelta(seconds=1)) == first + 1_000_000


def every_kind() -> tuple[Any, ...]:
    """An entry, its exit 2 h later, a positive antigen, a negative one, a positive lab report,
    a visit obligation, its overdue alert and another alert."""
    positive = AntigenTest(
        event_id="ag-pos", event_time=T0, person=PERSON, park="tangu", site="g1", result="positive"
    )
    negative = positive.model_copy(update={"event_id": "ag-neg", "result": "negative"})
    lab = NatReport(
        event_id="nat-pos",
        event_time=T0 + timedelta(days=1),
        person=PERSON,
        sample_time=T0,
        result="positive",
        lab="cdc",
    )
    due = T0 + timedelta(days=7)
    owed = ObligationMade("e1", PERSON, "tangu", "ent-9", due)
    overdue = Alert(
        event_id=f"visits-overdue:e1:{PERSON}",
        event_time=due,
        severity="warning",
        rule="health_visits",
        dedup_key=f"visits-overdue:e1:{PERSON}",
        subject=PERSON,
        park="tangu",
        enterprise="ent-9",
        message="overdue",
        detected_at=due,
    )
    other_alert = overdue.model_copy(update={"dedup_key": "dwell:e1", "rule": "dwell"})
    exit_ = VehicleExit(
        event_id="x1",
        event_time=T0 + timedelta(hours=2),
        park="tangu",
        gate="g1",
        plate="沪A12345",
        entry_id="e1",
    )
    return entry(), exit_, positive, negative, lab, owed, overdue, other_alert


def test_rollups_fold_each_kind_of_input_and_output_through_fold() -> None:
    """``Rollups.fold``, as the decide stage calls it, for each kind: entries and exits, tests
    (a positive counts once on the day it was read, a negative not at all), decisions,
    obligations and overdue-visit alerts (other alerts count elsewhere); each replay changes
    nothing; another shard's fact is not this shard's."""
    rollups = Rollups()
    entry_, exit_, positive, negative, lab, owed, overdue, other_alert = every_kind()
    items = [entry_, exit_, positive, negative, lab, decision(0, "deny", "no_positive"), owed]
    for item in [*items, overdue, other_alert, *items, overdue]:  # and every one read again
        rollups.fold(3, item)
    changed = rollups.take_changed()
    assert changed == {
        (3, key)
        for key in (
            "entry:e1",
            "positive:ag-pos",
            "positive:nat-pos",
            "decision:e1",
            f"obligation:e1:{PERSON}",
            f"overdue:visits-overdue:e1:{PERSON}",
        )
    }
    assert rollups.get("positive:ag-neg") is None and rollups.get("overdue:dwell:e1") is None
    assert rollups.fact(3, "entry:e1") == {
        "park": "tangu",
        "gate": "g1",
        "day": "2022-05-04",
        "hour": 0,
        "t": int(T0.timestamp()),
        "x": int(exit_.event_time.timestamp()),
    }
    assert rollups.fact(4, "entry:e1") is None  # not this shard's
    flushed = rollups.flush((3,), version=9)
    assert sorted(flushed["rollup_positives_daily"]) == [
        (date(2022, 5, 4), "antigen", 3, 9, 1),
        (date(2022, 5, 5), "nat", 3, 9, 1),
    ]
    assert flushed["rollup_visits_daily"] == [("tangu", "ent-9", date(2022, 5, 11), 3, 9, 1, 1)]
    assert flushed["rollup_dwell_daily"] == [("tangu", date(2022, 5, 4), 3, 9, 1, 7200, 7200)]
    assert flushed["rollup_outcomes_daily"] == [("tangu", date(2022, 5, 4), 3, 9, 1, 0, 0, 1)]
    rollups.drop_shard(3)  # another worker owns it now
    assert rollups.get("entry:e1") is None and rollups.flush((3,), version=10) == {}


def test_a_replay_of_every_kind_changes_no_fact_and_writes_nothing_again() -> None:
    rollups = Rollups()
    entry_, exit_, positive, _, lab, owed, overdue, _ = every_kind()
    for item in (entry_, exit_, positive, lab, decision(1, "hold", "nat_48h"), owed, overdue):
        rollups.fold(0, item)
    rollups.take_changed()
    # Read again, an older revision among them: no fact changes, none goes to the changelog.
    for item in (exit_, positive, lab, decision(0, "release"), owed, overdue, entry_):
        rollups.fold(0, item)
    assert rollups.take_changed() == set()
    assert rollups.fact(0, "entry:e1")["x"] == int(exit_.event_time.timestamp())  # type: ignore[index]
    assert rollups.fact(0, "decision:e1")["outcome"] == "hold"  # type: ignore[index]


@pytest.mark.parametrize(
    ("outcome", "counts", "held_on_arrival"),
    [("release", (1, 0, 0), 0), ("hold", (0, 1, 0), 1), ("deny", (0, 0, 1), 1)],
)
def test_each_outcome_counts_in_its_own_column(
    outcome: str, counts: tuple[int, int, int], held_on_arrival: int
) -> None:
    rollups = Rollups()
    rollups.fold(0, entry())
    rollups.fold(0, decision(0, outcome, *(("nat_48h",) if outcome != "release" else ())))
    flushed = rollups.flush((0,), version=1)
    assert flushed["rollup_outcomes_daily"] == [("tangu", date(2022, 5, 4), 0, 1, 1, *counts)]
    assert flushed["rollup_gate_hourly"] == [
        ("tangu", "g1", date(2022, 5, 4), 0, 0, 1, 1, held_on_arrival)
    ]
    measure = {"release": None, "hold": (1, 0), "deny": (0, 1)}[outcome]
    assert [r[5:] for r in flushed.get("rollup_rules_daily", [])] == ([measure] if measure else [])


def test_an_exit_at_the_entrys_own_second_counts_a_dwell_of_zero() -> None:
    rollups = Rollups()
    rollups.fold(0, entry())
    rollups.fold(
        0,
        VehicleExit(
            event_id="x0", event_time=T0, park="tangu", gate="g1", plate="沪A12345", entry_id="e1"
        ),
    )
    assert rollups.flush((0,), version=1)["rollup_dwell_daily"] == [
        ("tangu", date(2022, 5, 4), 0, 1, 1, 0, 0)
    ]


def test_an_obligation_met_counts_as_owed_and_not_overdue() -> None:
    rollups = Rollups()
    _, _, _, _, _, owed, _, _ = every_kind()
    rollups.fold(0, owed)
    assert rollups.flush((0,), version=1)["rollup_visits_daily"] == [
        ("tangu", "ent-9", date(2022, 5, 11), 0, 1, 1, 0)
    ]


def test_a_key_of_no_known_fact_is_refused_by_name() -> None:
    from streams.rollups import contributions

    with pytest.raises(ValueError, match="not a rollup fact key: 'visit:v1'"):
        contributions("visit:v1", {})


def test_an_entry_held_on_arrival_stays_held_on_arrival_when_released_later() -> None:
    rollups = Rollups()
    rollups.fold(0, entry())
    rollups.fold(0, decision(0, "hold", "nat_48h"))
    rollups.fold(0, decision(1, "release"))
    flushed = rollups.flush((0,), version=1)
    assert flushed["rollup_gate_hourly"] == [("tangu", "g1", date(2022, 5, 4), 0, 0, 1, 1, 1)]
    assert flushed["rollup_outcomes_daily"] == [("tangu", date(2022, 5, 4), 0, 1, 1, 1, 0, 0)]


def test_prune_keeps_the_day_it_is_given_and_drops_the_days_before() -> None:
    rollups = Rollups()
    rollups.fold(0, entry("e-old", at=T0 - timedelta(days=1)))
    rollups.fold(0, entry("e-day", at=T0))
    rollups.flush((0,), version=1)
    rollups.written()  # ClickHouse has the snapshots
    assert rollups.prune(0, date(2022, 5, 4)) == ["entry:e-old"]
    assert rollups.get("entry:e-day") is not None

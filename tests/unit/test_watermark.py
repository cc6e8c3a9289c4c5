"""The group's watermark (streams/agents/_shared.py), from the lanes every worker publishes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.agents._shared import (
    DEPTH,
    EPOCH,
    Lane,
    Tick,
    WorkerState,
    settled_time,
    sources_time,
)
from streams.rules import DEFAULT_RULESET, load_ruleset

T = datetime(2022, 5, 4, 2, 0, tzinfo=UTC)
BEAT = T + timedelta(days=8)  # the gates' heartbeats, far ahead of the events (a replay)
CHECKS = ("sentinel.person-checks", 3)


def day(n: float) -> datetime:
    return T + timedelta(days=n)


def test_a_raw_partition_behind_holds_the_sources_at_what_was_processed_from_it() -> None:
    lanes = {
        ("gate.entries", 0): Lane(processed=10, end=10, seen=day(6)),
        ("health.visits", 1): Lane(processed=10, end=50, seen=day(2)),
        CHECKS: Lane(processed=0, end=99),  # derived lanes say nothing about event time
    }
    assert sources_time(lanes, BEAT) == day(2)


def test_with_every_raw_partition_processed_the_heartbeats_count() -> None:
    lanes = {("gate.entries", p): Lane(processed=5, end=5, seen=T) for p in range(4)}
    assert sources_time(lanes, BEAT) == BEAT
    assert sources_time(lanes, EPOCH) == T


def ticks(*steps: tuple[int, int, datetime]) -> list[Tick]:
    """Ticks of one derived partition: (processed, end, sources) each."""
    return [Tick({CHECKS: done}, {CHECKS: end}, at) for done, end, at in steps]


def test_drained_derived_partitions_leave_the_raw_ones_to_decide() -> None:
    assert settled_time(ticks((0, 0, day(0)), (7, 7, day(3)))) == day(3)


def test_unprocessed_derived_messages_hold_it_at_the_tick_they_were_caused_after() -> None:
    # Another worker's vehicle stage still queues obligations for this worker, sent because of
    # events of day 0 or later: the heartbeats (day 8) must wait until the checks are drained.
    history = ticks((0, 0, day(0)), (0, 100, day(1)), (100, 250, day(2)), (180, 260, BEAT))
    assert settled_time(history) == day(0)
    history += ticks((300, 300, BEAT))
    assert settled_time(history) == BEAT


def test_it_is_not_known_while_the_derived_partitions_were_never_drained() -> None:
    assert settled_time(ticks((0, 100, day(1)), (50, 200, day(2)), (90, 300, day(3)))) == EPOCH


def test_it_follows_back_at_most_depth_hops_and_finds_the_tick_by_bisection() -> None:
    # Each tick processes exactly what the one before held: DEPTH hops back from the last.
    steps = [(10 * n, 10 * (n + 1), day(n)) for n in range(100)]
    assert settled_time(ticks(*steps)) == day(99 - DEPTH)
    assert settled_time(ticks(*steps), depth=1) == day(98)


def test_the_watermark_trails_by_the_lateness_and_never_goes_back() -> None:
    shared = WorkerState(load_ruleset(DEFAULT_RULESET), evidence_lag_max=100)
    done = {CHECKS: Lane(processed=5, end=5), ("gate.entries", 0): Lane(5, 5, seen=day(2))}
    shared.progress(done)
    assert shared.watermark == day(2) - shared.rules.lateness
    shared.progress({**done, ("gate.entries", 0): Lane(5, 9, seen=day(1))})
    assert shared.watermark == day(2) - shared.rules.lateness


def test_lagging_evidence_is_counted_over_the_group_and_its_recovery_reported_once() -> None:
    shared = WorkerState(load_ruleset(DEFAULT_RULESET), evidence_lag_max=100)
    shared.progress({("canonical.antigen", p): Lane(processed=0, end=60) for p in range(2)})
    assert shared.lagging == {"antigen"}
    shared.progress({("canonical.antigen", p): Lane(processed=60, end=60) for p in range(2)})
    assert shared.lagging == frozenset()
    assert shared.recovered == {"antigen"}

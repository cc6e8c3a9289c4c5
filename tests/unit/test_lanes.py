"""The decide stage's lanes: a park's watermark waits for its partition's inputs still to come,
and stops waiting for one that has gone quiet (an idle source, as Flink marks one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.engine.lanes import FAR_FUTURE, Lanes

T = datetime(2022, 4, 14, 2, 0, tzinfo=UTC)
TOPICS = ("gate.entries", "gate.heartbeats")


def ends(**by_topic: int) -> object:
    return lambda topic, partition: by_topic.get(topic.replace("gate.", ""))


def nothing_committed(topic: str, partition: int) -> int | None:
    return None


def test_a_lane_with_messages_to_process_holds_at_what_was_processed_from_it() -> None:
    lanes = Lanes(TOPICS, idle=5)
    lanes.assigned([0], now=0)
    lanes.processed("gate.entries", 0, 9, T, now=1)
    lanes.processed("gate.heartbeats", 0, 99, T + timedelta(days=3), now=1)
    # The heartbeats ran three days ahead; entries are still to come: the clock waits for them.
    highwater = ends(entries=50, heartbeats=100)
    assert lanes.bound(0, highwater, nothing_committed, now=2) == T  # type: ignore[arg-type]


def test_a_lane_quiet_for_longer_than_idle_stops_holding() -> None:
    lanes = Lanes(TOPICS, idle=5)
    lanes.assigned([0], now=0)
    lanes.processed("gate.entries", 0, 9, T, now=1)
    lanes.processed("gate.heartbeats", 0, 99, T + timedelta(hours=3), now=10)
    highwater = ends(entries=10, heartbeats=100)  # every entry processed
    assert lanes.bound(0, highwater, nothing_committed, now=5) == T  # type: ignore[arg-type]
    assert (
        lanes.bound(0, highwater, nothing_committed, now=7)  # type: ignore[arg-type]
        == T + timedelta(hours=3)
    )
    assert lanes.bound(0, highwater, nothing_committed, now=16) == FAR_FUTURE  # type: ignore[arg-type]


def test_a_just_assigned_lane_holds_until_it_is_read_or_idle() -> None:
    lanes = Lanes(TOPICS, idle=5)
    lanes.assigned([0], now=0)
    lanes.processed("gate.heartbeats", 0, 5, T, now=1)
    # gate.entries: nothing fetched yet; a preloaded backlog the committed offset is behind of.
    backlog = ends(entries=500, heartbeats=6)
    committed = lambda topic, partition: 0  # noqa: E731
    assert lanes.bound(0, backlog, committed, now=30).year == 1970  # type: ignore[arg-type]
    # Nothing behind the committed offsets and quiet since the assignment: no hold.
    quiet = Lanes(TOPICS, idle=5)
    quiet.assigned([0], now=0)
    quiet.processed("gate.heartbeats", 0, 5, T, now=1)
    caught_up = ends(entries=500, heartbeats=6)
    done = lambda topic, partition: 500 if topic == "gate.entries" else 6  # noqa: E731
    assert quiet.bound(0, caught_up, done, now=30) == FAR_FUTURE  # type: ignore[arg-type]


def test_a_just_assigned_lane_whose_end_is_unknown_holds_however_long_its_fetch_takes() -> None:
    # Seen in a fresh-clone run on a loaded machine: a first fetch slower than `idle`, the
    # heartbeats' backlog ran the clock past visit deadlines, and 3 visits read late were overdue.
    lanes = Lanes(TOPICS, idle=5)
    lanes.assigned([0], now=0)
    lanes.processed("gate.heartbeats", 0, 5, T, now=1)
    unfetched = ends(heartbeats=6)  # gate.entries: no fetch answered yet, no highwater
    assert lanes.bound(0, unfetched, nothing_committed, now=60).year == 1970  # type: ignore[arg-type]
    fetched = ends(entries=0, heartbeats=6)  # its first fetch: an empty lane, nothing to wait for
    assert lanes.bound(0, fetched, nothing_committed, now=66) == FAR_FUTURE  # type: ignore[arg-type]


def test_the_bound_is_per_partition_and_behind_counts_messages_left() -> None:
    lanes = Lanes(TOPICS, idle=5)
    lanes.assigned([0, 1], now=0)
    lanes.processed("gate.entries", 0, 9, T, now=1)
    lanes.processed("gate.entries", 1, 19, T + timedelta(days=1), now=1)
    highwater = ends(entries=30, heartbeats=0)
    # At 6 s the heartbeats lane, assigned and never written, has gone idle; entries are left.
    assert lanes.bound(1, highwater, nothing_committed, now=6) == T + timedelta(days=1)  # type: ignore[arg-type]
    assert lanes.behind("gate.entries", highwater) == (30 - 10) + (30 - 20)  # type: ignore[arg-type]
    lanes.revoked([1])
    assert lanes.behind("gate.entries", highwater) == 20  # type: ignore[arg-type]


def test_a_lane_is_active_for_idle_seconds_after_assignment_and_not_a_moment_more() -> None:
    lanes = Lanes(TOPICS, idle=5)
    lanes.assigned([0], now=10)
    lanes.processed("gate.heartbeats", 0, 5, T, now=10)
    # gate.entries: assigned, its end known and nothing in it: it holds for idle from the
    # assignment (with nothing seen), then neither lane does.
    empty = ends(entries=0, heartbeats=6)
    assert lanes.bound(0, empty, nothing_committed, now=14.9).year == 1970  # type: ignore[arg-type]
    assert lanes.bound(0, empty, nothing_committed, now=15) == FAR_FUTURE  # type: ignore[arg-type]


def test_the_committed_offset_says_where_a_lane_starts_per_partition() -> None:
    lanes = Lanes(TOPICS, idle=5)
    lanes.assigned([3], now=0)
    lanes.processed("gate.heartbeats", 3, 5, T, now=0)
    at = {("gate.entries", 3): 1}  # one message in the lane, its offset 0 committed past it
    highwater = lambda topic, partition: at.get((topic, partition), 6)  # noqa: E731
    one_done = lambda topic, partition: at.get((topic, partition))  # noqa: E731
    assert lanes.bound(3, highwater, one_done, now=30) == FAR_FUTURE
    none_done = lambda topic, partition: None  # noqa: E731  # from offset 0: one to read
    assert lanes.bound(3, highwater, none_done, now=30).year == 1970


def test_a_lanes_seen_time_only_moves_forward_and_a_timeless_message_keeps_it() -> None:
    lanes = Lanes(TOPICS, idle=5)
    lanes.processed("gate.entries", 0, 0, T + timedelta(hours=1), now=0)
    lanes.processed("gate.entries", 0, 1, T, now=0)  # behind: the lane still saw 1 h
    lanes.processed("gate.entries", 0, 2, None, now=0)  # a resolution: no event time to go by
    highwater = ends(entries=10)
    assert lanes.bound(0, highwater, nothing_committed, now=1) == T + timedelta(hours=1)  # type: ignore[arg-type]
    assert lanes.behind("gate.entries", highwater) == 7  # type: ignore[arg-type]


def test_a_bound_over_some_topics_skips_the_lanes_it_does_not_know() -> None:
    lanes = Lanes(TOPICS, idle=5)
    lanes.processed("gate.heartbeats", 0, 1, T, now=0)
    lanes.processed("gate.entries", 0, 1, T + timedelta(hours=2), now=0)
    highwater = ends(entries=10, heartbeats=10)
    # gate.entries of partition 0 known; gate.heartbeats of partition 1 not: skipped, not the end.
    assert (
        lanes.bound(0, highwater, nothing_committed, now=1, topics=["gate.entries"])  # type: ignore[arg-type]
        == T + timedelta(hours=2)
    )
    assert lanes.bound(0, highwater, nothing_committed, now=1) == T  # type: ignore[arg-type]
    lanes.revoked([0])
    assert lanes.bound(0, highwater, nothing_committed, now=1) == FAR_FUTURE  # type: ignore[arg-type]
    assert lanes.behind("gate.entries", highwater) == 0  # type: ignore[arg-type]


def test_a_lane_read_past_its_known_end_counts_nothing_behind() -> None:
    lanes = Lanes(TOPICS, idle=5)
    lanes.processed("gate.entries", 0, 20, T, now=0)  # the highwater known is older
    lanes.processed("gate.entries", 1, 2, T, now=0)
    assert lanes.behind("gate.entries", ends(entries=10)) == 7  # type: ignore[arg-type]


def test_a_lane_not_held_here_does_not_stop_the_others_from_holding() -> None:
    lanes = Lanes(TOPICS, idle=5)
    lanes.processed("gate.heartbeats", 0, 1, T, now=0)  # gate.entries of partition 0: none
    assert lanes.bound(0, ends(heartbeats=10), nothing_committed, now=1) == T  # type: ignore[arg-type]


def test_behind_counts_each_partition_against_its_own_end() -> None:
    lanes = Lanes(TOPICS, idle=5)
    lanes.assigned([0, 1], now=0)  # nothing processed: behind by the whole lane
    lanes.processed("gate.entries", 1, 4, T, now=0)
    by_partition = {0: 10, 1: 20}
    highwater = lambda topic, partition: by_partition[partition]  # noqa: E731
    assert lanes.behind("gate.entries", highwater) == 10 + 15

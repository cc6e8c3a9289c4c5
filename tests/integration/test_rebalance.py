"""Parks move between workers when one joins or leaves: the new owner restores their state from
the changelog and goes on. Deadlines that fired before must not fire again, and none may be lost.
Here every driver but one made both health visits, each park's clock is days past every deadline,
and then a second worker joins and leaves, twice: only the one visit really missed is ever
reported, and the rollups, flushed again by each new owner, equal the raw tables."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from schemas import Alert, GateHeartbeat
from streams.progress import wait_while_moving
from streams.report import reconcile
from streams.settings import Settings
from tests.integration import story
from tests.integration.helpers import (
    STALL,
    Tail,
    Worker,
    drained,
    query,
    running_worker,
    send_events,
)

DRIVERS = 1200
PARKS = [f"park-{n}" for n in range(8)]  # spread over the partitions, and so over the workers


def test_parks_moving_between_workers_report_only_the_visits_really_missed(
    fresh: Settings, tmp_path: Path
) -> None:
    drivers = story.people(DRIVERS, "330402")
    entries, visits = [], []
    for n, driver in enumerate(drivers):
        at = story.T0 + timedelta(seconds=30 * n)
        park = PARKS[n % len(PARKS)]
        entries.append(
            story.entry(
                f"rb-{n}",
                [driver],
                at=at,
                hazmat=False,
                plate=f"浙F{n:05d}",
                origin="浙江省嘉兴市南湖区",
                park=park,
            )
        )
        made = 1 if n == 0 else 2  # the first driver makes one visit of two: really overdue
        visits += [
            story.visit(f"rb-{n}-{k}", driver, at + timedelta(days=k), f"rb-{n}", park=park)
            for k in range(1, made + 1)
        ]
    visits.sort(key=lambda v: v[1].event_time)
    later = story.T0 + timedelta(days=10)  # every park's clock past every deadline
    beats = [
        (
            "gate.heartbeats",
            GateHeartbeat(event_id=f"beat-{p}", event_time=later, park=p, gate="jinshanwei-1"),
        )
        for p in PARKS
    ]
    with running_worker(fresh, tmp_path) as first:
        send_events(fresh, entries, "entries")
        drained(fresh)
        send_events(fresh, visits, "visits")
        drained(fresh)
        send_events(fresh, beats, "heartbeats")
        alerts = Tail(fresh, "sentinel.alerts")
        try:
            alerts.wait(_overdue, what="the overdue visit of driver 0")
            drained(fresh)
            _ticks(first, 3)
            assert _entries(alerts.matching(_overdue)) == ["rb-0"]
            for _ in range(2):  # a second worker joins, then leaves: parks move each time
                before = len(first.readies())
                with running_worker(fresh, tmp_path) as second:
                    first.wait_rebalanced(before)
                    assert " 0 park partitions" not in second.readies()[-1]
                    # Each partition number whole on one worker: every raw topic's partition N
                    # (faust's round-robin assignor gave each worker some of every park).
                    held = [_park_partitions(w.readies()[-1]) for w in (first, second)]
                    assert sum(held) == fresh.partitions, held
                    _ticks(first, 3)
                    _ticks(second, 3)
                    assert _entries(alerts.matching(_overdue)) == ["rb-0"]
                    before = len(first.readies())
                first.wait_rebalanced(before)
                _ticks(first, 3)
                assert _entries(alerts.matching(_overdue)) == ["rb-0"]
        finally:
            alerts.close()
        # The rollups too were flushed from restored facts only: each equals the raw tables.
        drained(fresh)
        wait_while_moving(
            lambda: reconcile(lambda sql: query(fresh, sql))[1] == [],
            first.signs,
            what="the rollups to equal the raw tables",
            stall=STALL,
        )


def _park_partitions(ready: str) -> int:
    found = re.search(r"\((\d+) park partitions\)", ready)
    assert found, ready
    return int(found.group(1))


def _ticks(worker: Worker, more: int) -> None:
    """Wait until the worker's clock has ticked ``more`` times (its deadlines looked at)."""
    start = worker.metric("sentinel_clock_ticks_total")
    wait_while_moving(
        lambda: worker.metric("sentinel_clock_ticks_total") >= start + more,
        worker.signs,
        what=f"{more} ticks of the worker's clock",
        stall=STALL,
    )


def _overdue(record: Any) -> bool:
    return Alert.model_validate_json(record.value).dedup_key.startswith("visits-overdue:")


def _entries(records: list[Any]) -> list[str | None]:
    return sorted({Alert.model_validate_json(r.value).entry_id for r in records})

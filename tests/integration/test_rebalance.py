"""A rebalance restores a worker's tables from their changelogs, from their start: until it is
done, each key goes back through its past states. The deadlines wait for that. Here every
driver but one made both health visits, the watermark is days past every deadline, and then a
second worker joins: the first one's sweeps, running on past states while it restored them,
reported drivers overdue whose visits came later in the changelog. The rollups, flushed by a
timer as well, must equal the raw tables afterwards."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from schemas import Alert
from streams.report import reconcile
from streams.settings import Settings
from tests.integration import story
from tests.integration.helpers import Tail, drained, query, running_worker, send_events

DRIVERS = 3000  # enough that restoring takes a few seconds


def test_a_rebalance_past_every_deadline_reports_only_the_visits_really_missed(
    fresh: Settings, tmp_path: Path
) -> None:
    drivers = story.people(DRIVERS, "330402")
    entries, visits = [], []
    for n, driver in enumerate(drivers):
        at = story.T0 + timedelta(seconds=10 * n)
        entries.append(
            story.entry(f"rb-{n}", [driver], at=at, hazmat=False, plate=f"浙F{n:05d}",
                        origin="浙江省嘉兴市南湖区")
        )  # fmt: skip
        made = 1 if n == 0 else 2  # the first driver makes one visit of two: really overdue
        visits += [
            story.visit(f"rb-{n}-{k}", driver, at + timedelta(days=k), f"rb-{n}")
            for k in range(1, made + 1)
        ]
    visits.sort(key=lambda v: v[1].event_time)
    later = story.entry("rb-later", story.people(1), at=story.T0 + timedelta(days=10),
                        hazmat=False, plate="沪B77777")  # fmt: skip
    with running_worker(fresh, tmp_path) as first:
        # Their obligations first, then the visits meeting them.
        send_events(fresh, entries, "entries")
        drained(fresh)
        send_events(fresh, visits, "visits")
        drained(fresh)
        send_events(fresh, [later], "later")  # the watermark goes past every deadline
        alerts = Tail(fresh, "sentinel.alerts")
        try:
            alerts.wait(_overdue, what="the overdue visit of driver 0")
            drained(fresh)
            time.sleep(3)  # three more sweeps
            assert _entries(alerts.wait(_overdue, timeout=1)) == ["rb-0"]
            for _ in range(2):  # a second worker joins, then leaves: two restores each time
                before = len(first.readies())
                with running_worker(fresh, tmp_path) as second:
                    first.wait_rebalanced(before)
                    time.sleep(3)  # three more sweeps
                    assert " 0 partitions" not in second.readies()[-1]
                    assert _entries(alerts.wait(_overdue, timeout=1)) == ["rb-0"]
                    before = len(first.readies())
                first.wait_rebalanced(before)
                time.sleep(3)
                assert _entries(alerts.wait(_overdue, timeout=1)) == ["rb-0"]
        finally:
            alerts.close()
        # The rollups too were flushed from restored facts only: each equals the raw tables.
        deadline = time.monotonic() + 60
        while (mismatches := reconcile(lambda sql: query(fresh, sql))[1]) and (
            time.monotonic() < deadline
        ):
            time.sleep(2)
        assert mismatches == []


def _overdue(record: Any) -> bool:
    return Alert.model_validate_json(record.value).dedup_key.startswith("visits-overdue:")


def _entries(records: list[Any]) -> list[str | None]:
    return sorted({Alert.model_validate_json(r.value).entry_id for r in records})

"""The lag fail-safe on the real broker (``DecideStage._lagging``): while more lab reports than
``SENTINEL_EVIDENCE_LAG_MAX`` wait unread, the absence of a NAT proves nothing, so an entry
that lacks one is pending with the reason, never failed (nor released); once the reports are
read, it is judged again on them.

The reports are held back the way a real outage holds them: a lab's partition of health.nat is
quarantined (its garbage over the DLQ limit), and the reports sent after it wait there until an
operator lifts it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from schemas import Decision, RawNatReport
from streams.progress import wait_while_moving
from streams.settings import Settings
from streams.topics import partition_of
from tests.integration import story
from tests.integration.helpers import (
    STALL,
    Tail,
    consume_until,
    isolated,
    produce,
    running_worker,
    sentinel_cli,
)
from tests.integration.test_rules_story import send


def test_an_entry_is_pending_while_lab_reports_lag_then_decided_on_them(
    stack_settings: Settings, services: None, tmp_path: Path
) -> None:
    with isolated(stack_settings) as settings:
        park_partition = partition_of(b"tangu-green-bay", settings.partitions)
        # People whose lab reports land on one partition of health.nat, apart from the park's.
        people = [p for p in story.people(200) if p.id_number[:6] == "310116"]
        bad = next(
            b
            for b in (partition_of(p.id_number.encode(), settings.partitions) for p in people)
            if b != park_partition
        )
        lab_people = [
            p for p in people if partition_of(p.id_number.encode(), settings.partitions) == bad
        ]
        assert len(lab_people) >= 1
        driver = lab_people[0]
        garbage_key = driver.id_number.encode()
        overrides = {"dlq_window": "20", "evidence_lag_max": "5"}
        decisions = Tail(settings, "sentinel.decisions")
        try:
            with running_worker(settings, tmp_path, **overrides) as worker:
                # The lab's link sends garbage: its partition is quarantined, and what it sends
                # next (the driver's negative NAT among it) waits there unread.
                produce(
                    settings, "health.nat", [(garbage_key, b"not json %d" % i) for i in range(60)]
                )
                (record,) = consume_until(settings, "sentinel.quarantine", 1)
                assert json.loads(record.value)["partition"] == bad
                at = story.T0
                nat = RawNatReport(
                    event_id="nat-behind",
                    event_time=at - timedelta(hours=2),
                    id_number=driver.id_number,
                    sample_time=at - timedelta(hours=20),
                    result="negative",
                    lab="cdc",
                )
                produce(settings, "health.nat", [(garbage_key, nat.model_dump_json().encode())])
                # The stage looks at its lag once a tick: within a few ticks it says so.
                ticks = worker.metric("sentinel_clock_ticks_total")
                said_late = "shared evidence read too late: nat"
                wait_while_moving(
                    lambda: (
                        said_late in worker.log()
                        or worker.metric("sentinel_clock_ticks_total") >= ticks + 5
                    ),
                    worker.signs,
                    what="five ticks of the stage's clock",
                    stall=STALL,
                )
                assert said_late in worker.log()
                send(
                    settings,
                    story.entry("lagging", [driver], at=at, nat_ages=[None], hazmat=False),
                )
                pending = Decision.model_validate_json(
                    decisions.wait(lambda r: r.key == b"lagging", "the entry's decision")[0].value
                )
                nat_result = next(r for r in pending.rules if r.rule == "nat_48h")
                assert (pending.outcome, nat_result.status) == ("hold", "pending")
                assert nat_result.reason == "pending: lab reports are read too late to tell"
                assert "nat_48h" not in pending.failed_rules
                assert worker.process.poll() is None
                # The lab is fixed; the operator lifts the quarantine: the report is read, and
                # the entry is judged again on it.
                said = sentinel_cli(
                    settings, "quarantine", "lift", f"health.nat:{bad}", "--by", "ops-7"
                )
                assert "lifted" in said
                released = decisions.wait(
                    lambda r: (
                        r.key == b"lagging"
                        and Decision.model_validate_json(r.value).outcome == "release"
                    ),
                    "the entry released on the report read at last",
                )
                decision = Decision.model_validate_json(released[0].value)
                assert decision.revision > pending.revision
                nat_result = next(r for r in decision.rules if r.rule == "nat_48h")
                assert (nat_result.status, nat_result.reason) == (
                    "pass",
                    "negative NAT reported by a lab",
                )
        finally:
            decisions.close()

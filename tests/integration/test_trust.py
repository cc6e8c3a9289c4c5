"""Decisions a park can trust, through the real broker, a running worker and ClickHouse: missing
data never passes, a worker decides nothing before it has read the reference topics, the officer's
hand (``sentinel resolve``) with its audit trail, and the lag fail-safe when the antigen results
come late."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas import Decision, GateHeartbeat, RiskAreaUpdate
from streams.jsonl import envelope, key_for
from streams.settings import Settings
from tests.integration import story
from tests.integration.helpers import (
    Tail,
    Worker,
    poll_query,
    produce,
    running_worker,
    settings_env,
)


def send(settings: Settings, *events: tuple[str, Any]) -> None:
    for topic, event in events:
        record = envelope(topic, event)
        produce(settings, topic, [(key_for(record), json.dumps(record["value"]).encode())])


@pytest.fixture(scope="module")
def decisions(settings: Settings, worker: Worker) -> Iterator[Tail]:
    tail = Tail(settings, "sentinel.decisions")
    yield tail
    tail.close()


def decided(tail: Tail, entry_id: str, predicate: Any = lambda d: True, what: str = "") -> Decision:
    records = tail.wait(
        lambda r: (
            (d := Decision.model_validate_json(r.value)).entry_id == entry_id and predicate(d)
        ),
        what=what or f"a decision for {entry_id}",
    )
    return Decision.model_validate_json(records[-1].value)


def sentinel(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=600,  # a guard against a hung command; it waits on progress itself
    )


def test_an_entry_with_no_code_colour_is_held_with_a_reason_never_released(
    settings: Settings, decisions: Tail
) -> None:
    driver, escort = story.people(2)
    topic, entry = story.entry("no-colour", [driver, escort])
    value = entry.model_dump(mode="json", exclude_none=True)
    del value["occupants"][0]["code_colour"]  # the gate system did not send it
    produce(settings, topic, [(b"tangu-green-bay", json.dumps(value).encode())])
    at = story.T0 + timedelta(minutes=8)
    send(settings, story.antigen("ag-nc-1", driver, at), story.antigen("ag-nc-2", escort, at))
    final = decided(decisions, "no-colour", lambda d: not d.pending_rules, "its antigens judged")
    assert final.outcome == "hold"
    colour = next(r for r in final.rules if r.rule == "health_code" and r.status == "fail")
    assert colour.reason == "no health-code colour presented"
    rows = poll_query(
        settings,
        "SELECT outcome, rule_reasons FROM decisions FINAL WHERE entry_id = 'no-colour' "
        "ORDER BY revision DESC LIMIT 1",
        {},
        rows=1,
    )
    assert rows[0][0] == "hold" and "no health-code colour presented" in rows[0][1]


def test_an_officer_releases_a_held_truck_and_cannot_release_a_positive_one(
    settings: Settings, decisions: Tail
) -> None:
    crew = story.people(2)
    send(settings, story.entry("held-res", crew, nat_ages=[60, 20]))  # no antigen ever comes
    held = decided(decisions, "held-res", lambda d: d.outcome == "hold", "the hold")
    done = sentinel(
        settings,
        "resolve",
        "held-res",
        "--action",
        "released_after_check",
        "--officer",
        "wang-3",
        "--reason",
        "papers checked",
    )
    assert done.returncode == 0, done.stderr
    released = decided(decisions, "held-res", lambda d: d.outcome == "release", "the release")
    assert released.revision > held.revision
    assert released.resolution is not None and released.resolution.officer == "wang-3"
    audit = poll_query(
        settings,
        "SELECT officer, action, accepted, superseded_revision, revision FROM resolutions FINAL "
        "WHERE entry_id = 'held-res'",
        {},
        rows=1,
    )
    assert audit == [("wang-3", "released_after_check", 1, held.revision, released.revision)]

    positive = story.people(2)
    at = story.T0 + timedelta(hours=2)
    send(
        settings,
        story.entry("pos-res", positive, at=at, plate="沪A77777"),
        story.antigen("ag-pos-res", positive[0], at + timedelta(minutes=5), "positive"),
    )
    decided(decisions, "pos-res", lambda d: d.outcome == "deny", "the denial")
    refused = sentinel(
        settings,
        "resolve",
        "pos-res",
        "--action",
        "released_after_check",
        "--officer",
        "wang-3",
        "--reason",
        "looks fine",
    )
    assert refused.returncode == 1
    assert "refused: cannot release" in refused.stdout and "positive" in refused.stdout
    rows = poll_query(
        settings,
        "SELECT accepted, refusal FROM resolutions FINAL WHERE entry_id = 'pos-res'",
        {},
        rows=1,
    )
    assert rows[0][0] == 0 and "positive" in rows[0][1]


def test_antigen_results_held_back_keep_an_entry_pending_then_it_is_judged_again(
    settings: Settings, decisions: Tail
) -> None:
    # The park's clock runs on (heartbeats) while its antigen station's results are late: the
    # entry must stay pending, not fail, until the results arrive; then it is judged again.
    crew = story.people(2)
    at = story.T0 + timedelta(days=1)
    send(settings, story.entry("lagged", crew, at=at, plate="沪A55555"))
    beat = GateHeartbeat(
        event_id="beat-lag",
        event_time=at + timedelta(hours=2),
        park="tangu-green-bay",
        gate="jinshanwei-1",
    )
    send(settings, ("gate.heartbeats", beat))
    pending = decided(
        decisions,
        "lagged",
        lambda d: any("read only up to" in r.reason for r in d.rules),
        "the antigen rule pending on the results stream",
    )
    assert pending.outcome == "hold" and "antigen_on_site" in pending.pending_rules
    assert "antigen_on_site" not in pending.failed_rules
    late = at + timedelta(minutes=10)
    send(
        settings, story.antigen("ag-lag-1", crew[0], late), story.antigen("ag-lag-2", crew[1], late)
    )
    released = decided(decisions, "lagged", lambda d: d.outcome == "release", "the release")
    assert released.revision > pending.revision


def test_a_restarted_worker_decides_nothing_before_it_has_read_the_risk_areas(
    fresh: Settings, tmp_path: Path
) -> None:
    red = RiskAreaUpdate(
        event_id="red-1",
        event_time=story.T0 - timedelta(days=1),
        region="浙江省平湖市",
        colour="red",
    )
    with running_worker(fresh, tmp_path):
        send(fresh, ("ref.risk-areas", red))
        Tail(fresh, "canonical.risk-areas").wait(lambda r: True, what="the red area ingested")
    # A worker starting afresh must not take the region for green while it reads the topic.
    crew = story.people(2, "330482")
    send(fresh, story.entry("from-red", crew, origin="浙江省平湖市", plate="浙F12345"))
    tail = Tail(fresh, "sentinel.decisions")
    try:
        with running_worker(fresh, tmp_path):
            first = decided(tail, "from-red", what="its first decision")
    finally:
        tail.close()
    assert first.revision == 0 and first.outcome == "deny"
    assert "risk_area" in first.failed_rules


def test_the_officer_cli_explains_a_missing_entry(settings: Settings) -> None:
    done = sentinel(
        settings,
        "resolve",
        "no-such-entry",
        "--action",
        "denied",
        "--officer",
        "wang-3",
        "--reason",
        "x",
    )
    assert done.returncode == 1
    assert "no decision for no-such-entry in ClickHouse" in done.stderr
    assert "--park" in done.stderr
    assert "Traceback" not in done.stderr

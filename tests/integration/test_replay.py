"""A worker killed at the wrong instant leaves a stage's new state in its changelog and what the
stage sent nowhere (two records, two partitions, no transaction); Kafka then delivers the input
again, its offset not committed. The stage must send again what its state says was sent.

Here that instant is made certain rather than waited for: a worker decides a few trucks and
stops; the group's offsets are deleted, as if it had been killed before its first commit; a
second worker restores the states (every entry decided, obligations and alerts sent) and reads
every input again. Before the fix nothing came out of that second pass: a decided entry read
again changed nothing and sent nothing (docs/rules.md, "At least once")."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import NoError

from schemas import Alert, Decision
from streams.rules.person import Obligation, PersonCheckOrObligation
from streams.settings import Settings
from tests.integration import story
from tests.integration.helpers import (
    consume_all,
    drained,
    query,
    running_worker,
    send_events,
)

TRUCKS = 6  # out-of-area drivers, released: a decision and a visit obligation each


def test_inputs_read_again_after_their_state_was_saved_send_their_outputs_again(
    fresh: Settings, tmp_path: Path
) -> None:
    drivers = story.people(TRUCKS, "330402")
    events = [
        story.entry(f"rp-{n}", [driver], at=story.T0 + timedelta(minutes=n), hazmat=False,
                    plate=f"浙F{n:05d}", origin="浙江省嘉兴市南湖区")
        for n, driver in enumerate(drivers)
    ]  # fmt: skip
    crew = story.people(2)  # a hazmat truck whose driver tests positive: denied, paged
    events.append(story.entry("rp-positive", crew, at=story.T0 + timedelta(minutes=30)))
    events += [
        story.antigen("rp-ag-0", crew[0], story.T0 + timedelta(minutes=38), "positive"),
        story.antigen("rp-ag-1", crew[1], story.T0 + timedelta(minutes=38)),
    ]
    with running_worker(fresh, tmp_path):
        send_events(fresh, events, "events")
        final = _wait_decided(fresh, TRUCKS + 1)
        drained(fresh)
    first = _sent(fresh)
    assert sorted(Counter(final.values()).items()) == [("deny", 1), ("release", TRUCKS)]
    assert len(first.obligations) == TRUCKS
    assert [i for i in first.alerts if i.startswith("positive:")] == ["positive:rp-ag-0"]
    assert {*first.decisions.values(), *first.obligations.values(), *first.alerts.values()} == {1}

    _delete_group(fresh)  # nothing committed: every input again
    with running_worker(fresh, tmp_path):
        deadline = time.monotonic() + 120
        while min((again := _sent(fresh)).decisions.values()) < 2:
            assert time.monotonic() < deadline, f"sent again: {again.decisions}"
            time.sleep(1)
        drained(fresh)
    again = _sent(fresh)
    # The final decision, the obligation and the alerts of each entry once more at least: the
    # same ids, no new revision.
    for sent, sent_again in [
        (first.decisions, again.decisions),
        (first.obligations, again.obligations),
        (first.alerts, again.alerts),
    ]:
        assert set(sent_again) == set(sent) and min(sent_again.values()) >= 2, sent_again
    # Downstream, sending again changes nothing.
    rows = query(fresh, "SELECT decision_id, toString(outcome) FROM decisions FINAL")
    assert sorted(rows) == sorted(first.outcomes.items())
    assert query(fresh, "SELECT count() FROM alerts FINAL") == [(len(first.alerts),)]


def _delete_group(settings: Settings, timeout: float = 120) -> None:
    """Delete the worker group, once it is empty (a worker that had to be killed stays a member
    until its session expires); the broker answers with an error class, not an exception."""
    deadline = time.monotonic() + timeout
    while True:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            [(_, error)] = admin.delete_consumer_groups([settings.app_id])
        finally:
            admin.close()
        if error is NoError:
            return
        assert time.monotonic() < deadline, f"the group was not deleted: {error.__name__}"
        time.sleep(2)


def _wait_decided(settings: Settings, entries: int, timeout: float = 120) -> dict[str, str]:
    """The final outcome of each of ``entries`` entries (not a hold), by entry id."""
    deadline = time.monotonic() + timeout
    while True:
        final: dict[str, Decision] = {}
        for record in _read(settings, "decisions"):
            d = Decision.model_validate_json(record.value)
            if d.revision >= final.get(d.entry_id, d).revision:
                final[d.entry_id] = d
        outcomes = {i: d.outcome for i, d in final.items() if d.outcome != "hold"}
        if len(outcomes) == entries:
            return outcomes
        assert time.monotonic() < deadline, f"{len(outcomes)} of {entries} entries decided"
        time.sleep(1)


class _Sent:
    """How many times each final decision, each obligation and each alert is in its topic."""

    def __init__(self, records: dict[str, list[Any]]) -> None:
        decisions = [Decision.model_validate_json(r.value) for r in records["decisions"]]
        self.outcomes = {d.event_id: d.outcome for d in decisions}  # every revision
        final = {d.entry_id: d.event_id for d in sorted(decisions, key=lambda d: d.revision)}
        self.decisions = Counter(d.event_id for d in decisions if d.event_id in final.values())
        wrapped = [PersonCheckOrObligation.parse(r.value) for r in records["person-checks"]]
        self.obligations = Counter(o.entry_id for o in wrapped if isinstance(o, Obligation))
        alerts = [Alert.model_validate_json(r.value) for r in records["alerts"]]
        self.alerts = Counter(a.event_id for a in alerts)


def _sent(settings: Settings) -> _Sent:
    return _Sent({name: _read(settings, name) for name in ("decisions", "person-checks", "alerts")})


def _read(settings: Settings, name: str) -> list[Any]:
    return consume_all(settings, f"sentinel.{name}", until=10**9, timeout=2)

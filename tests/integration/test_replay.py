"""At least once, both ways round. The decide stage sends a batch's outputs, waits for the broker to
have them, and only then writes the state that says they were sent; offsets are committed after
both (streams/agents/decide.py). So a worker that dies can leave

1. state written, offsets not committed: the inputs are read again, find their effects in the
   restored state, and must change nothing (no new revision, no alert twice);
2. outputs sent, state not written: the inputs are read again from scratch and must send every
   final decision and alert again, under the ids already used, which ClickHouse counts once.

Here both instants are made certain rather than waited for: a worker decides a few trucks and
stops; its group's offsets are deleted (case 1), then the state topic is emptied too (case 2)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import NoError

from schemas import Alert, Decision
from streams import access
from streams.progress import wait_while_moving
from streams.settings import Settings
from streams.topics import create_topics
from tests.integration import story
from tests.integration.helpers import (
    STALL,
    Activity,
    drained,
    query,
    read_all,
    running_worker,
    send_events,
)

TRUCKS = 6  # out-of-area drivers, released: a decision and a visit obligation each


def test_inputs_read_again_change_nothing_and_a_lost_state_sends_the_same_again(
    fresh: Settings, tmp_path: Path
) -> None:
    drivers = story.people(TRUCKS, "330402")
    events: list[tuple[str, Any]] = [
        story.entry(
            f"rp-{n}",
            [driver],
            at=story.T0 + timedelta(minutes=n),
            hazmat=False,
            plate=f"浙F{n:05d}",
            origin="浙江省嘉兴市南湖区",
        )
        for n, driver in enumerate(drivers)
    ]
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
    assert [i for i in first.alerts if i.startswith("positive:")] == ["positive:rp-ag-0"]
    assert max(first.decisions.values()) == 1 and max(first.alerts.values()) == 1
    rows = sorted(query(fresh, "SELECT decision_id, toString(outcome) FROM decisions FINAL"))
    assert rows == sorted(first.outcomes.items())

    # 1. Every input read again over the restored state: nothing new is sent.
    _delete_group(fresh)
    with running_worker(fresh, tmp_path):
        drained(fresh)
    again = _sent(fresh)
    assert again.decisions == first.decisions and again.alerts == first.alerts

    # 2. The state lost as well (as if its records had not been written): every input read
    # again decides again, and every entry's final decision is sent again, under an id the first
    # run used. (Read again, the antigen may come before its entry, which is then denied at once:
    # its revisions may differ, its final outcome may not.) ClickHouse counts each entry once.
    seen = {(r.partition, r.offset) for r in read_all(fresh, "sentinel.decisions")}
    _delete_group(fresh)
    _empty_state(fresh)

    def sent_again() -> dict[str, Decision] | None:
        latest: dict[str, Decision] = {}
        for record in read_all(fresh, "sentinel.decisions"):
            if (record.partition, record.offset) not in seen:
                d = Decision.model_validate_json(record.value)
                if d.revision >= latest.get(d.entry_id, d).revision:
                    latest[d.entry_id] = d
        done = {e: d.outcome for e, d in latest.items() if d.outcome != "hold"} == final
        return latest if done else None

    with running_worker(fresh, tmp_path):
        again_final = wait_while_moving(
            sent_again,
            lambda: len(read_all(fresh, "sentinel.decisions")),
            what="every entry's final decision sent again",
            stall=STALL,
        )
        drained(fresh)
    assert {d.event_id for d in again_final.values()} <= set(first.outcomes)  # no new revision
    twice = _sent(fresh)
    assert set(twice.alerts) == set(first.alerts) and min(twice.alerts.values()) >= 2
    current = query(
        fresh,
        "SELECT entry_id, toString(argMax(outcome, revision)) FROM decisions GROUP BY entry_id",
    )
    assert dict(current) == final
    assert query(fresh, "SELECT count() FROM alerts FINAL") == [(len(first.alerts),)]


def _delete_group(settings: Settings) -> None:
    """Delete the worker group, once it is empty (a stopped worker stays a member until its
    session expires); the broker answers with an error class, not an exception."""

    def deleted() -> bool:
        admin = KafkaAdminClient(**access.kafka_python(settings))
        try:
            [(_, error)] = admin.delete_consumer_groups([settings.app_id])
        finally:
            admin.close()
        return error is NoError

    # The group empties when the broker expires the stopped member's session (the consumers'
    # session timeout, 60 s at most): a setting of the group, not the speed of this machine.
    wait_while_moving(deleted, lambda: 0, what="the group's deletion", stall=STALL, interval=2)


def _empty_state(settings: Settings) -> None:
    """Delete and create again the decide stage's changelog topic."""
    topic = settings.topic("sentinel.decide-state")

    def listed() -> set[str]:
        admin = KafkaAdminClient(**access.kafka_python(settings))
        try:
            return set(admin.list_topics())
        finally:
            admin.close()

    admin = KafkaAdminClient(**access.kafka_python(settings))
    try:
        admin.delete_topics([topic])
    finally:
        admin.close()
    # The broker deletes a topic asynchronously; until it is gone, creating it again is refused.
    wait_while_moving(
        lambda: topic not in listed(), lambda: 0, what="the state topic deleted", stall=STALL
    )
    create_topics(settings)
    assert topic in listed()


def _wait_decided(settings: Settings, entries: int) -> dict[str, str]:
    """The final outcome of each of ``entries`` entries (not a hold), by entry id."""

    def outcomes() -> dict[str, str] | None:
        final: dict[str, Decision] = {}
        for record in read_all(settings, "sentinel.decisions"):
            d = Decision.model_validate_json(record.value)
            if d.revision >= final.get(d.entry_id, d).revision:
                final[d.entry_id] = d
        found = {i: d.outcome for i, d in final.items() if d.outcome != "hold"}
        return found if len(found) == entries else None

    activity = Activity(settings)
    try:
        return wait_while_moving(outcomes, activity, what=f"{entries} entries decided", stall=STALL)
    finally:
        activity.close()


class _Sent:
    """How many times each final decision and each alert is in its topic."""

    def __init__(self, decisions: list[Any], alerts: list[Any]) -> None:
        made = [Decision.model_validate_json(r.value) for r in decisions]
        self.outcomes = {d.event_id: d.outcome for d in made}  # every revision
        final = {d.entry_id: d.event_id for d in sorted(made, key=lambda d: d.revision)}
        self.decisions = Counter(d.event_id for d in made if d.event_id in final.values())
        self.alerts = Counter(Alert.model_validate_json(r.value).event_id for r in alerts)


def _sent(settings: Settings) -> _Sent:
    return _Sent(read_all(settings, "sentinel.decisions"), read_all(settings, "sentinel.alerts"))

"""The error policy on the real broker and ClickHouse: a raw partition of garbage is quarantined
while the rest runs on, a restart adds no letters, an operator lifts it; the dead letters are
listed, discarded and replayed by choice, once; the sink sorts ClickHouse's errors."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from schemas import DeadLetter, RawVehicleEntry
from schemas.operations import Quarantine
from streams import access
from streams.settings import Settings
from streams.sink.clickhouse import ClickHouseWriter, SinkFatal
from streams.sink.rows import COLUMNS
from streams.topics import partition_of
from tests.integration.helpers import (
    consume_until,
    isolated,
    produce,
    query,
    read_all,
    running_worker,
    sentinel_cli,
)
from workbench.simulator import Params, generate


def _entries(count: int) -> list[RawVehicleEntry]:
    found = [e for _, e in generate(Params(seed=3)).events if isinstance(e, RawVehicleEntry)]
    return found[:count]


def _garbage(count: int, start: int = 0) -> list[bytes]:
    return [b"not json %d" % i for i in range(start, start + count)]


def _old_lifts(count: int) -> list[tuple[bytes, bytes]]:
    """Lifted quarantines of partitions no worker holds (a long history, not yet compacted)."""
    lifts = (
        Quarantine(
            topic="health.visits",
            partition=1000 + i,
            state="lifted",
            offset=0,
            reason="history",
            at=datetime(2026, 1, 1, tzinfo=UTC),
            by="ops-1",
        )
        for i in range(count)
    )
    return [(q.key(), q.model_dump_json().encode()) for q in lifts]


def test_a_garbage_partition_is_quarantined_the_rest_runs_on_and_a_lift_reads_it(
    stack_settings: Settings, services: None, tmp_path: Path
) -> None:
    first, second = _entries(2)
    with isolated(stack_settings) as settings:
        park_partition = partition_of(first.park.encode(), settings.partitions)
        key = next(
            k
            for k in (b"gate-%d" % i for i in range(100))
            if partition_of(k, settings.partitions) != park_partition
        )
        bad = partition_of(key, settings.partitions)
        with running_worker(settings, tmp_path, dlq_window="20") as worker:
            # A gate's firmware sends garbage: the first wave trips the limit.
            produce(settings, "gate.exits", [(key, v) for v in _garbage(120)])
            (record,) = consume_until(settings, "sentinel.quarantine", 1)
            state = json.loads(record.value)
            assert (state["topic"], state["partition"], state["state"]) == (
                "gate.exits",
                bad,
                "quarantined",
            )
            assert worker.process.poll() is None, "the worker runs on"
            assert f"sentinel quarantine lift gate.exits:{bad}" in worker.log()
            letters = len(read_all(settings, "sentinel.dlq"))
            assert 0 < letters <= 120
            # More garbage is not read; another park's entry is decided.
            produce(settings, "gate.exits", [(key, v) for v in _garbage(100, 120)])
            produce(settings, "gate.entries", [(first.park.encode(), _json(first))])
            consume_until(settings, "sentinel.decisions", 1)
        assert f"gate.exits:{bad}  quarantined" in sentinel_cli(settings, "quarantine", "list")
        # A restarted worker leaves the partition unread too: not one letter more. (Seen: Faust
        # resumed the partition while the worker was still reading sentinel.quarantine, and 7
        # letters more came. A long quarantine log keeps that reading slow, every time.)
        produce(settings, "sentinel.quarantine", _old_lifts(20_000))
        with running_worker(settings, tmp_path, dlq_window="20") as worker:
            produce(settings, "gate.entries", [(second.park.encode(), _json(second))])
            consume_until(settings, "sentinel.decisions", 2)
            assert len(read_all(settings, "sentinel.dlq")) == letters
            # The producer is fixed; the operator lifts the quarantine: everything in the
            # partition is dead-lettered without tripping the limit again, each message once.
            said = sentinel_cli(
                settings, "quarantine", "lift", f"gate.exits:{bad}", "--by", "ops-7"
            )
            assert "lifted" in said
            dead = consume_until(settings, "sentinel.dlq", 220)
            assert worker.process.poll() is None
        offsets = Counter(DeadLetter.from_headers(list(r.headers)).source_offset for r in dead)
        assert set(offsets) == set(range(220)) and set(offsets.values()) == {1}
        states = [
            json.loads(r.value)["state"]
            for r in read_all(settings, "sentinel.quarantine")
            if r.key == f"gate.exits:{bad}".encode()
        ]
        assert states == ["quarantined", "lifted"]
        # The letters, by reason; discarded, they are never replayed.
        summary = sentinel_cli(settings, "dlq", "list", "--topic", "gate.exits", "--summary")
        assert f"220  {settings.topic('gate.exits')} ValidationError" in summary
        assert "discarded 220" in sentinel_cli(
            settings, "dlq", "discard", "--reason", "validationerror", "--note", "firmware"
        )
        assert "220 discarded" in sentinel_cli(settings, "dlq", "replay")
        assert len(read_all(settings, "gate.exits")) == 220


def test_a_replayed_letter_that_fails_again_is_not_sent_a_third_time_unless_asked(
    stack_settings: Settings, services: None, tmp_path: Path
) -> None:
    with isolated(stack_settings) as settings, running_worker(settings, tmp_path):
        produce(settings, "gate.entries", [(b"tangu", v) for v in _garbage(3)])
        produce(settings, "health.visits", [(b"tangu", b"{}")])
        consume_until(settings, "sentinel.dlq", 4)
        listed = sentinel_cli(settings, "dlq", "list", "--topic", "gate.entries")
        assert "3 dead letters" in listed and "health.visits" not in listed
        chosen = sentinel_cli(settings, "dlq", "replay", "--topic", "gate.entries")
        assert "replayed 3 dead letters" in chosen
        letters = consume_until(settings, "sentinel.dlq", 7)
        again = [dict(r.headers) for r in letters[4:]]
        assert sorted(int(h["replay_of"]) for h in again) == [0, 1, 2]
        assert "replayed 1 dead letters" in sentinel_cli(settings, "dlq", "replay")  # the visit
        consume_until(settings, "sentinel.dlq", 8)
        said = sentinel_cli(settings, "dlq", "replay")
        assert "4 failed again" in said and "replayed 0" in said
        assert "replayed 3 dead letters" in sentinel_cli(
            settings, "dlq", "replay", "--again", "--reason", "json"
        )
        assert len(read_all(settings, "gate.entries")) == 3 + 3 + 3


def test_a_malformed_record_on_a_topic_every_worker_reads_stops_no_worker(
    stack_settings: Settings, services: None, tmp_path: Path
) -> None:
    # Confirmed by reading: one bad record on canonical.risk-areas, or on sentinel.decisions
    # (read by the board), crashed every worker, again at each restart.
    (entry,) = _entries(1)
    with isolated(stack_settings) as settings:
        produce(settings, "canonical.risk-areas", [(b"somewhere", b"not a risk area")])
        produce(settings, "sentinel.decisions", [(b"e-1", b'{"half": "a decision"')])
        produce(settings, "sentinel.rulesets", [(b"active", b"rules: [not: yaml")])
        with running_worker(settings, tmp_path) as worker:
            produce(settings, "gate.entries", [(entry.park.encode(), _json(entry))])
            consume_until(settings, "sentinel.decisions", 2)
            # The board decodes the decisions it keeps when asked for them.
            with urllib.request.urlopen(f"{worker.board_url()}api/board", timeout=30) as answer:
                assert answer.status == 200
            assert worker.process.poll() is None
            assert worker.metric_sum("sentinel_unreadable_records_total") >= 3
            log = worker.log()
            assert "canonical.risk-areas[0]@0" in log and "sentinel.rulesets[0]@0" in log
            assert "gate board: skipped an unreadable decision" in log


def test_the_sink_writes_what_clickhouse_can_hold_and_refuses_the_rest_by_row(
    stack_settings: Settings, services: None
) -> None:
    with isolated(stack_settings) as settings:
        table = "alerts"
        columns = COLUMNS[table]
        writer = ClickHouseWriter(access.clickhouse_url(settings))
        rows = [_alert_row(columns, f"a{i}") for i in range(10)]
        # A lab typing 1922: clickhouse-driver refuses a time before 1970 for a DateTime.
        rows[3] = _alert_row(columns, "a3", when=datetime(1922, 5, 4, tzinfo=UTC))
        refused = asyncio.run(writer.write(table, columns, rows))
        assert refused == [3] and "TypeMismatch" in writer.refusals[3]
        assert query(settings, "SELECT count() FROM alerts")[0][0] == 9
        # A table that does not exist: every row refused, the fix named; nothing retried.
        refused = asyncio.run(writer.write("no_such_table", columns, rows[:2]))
        assert refused == [0, 1] and "sentinel migrate" in writer.refusals[0]
        writer.close()
        # A wrong password stops the sink, naming the setting.
        wrong = access.clickhouse_url(
            settings.model_copy(update={"clickhouse_password": SecretStr("wrong")})
        )
        assert wrong != access.clickhouse_url(settings)
        with pytest.raises(SinkFatal, match="SENTINEL_CLICKHOUSE_URL"):
            asyncio.run(ClickHouseWriter(wrong).write(table, columns, rows[:1]))


def _alert_row(columns: tuple[str, ...], key: str, when: datetime | None = None) -> tuple:
    at = when or datetime(2022, 4, 1, 8, tzinfo=UTC)
    values = {
        "severity": "info",
        "event_time": at,
        "detected_at": at,
        "event_date": at.date(),
        "dedup_key": key,
        "event_id": key,
    }
    return tuple(values.get(c, "x") for c in columns)


def _json(event: RawVehicleEntry) -> bytes:
    return event.model_dump_json().encode()

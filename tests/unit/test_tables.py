"""State tables: the sweeps act only on keys of the partitions a worker owns (which partition a
key is in must be Kafka's own answer, the one the producer gives the key's messages), and on
none while the worker rebalances; only what changed is written (each write is a changelog
record); a sweep writes its states only once what it sent is delivered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from kafka.partitioner import DefaultPartitioner

from streams.agents._tables import StateTable, partition_of, sweep
from streams.rules.person import PersonOutput, PersonState


def test_a_key_lands_where_kafka_puts_its_messages() -> None:
    partitions = list(range(4))
    keys = [b"p_" + bytes(f"{n:032x}", "ascii") for n in range(200)]
    keys += [plate.encode() for plate in ("沪A12345", "浙BPR5BP", "皖AUSF11")]
    for key in keys:
        assert partition_of(key) == DefaultPartitioner()(key, partitions, partitions)
    assert {partition_of(k) for k in keys} == set(partitions)


class RecordingTable(dict[bytes, bytes]):
    """Stands in for a Faust table: each assignment would be one changelog record."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes += 1
        super().__setitem__(key, value)


class TablesApp:
    def __init__(self) -> None:
        self.tables: dict[str, RecordingTable] = {}
        self.rebalancing = False  # as Faust's App

    def Table(self, name: str, **_: object) -> RecordingTable:  # noqa: N802  # Faust's name
        self.tables[name] = RecordingTable()
        return self.tables[name]


def test_only_what_changed_is_written_to_the_changelog() -> None:
    app = TablesApp()
    people = StateTable(app, "people", PersonState)  # type: ignore[arg-type]
    due = datetime(2022, 5, 4, tzinfo=UTC)
    people.put(b"p1", PersonState(), due)
    people.put(b"p1", PersonState(), due)  # a replayed event: nothing changed
    assert (app.tables["people"].writes, app.tables["people-due"].writes) == (1, 1)
    people.put(b"p1", PersonState(swept=due), due)  # the state changed, its deadline did not
    assert (app.tables["people"].writes, app.tables["people-due"].writes) == (2, 1)
    assert people.get(b"p1") == PersonState(swept=due)
    people.put(b"p1", PersonState(swept=due), None)
    assert b"p1" not in app.tables["people-due"]


def test_no_key_is_due_while_the_worker_rebalances() -> None:
    # Recovery re-reads the changelogs from their start meanwhile: the states are past ones.
    app = TablesApp()
    people = StateTable(app, "people", PersonState)  # type: ignore[arg-type]
    due = datetime(2022, 5, 4, tzinfo=UTC)
    people.put(b"p1", PersonState(), due)
    owned = {partition_of(b"p1")}
    app.rebalancing = True
    assert people.restoring
    assert people.due_keys(due, owned) == []
    assert list(people.all_keys(owned)) == []
    app.rebalancing = False
    assert people.due_keys(due, owned) == [b"p1"]
    assert list(people.all_keys(owned)) == [b"p1"]


@pytest.mark.parametrize("rebalance_meanwhile", [False, True])
def test_a_sweep_writes_its_states_only_once_what_it_sent_is_delivered(
    rebalance_meanwhile: bool,
) -> None:
    # A deadline has no input that Kafka would deliver again after a crash: its state must not
    # say "fired" before its alert is in the log. Until then the stage's agent waits too.
    app = TablesApp()
    people = StateTable(app, "people", PersonState)  # type: ignore[arg-type]
    due = datetime(2022, 5, 4, tzinfo=UTC)
    people.put(b"p1", PersonState(), due)

    async def scenario() -> None:
        delivery: asyncio.Future[object] = asyncio.get_running_loop().create_future()

        async def send(key: bytes, out: PersonOutput) -> list[asyncio.Future[object]]:
            return [delivery]

        def fire(state: PersonState) -> PersonOutput:
            return PersonOutput(state.model_copy(update={"swept": due}))

        task = asyncio.create_task(sweep(people, [b"p1"], fire, send, lambda state: None))
        for _ in range(5):
            await asyncio.sleep(0)
        assert people.get(b"p1") == PersonState() and b"p1" in app.tables["people-due"]
        assert people.lock.locked()
        app.rebalancing = rebalance_meanwhile
        delivery.set_result(None)
        await task
        assert not people.lock.locked()

    asyncio.run(scenario())
    if rebalance_meanwhile:  # the keys' new owner fires them again
        assert people.get(b"p1") == PersonState()
    else:
        assert people.get(b"p1") == PersonState(swept=due)
        assert b"p1" not in app.tables["people-due"]

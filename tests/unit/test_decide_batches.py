"""The decide stage's own consumer loop (``streams/agents/decide.py``): what a batch read across a
rebalance keeps, and that a batch read before one is let go undecided and uncommitted. Its
consumer here is a stand-in that hands out records: the real consumer against the real broker is
``tests/integration/test_rebalance.py`` and the chaos suite."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from streams.agents.decide import DecideStage
from streams.settings import Settings


class Consumer:
    """Hands out one list of records per getmany; runs ``during`` inside a call (a rebalance)."""

    def __init__(self, batches: list[list[Any]], during: dict[int, Any] | None = None) -> None:
        self.batches = batches
        self.during = during or {}
        self.calls = 0
        self.commits: list[dict[TopicPartition, int]] = []

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        self.calls += 1
        if (event := self.during.get(self.calls)) is not None:
            event()
        if not self.batches:
            return {}
        records = self.batches.pop(0)[:max_records]
        return {TopicPartition("t", 0): records} if records else {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


def stage(batch: int = 10, wait: float = 0.05) -> DecideStage:
    settings = Settings(decide_batch=batch, decide_wait_seconds=wait)
    processor: Any = SimpleNamespace(engine=SimpleNamespace(), lanes=None)
    return DecideStage(None, None, settings, processor, None, None, [])  # type: ignore[arg-type]


def records(*offsets: int) -> list[Any]:
    return [SimpleNamespace(topic="t", partition=0, offset=o) for o in offsets]


def test_a_batch_takes_what_comes_until_it_is_full() -> None:
    decide = stage(batch=5)
    consumer = Consumer([records(0, 1), records(2, 3), records(4, 5, 6)])
    taken, generation = asyncio.run(decide._take(consumer))  # type: ignore[arg-type]
    assert [r.offset for r in taken] == [0, 1, 2, 3, 4]
    assert generation == 0


def test_what_was_read_before_a_rebalance_is_let_go() -> None:
    """A rebalance during a read: the new assignment starts from the committed offsets, so the
    records read before it come again; kept, they would be decided twice or by the wrong
    worker. What the read after it brings is the new assignment's, and is kept (letting it go
    lost the first batch of every worker: its position had moved past it)."""
    decide = stage(batch=10)

    def rebalance() -> None:
        decide.generation += 1

    consumer = Consumer([records(0, 1), records(0, 1, 2)], during={2: rebalance})
    taken, generation = asyncio.run(decide._take(consumer))  # type: ignore[arg-type]
    assert [r.offset for r in taken] == [0, 1, 2]
    assert generation == 1


def test_a_batch_read_before_a_rebalance_is_not_decided_nor_committed() -> None:
    decide = stage()
    decide.consumer = consumer = Consumer([])  # type: ignore[assignment]
    decided: list[Any] = []
    decide.processor = SimpleNamespace(read=lambda raw, now: decided.append(raw))  # type: ignore[assignment]
    decide.generation = 2

    asyncio.run(decide.handle(records(7, 8), generation=1))

    assert decided == [] and consumer.commits == []


def test_after_a_clean_stop_began_nothing_is_decided_nor_committed() -> None:
    """The state a stopping worker saves must be the changelog's: a batch decided after the
    save would be in neither (its offsets uncommitted, its state records unsaved)."""
    decide = stage()
    decide.consumer = consumer = Consumer([])  # type: ignore[assignment]
    decided: list[Any] = []
    decide.processor = SimpleNamespace(read=lambda raw, now: decided.append(raw))  # type: ignore[assignment]
    decide.store = SimpleNamespace(local=None)  # type: ignore[assignment]

    asyncio.run(decide.stop())
    asyncio.run(decide.handle(records(7, 8), generation=0))

    assert decide.stopping and decided == [] and consumer.commits == []

"""How a batch's records go to Kafka (``streams/agents/batches.py``: ``send_all``): in aiokafka
batches, one per partition, each record where ``send()`` would have put it, in order within its
partition."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.agents.batches import send_all
from streams.outbox import Send
from streams.topics import partition_of

PARTITIONS = 4


class Batch:
    def __init__(self, room: int) -> None:
        self.room = room
        self.keys: list[bytes | None] = []

    def append(self, *, timestamp: Any, key: Any, value: Any, headers: Any) -> Any:
        if len(self.keys) >= self.room or (value is not None and len(value) > 100):
            return None
        self.keys.append(key)
        return object()


class Kafka:
    """aiokafka's producer as ``send_all`` uses it; under a Faust-like accessor."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, list[bytes | None]]] = []

    def _ensure_producer(self) -> Kafka:
        return self

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))

    def create_batch(self) -> Batch:
        return Batch(room=2)

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> Any:
        self.sent.append((topic, partition, batch.keys))
        return self._done()

    async def send(self, topic: str, key: Any, value: Any, partition: Any, *_: Any) -> Any:
        self.sent.append((topic, partition, [key]))
        return self._done()

    def _done(self) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def test_records_go_in_batches_by_partition_in_order_where_send_would_put_them() -> None:
    kafka = Kafka()
    sends = [
        Send("sentinel.decisions", b"e1", b"1"),
        Send("sentinel.decide-state", b"s1", b"2", 3),
        Send("sentinel.decisions", b"e2", b"3"),
        Send("sentinel.decide-state", b"s2", None, 3),  # a tombstone
        Send("sentinel.decide-state", b"s3", b"4", 3),  # the batch of 2 is full: a new one
        Send("sentinel.decide-state", b"big", b"x" * 200, 3),  # larger than a batch: alone
        Send("sentinel.decide-state", b"s4", b"5", 3),
    ]
    futures = asyncio.run(_send(kafka, sends))
    assert len(futures) == len(kafka.sent)
    state = [keys for topic, p, keys in kafka.sent if topic == "p.sentinel.decide-state"]
    assert [k for keys in state for k in keys] == [b"s1", b"s2", b"s3", b"big", b"s4"]
    assert state[0] == [b"s1", b"s2"] and [b"big"] in state
    placed = {
        key: p for topic, p, keys in kafka.sent if topic == "p.sentinel.decisions" for key in keys
    }
    assert placed == {k: partition_of(k, PARTITIONS) for k in (b"e1", b"e2")}
    assert {p for topic, p, _ in kafka.sent if topic == "p.sentinel.decide-state"} == {3}


async def _send(kafka: Kafka, sends: list[Send]) -> list[Any]:
    return await send_all(kafka, lambda t: f"p.{t}", sends)

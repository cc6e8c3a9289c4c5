"""State tables of the stages: pydantic state as JSON bytes, in changelog-backed Faust tables,
with a second table indexing each key's next deadline for the sweeping timers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import faust
from aiokafka.partitioner import murmur2
from pydantic import BaseModel

from streams.topics import PARTITIONS

StateT = TypeVar("StateT", bound=BaseModel)


StateT_co = TypeVar("StateT_co", bound=BaseModel, covariant=True)


class Output(Protocol[StateT_co]):
    """What a stage's step returns: the key's new state, and what to send."""

    @property
    def state(self) -> StateT_co: ...


OutputT = TypeVar("OutputT", bound="Output[Any]")


def partition_of(key: bytes, partitions: int = PARTITIONS) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client):
    the same for a table key and for the source messages with that key."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


def active_partitions(app: faust.App, topic: str) -> set[int]:
    """The partitions of ``topic`` (a full name) this worker owns now, not as a standby."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


class StateTable(Generic[StateT]):
    """A stage's state per key. Faust's memory store also holds the keys of standby partitions
    and of partitions taken away in a rebalance: only the active owner of a key may act on it,
    so the sweeps ask for the keys of ``owned`` partitions (a test found two workers otherwise
    both firing, and writing, each other's deadlines).

    During a rebalance the sweeps get no keys at all (:attr:`restoring`). The stage's agent
    and its sweep take turns (:attr:`lock`): a sweep waits for its sends to be delivered before
    it writes the states (:func:`sweep`), and no event may change those keys meanwhile."""

    def __init__(self, app: faust.App, name: str, model: type[StateT]) -> None:
        # use_partitioner: the timers write too, outside a stream; the key's hash picks the
        # partition, as it does for the source topics (same keys, same partitioner).
        # bytes as key and value types: Faust then uses the raw codec for the changelog, in
        # writes and in recovery alike (a Schema's serializers do not reach recovery).
        self._states = app.Table(
            name, key_type=bytes, value_type=bytes, partitions=PARTITIONS, use_partitioner=True
        )
        self._due = app.Table(
            f"{name}-due", key_type=bytes, value_type=bytes, partitions=PARTITIONS,
            use_partitioner=True,
        )  # fmt: skip
        self._model = model
        self._app = app
        self.lock = asyncio.Lock()

    @property
    def restoring(self) -> bool:
        """Whether the worker is rebalancing. Its recovery then reads the changelogs of the
        partitions it keeps from their start, as of a new owner (a memory store remembers no
        offset), so each key goes back through its past states until the end is read; the
        stream agents wait for that, the timers do not. A sweep then acted on past states: an
        obligation whose visits came later fired as overdue (tests/integration/
        test_rebalance.py). Faust sets ``app.rebalancing`` when partitions are revoked and
        clears it when recovery is done."""
        return bool(self._app.rebalancing)

    def get(self, key: bytes) -> StateT:
        raw = self._states.get(key)
        return self._model() if raw is None else self._model.model_validate_json(raw)

    def put(self, key: bytes, state: StateT, due: datetime | None) -> None:
        """Write what changed: every write is a changelog record (the next deadline changes
        far less often than the state, and a replayed event changes neither)."""
        value = state.model_dump_json().encode()
        if self._states.get(key) != value:
            self._states[key] = value
        if due is None:
            if key in self._due:
                del self._due[key]
        else:
            deadline = due.isoformat().encode()
            if self._due.get(key) != deadline:
                self._due[key] = deadline

    def due_keys(self, watermark: datetime, owned: set[int]) -> list[bytes]:
        """Keys of the ``owned`` partitions with a deadline at or before ``watermark``; none
        while :attr:`restoring`."""
        if self.restoring:
            return []
        return [
            k for k, v in list(self._due.items())
            if datetime.fromisoformat(v.decode()) <= watermark and partition_of(k) in owned
        ]  # fmt: skip

    def all_keys(self, owned: set[int]) -> Iterator[bytes]:
        """Keys of the ``owned`` partitions; none while :attr:`restoring`."""
        if self.restoring:
            return iter([])
        return iter([k for k in list(self._states.keys()) if partition_of(k) in owned])

    def pending(self) -> int:
        """How many keys wait for a deadline (this worker's store, standbys included)."""
        return len(self._due)


async def sweep(
    table: StateTable[StateT],
    keys: Sequence[bytes],
    step: Callable[[StateT], OutputT],
    send: Callable[[bytes, OutputT], Awaitable[list[asyncio.Future[object]]]],
    due: Callable[[StateT], datetime | None],
    chunk: int = 500,
) -> bool:
    """Fire the deadlines of ``keys``: what they send is delivered *before* their new states are
    written. A deadline has no input that a crash would make Kafka deliver again, so its state
    must not say "fired" before the alert is in the log: a crash between the two fires it
    again (downstream it is idempotent), never loses it. The agent waits meanwhile (``lock``),
    for one ``chunk`` of keys at a time. False: a rebalance stopped it before the end."""
    for start in range(0, len(keys), chunk):
        async with table.lock:
            if table.restoring:
                return False  # see :attr:`StateTable.restoring`: past states meanwhile
            outputs = [(key, step(table.get(key))) for key in keys[start : start + chunk]]
            pending = [future for key, out in outputs for future in await send(key, out)]
            if pending:
                await asyncio.gather(*pending)
            if table.restoring:
                return False  # a rebalance began: whoever owns these keys fires them again
            for key, out in outputs:
                table.put(key, out.state, due(out.state))
    return True

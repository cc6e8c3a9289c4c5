"""State tables of the stages: pydantic state as JSON bytes, in changelog-backed Faust tables,
with a second table indexing each key's next deadline for the sweeping timers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Generic, TypeVar

import faust
from pydantic import BaseModel

from streams.topics import PARTITIONS

StateT = TypeVar("StateT", bound=BaseModel)


class StateTable(Generic[StateT]):
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

    def get(self, key: bytes) -> StateT:
        raw = self._states.get(key)
        return self._model() if raw is None else self._model.model_validate_json(raw)

    def put(self, key: bytes, state: StateT, due: datetime | None) -> None:
        self._states[key] = state.model_dump_json().encode()
        if due is None:
            if key in self._due:
                del self._due[key]
        else:
            self._due[key] = due.isoformat().encode()

    def due_keys(self, watermark: datetime) -> list[bytes]:
        """Keys (of this worker's partitions) with a deadline at or before ``watermark``."""
        return [
            k for k, v in list(self._due.items()) if datetime.fromisoformat(v.decode()) <= watermark
        ]

    def all_keys(self) -> Iterator[bytes]:
        return iter(list(self._states.keys()))

    def pending(self) -> int:
        """How many keys wait for a deadline (this worker's store, standbys included)."""
        return len(self._due)

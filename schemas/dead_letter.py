"""A dead letter: the headers a stage puts on a record in ``sentinel.dlq``.

The record's value is the rejected message's raw bytes, untouched (truncated, with its SHA-256,
only when it is too big to forward); these headers say where it came from, which stage refused it
and why. ``error_message`` never holds personal data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import Frozen


class DeadLetter(Frozen):
    source_topic: str
    source_partition: int = Field(ge=0)
    source_offset: int = Field(ge=0)
    source_timestamp: int = Field(description="Kafka timestamp of the source record, ms")
    stage: Literal["ingest", "decide", "follow", "sink", "dispatch"]
    error_class: str
    error_message: str = Field(max_length=1000)
    worker_id: str
    schema_version: int = Field(ge=1, description="schema version the message was checked against")

    def headers(self) -> list[tuple[str, bytes]]:
        return [(name, str(value).encode()) for name, value in self.model_dump().items()]

    @classmethod
    def from_headers(cls, headers: list[tuple[str, bytes]]) -> DeadLetter:
        known = set(cls.model_fields)
        return cls.model_validate({k: v.decode() for k, v in headers if k in known})

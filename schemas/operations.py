"""What operators and workers record about running the pipeline (not events of the park): a raw
partition put in quarantine by the DLQ limit and lifted by an operator, and what was done with a
dead letter (replayed, discarded). Both live on compacted topics, so they outlive any worker."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import Frozen


class Quarantine(Frozen):
    """A raw topic's partition the DLQ limit stopped reading, or its lifting."""

    topic: str = Field(description="the raw topic's catalogue name, e.g. gate.exits")
    partition: int = Field(ge=0)
    state: Literal["quarantined", "lifted"]
    offset: int = Field(
        ge=0,
        description="quarantined: the first offset not read; lifted: the partition's end when it "
        "was lifted (what is before it is dead-lettered without counting towards the limit)",
    )
    reason: str = Field(max_length=1000)
    at: AwareDatetime
    by: str = Field(description="the worker that tripped the limit, or the operator who lifted it")

    def key(self) -> bytes:
        return f"{self.topic}:{self.partition}".encode()


class LetterAction(Frozen):
    """What an operator did with one dead letter (key: its offset in the DLQ)."""

    letter: int = Field(ge=0, description="the dead letter's offset in sentinel.dlq")
    action: Literal["replayed", "discarded"]
    at: AwareDatetime
    by: str
    note: str = Field("", max_length=500)

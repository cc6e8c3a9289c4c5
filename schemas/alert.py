"""Alerts to page (topic ``sentinel.alerts``). ``dedup_key`` is stable: a replayed alert has the
same key, so consumers page once.

Two times: ``event_time`` is what happened (a positive: when its result was reported; a rule
failed at the gate: the entry's time; a deadline: the deadline), and ``detected_at`` when the
pipeline learnt it, in event time too: the time of the input that revealed it (a lab result's
report time, the entry, the antigen result, the deadline the park's clock passed). Paging judges
by ``detected_at``, so a lab result reported 30 h after its sample pages at once, while a replay
of last month pages nobody. An alert sent again with ``resolved_at`` set is over (its hold was
resolved by an officer): Alertmanager closes it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import Event, EventTime

Severity = Literal["critical", "warning", "info"]


class Alert(Event):
    severity: Severity
    rule: str = Field(min_length=1, max_length=64)
    subject: str = Field(description="plate or person pseudonym, never a raw identifier")
    dedup_key: str = Field(min_length=1, max_length=256)
    park: str
    gate: str | None = None
    entry_id: str | None = None
    enterprise: str | None = Field(None, description="the receiving enterprise it concerns")
    message: str = Field(max_length=1000)
    detected_at: EventTime = Field(description="when the pipeline learnt it (event time)")
    resolved_at: EventTime | None = Field(
        None, description="set on the copy that closes the alert: when its condition ended"
    )

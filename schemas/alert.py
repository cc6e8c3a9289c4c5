"""Alerts to page (topic ``sentinel.alerts``). ``dedup_key`` is stable: a replayed alert has the
same key, so consumers page once."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import Event

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

"""Reference data: risk-area colours by region (compacted topic ``ref.risk-areas``, key region)."""

from __future__ import annotations

from pydantic import Field

from schemas._base import Event
from schemas.entry import CodeColour


class RiskAreaUpdate(Event):
    region: str = Field(min_length=1, max_length=64)
    colour: CodeColour

"""Stage 3 (skeleton): canonical entries -> release decisions."""

from __future__ import annotations

import logging

import faust

from schemas import VehicleEntry
from streams.agents._topics import Topics
from streams.rules import decide_entry
from streams.settings import Settings

log = logging.getLogger(__name__)


def register(app: faust.App, topics: Topics, settings: Settings) -> None:
    decisions = topics("sentinel.decisions")

    @app.agent(topics("canonical.entries"), name="decide_release")
    async def decide_release(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            # Canonical topics are written by ingestion only: a failure here is a bug, not input.
            entry = VehicleEntry.model_validate_json(value)
            decision = decide_entry(entry)
            await decisions.send(
                key=decision.entry_id.encode(), value=decision.model_dump_json().encode()
            )
            log.info("entry %s: %s", entry.event_id, decision.outcome)

"""Sinks: output topics -> ClickHouse in batches (the contract: streams/sink/clickhouse.py)."""

from __future__ import annotations

import faust

from schemas import Decision
from streams.agents._topics import Topics
from streams.settings import Settings
from streams.sink.clickhouse import ClickHouseWriter
from streams.sink.rows import DECISION_COLUMNS, decision_row


def register(app: faust.App, topics: Topics, settings: Settings) -> None:
    writer = ClickHouseWriter(settings.clickhouse_url)

    @app.agent(topics("sentinel.decisions"), name="write_decisions")
    async def write_decisions(stream: faust.StreamT[bytes]) -> None:
        async for batch in stream.take(
            settings.sink_batch_rows, within=settings.sink_flush_seconds
        ):
            rows = [decision_row(Decision.model_validate_json(value)) for value in batch]
            await writer.write("decisions", DECISION_COLUMNS, rows)

"""The ClickHouse sink: raw events, decisions and alerts, in batches per table.

A batch is bounded by size (``sink_batch_rows`` messages) and by time (``sink_flush_seconds``).
Faust acks the batch's messages only after the loop body returns, that is after ClickHouse has
acknowledged every table's insert; so the committed offsets never run ahead of ClickHouse, and a
crash replays the batch into tables that collapse the replayed rows (streams/sink/clickhouse.py).
"""

from __future__ import annotations

import logging
from collections import defaultdict

import faust

from streams.agents._topics import Topics
from streams.settings import Settings
from streams.sink.clickhouse import ClickHouseWriter
from streams.sink.rows import COLUMNS, MAPPERS, Row

log = logging.getLogger(__name__)


def register(app: faust.App, topics: Topics, settings: Settings) -> None:
    writer = ClickHouseWriter(settings.clickhouse_url)

    @app.agent(topics(*MAPPERS), name="write_rows")
    async def write_rows(stream: faust.StreamT[bytes]) -> None:
        async for batch in stream.take_events(  # type: ignore[attr-defined]  # not in StreamT
            settings.sink_batch_rows, within=settings.sink_flush_seconds
        ):
            tables: dict[str, list[Row]] = defaultdict(list)
            for event in batch:
                for table, row in MAPPERS[topics.base(event.message.topic)](event.value):
                    tables[table].append(row)
            for table, rows in tables.items():
                await writer.write(table, COLUMNS[table], rows)

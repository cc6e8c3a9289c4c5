"""The ClickHouse writer: inserts batches, off the event loop, retrying until ClickHouse accepts.

Contract: ``write`` returns only once ClickHouse has acknowledged every row of the batch. Callers
ack their Kafka messages after it returns, so a crash before that replays the batch, and the
ReplacingMergeTree tables collapse the replayed rows. It never drops a row: while ClickHouse is
down it retries with capped exponential backoff, and the caller's stream waits (backpressure).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError

from streams import metrics

log = logging.getLogger(__name__)


class ClickHouseWriter:
    def __init__(self, url: str, *, max_backoff: float = 10.0) -> None:
        self._client = Client.from_url(url)
        self._max_backoff = max_backoff

    async def write(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        if not rows:
            return
        query = f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
        data = [list(column) for column in zip(*rows, strict=True)]  # columnar: the fast path
        delay = 0.5
        attempt = 1
        metrics.SINK_BATCH_ROWS.labels(table).observe(len(rows))
        started = time.monotonic()
        while True:
            try:
                await asyncio.to_thread(self._client.execute, query, data, columnar=True)
                metrics.SINK_SECONDS.labels(table).observe(time.monotonic() - started)
                return
            except (ClickHouseError, OSError, EOFError) as exc:
                metrics.SINK_FAILURES.labels(table).inc()
                log.warning(
                    "insert into %s failed (attempt %d, %d rows held): %s; retry in %.1fs",
                    table,
                    attempt,
                    len(rows),
                    type(exc).__name__,
                    delay,
                )
                self._client.disconnect()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
                attempt += 1

    def close(self) -> None:
        self._client.disconnect()

"""The ClickHouse writer: inserts batches, off the event loop, and sorts what goes wrong.

Contract: ``write`` returns once ClickHouse has acknowledged every row it can hold, with the
indexes of the rows it can never hold. Callers ack their Kafka records after it returns
(dead-lettering the refused ones first), so a crash before that replays the batch, and the
ReplacingMergeTree tables collapse the replayed rows.

Errors are of three kinds:

- **transient** (the server down, restarting, hung, a timeout, too many parts): retried with
  capped exponential backoff for as long as it takes; the caller's stream waits (backpressure,
  never a dropped row). One log line per attempt, with its count; the traceback at debug level.
- **permanent for some rows** (a value the column type cannot hold, a row the server refuses):
  the batch is halved until the refused rows are found; the rest is written.
- **permanent for the table** (it or a column does not exist): every row of the batch is refused
  at once; **fatal** (a wrong user or password, no database): :class:`SinkFatal`, which names the
  setting to fix; the worker stops rather than retry what cannot work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from clickhouse_driver import Client
from clickhouse_driver import errors as ch

from streams import metrics
from streams.failures import AUTH_CODES, NO_DATABASE, TABLE_CODES, Delays, first_line

log = logging.getLogger(__name__)

ROW_CODES = {6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 321}  # parse and type errors of values


# On a cluster our tables are Distributed ones: an insert returns once the shard's replica has
# the rows, not when they are queued on this server to be sent later (no effect elsewhere).
INSERT_SETTINGS = {"insert_distributed_sync": 1}


class SinkFatal(Exception):
    """ClickHouse refuses us, not our rows: the message names the setting to fix."""


class _Refused(Exception):
    def __init__(self, table_wide: bool, why: str) -> None:
        super().__init__(why)
        self.table_wide = table_wide
        self.why = why


class ClickHouseWriter:
    def __init__(self, url: str, *, max_backoff: float = 10.0) -> None:
        self._url = url
        self._client = Client.from_url(url)
        self._max_backoff = max_backoff
        self.refusals: dict[int, str] = {}  # the last write's refused rows: index -> why

    async def write(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> list[int]:
        """Insert ``rows``; the indexes of those ClickHouse can never hold (see
        :attr:`refusals` for why)."""
        self.refusals = {}
        if not rows:
            return []
        metrics.SINK_BATCH_ROWS.labels(table).observe(len(rows))
        started = time.monotonic()
        await self._write(table, columns, list(range(len(rows))), rows)
        metrics.SINK_SECONDS.labels(table).observe(time.monotonic() - started)
        if self.refusals:
            metrics.SINK_FAILURES.labels(table, "refused").inc(len(self.refusals))
        return sorted(self.refusals)

    async def _write(
        self, table: str, columns: Sequence[str], indexes: list[int], rows: Sequence[Any]
    ) -> None:
        try:
            await self._insert(table, columns, [rows[i] for i in indexes])
        except _Refused as refused:
            if refused.table_wide or len(indexes) == 1:
                for i in indexes:
                    self.refusals[i] = refused.why
                return
            half = len(indexes) // 2
            await self._write(table, columns, indexes[:half], rows)
            await self._write(table, columns, indexes[half:], rows)

    async def _insert(self, table: str, columns: Sequence[str], rows: list[Any]) -> None:
        query = f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
        delays = Delays(0.5, self._max_backoff)
        while True:
            try:
                data = [list(column) for column in zip(*rows, strict=True)]  # columnar
                await asyncio.to_thread(
                    self._client.execute, query, data, columnar=True, settings=INSERT_SETTINGS
                )
                return
            except ch.ServerException as exc:
                if exc.code in AUTH_CODES:
                    raise SinkFatal(
                        "ClickHouse refuses the user of SENTINEL_CLICKHOUSE_URL "
                        f"({first_line(exc)}): set the right user there and its password in "
                        "SENTINEL_CLICKHOUSE_PASSWORD"
                    ) from None
                if exc.code == NO_DATABASE:
                    raise SinkFatal(
                        f"ClickHouse has no database {urlsplit(self._url).path.strip('/')}: run "
                        "`sentinel migrate`, or fix SENTINEL_CLICKHOUSE_URL"
                    ) from None
                if exc.code in TABLE_CODES:
                    raise _Refused(
                        True, f"{table}: {first_line(exc)} (run `sentinel migrate`?)"
                    ) from None
                if exc.code in ROW_CODES:
                    raise _Refused(False, f"{table}: {first_line(exc)}") from None
                reason = f"ServerException {exc.code}: {first_line(exc)}"
            except (ch.TypeMismatchError, ValueError, TypeError, OverflowError) as exc:
                raise _Refused(False, f"{table}: {type(exc).__name__}: {first_line(exc)}") from None
            except (ch.Error, OSError, EOFError) as exc:
                reason = f"{type(exc).__name__}: {first_line(exc)}"
            metrics.SINK_FAILURES.labels(table, "retried").inc()
            delay = delays.failed()
            log.warning(
                "insert into %s failed (attempt %d, %d rows held): %s; retry in %.1fs",
                table,
                delays.failures,
                len(rows),
                reason,
                delay,
            )
            log.debug("insert into %s failed", table, exc_info=True)
            self._client.disconnect()
            await asyncio.sleep(delay)

    def close(self) -> None:
        self._client.disconnect()

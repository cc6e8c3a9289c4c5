"""The sink stage: the canonical topics, decisions, alerts, traces, resolutions and rule sets into
ClickHouse's tables, in batches, with its own consumer group (``<app id>.sink``).

Not a Faust agent: a batch consumer (aiokafka ``getmany``) costs a twentieth of a Faust message
per record, and the sink needs nothing of Faust's but offsets, which it commits itself, in this
order: map the batch's records to rows, insert them table by table (``streams/sink``), then
commit as every stage does (``streams/agents/batches.py``): the dead letters of what ClickHouse can
never hold delivered, then the offsets. So
committed offsets never run ahead of ClickHouse, and a crash replays into tables that collapse the
replayed rows. ClickHouse down or hung: the insert is retried with backoff and the consumer reads
nothing meanwhile (backpressure, memory flat). ClickHouse refusing our credentials: the worker
stops, naming the setting. Anything else that fails a batch (its dead letters not delivered):
the batch is not committed and is read again, after a growing pause; never skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError

from streams import access, failures, metrics
from streams.agents.batches import deliver
from streams.outbox import Send, dead_letter
from streams.settings import Settings
from streams.sink.clickhouse import ClickHouseWriter, SinkFatal
from streams.sink.rows import COLUMNS, MAPPERS, Row

log = logging.getLogger(__name__)


class Sink:
    def __init__(self, app: faust.App, settings: Settings) -> None:
        self._app = app
        self._settings = settings
        self._writer = ClickHouseWriter(access.clickhouse_url(settings))
        self._prefix = settings.topic_prefix
        self.consumer: AIOKafkaConsumer | None = None  # while it runs

    async def run(self) -> None:
        settings = self._settings
        self.consumer = consumer = AIOKafkaConsumer(
            *(settings.topic(base) for base in MAPPERS),
            **access.aiokafka(settings),
            group_id=f"{settings.app_id}.sink",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 << 20,
        )
        await consumer.start()
        delays = failures.Delays(1.0, 30.0)  # after a batch that failed unexpectedly: the wait
        try:
            while True:
                batches = await consumer.getmany(
                    timeout_ms=int(settings.sink_flush_seconds * 1000),
                    max_records=settings.sink_batch_rows,
                )
                records = [r for part in batches.values() for r in part]
                if not records:
                    continue
                try:
                    letters = await self.write(records)
                    await deliver(
                        self._app.producer,
                        settings.topic,
                        letters,
                        commit=lambda: self._commit(consumer),
                    )
                except SinkFatal:
                    raise
                except Exception as exc:  # noqa: BLE001 - read the batch again, never skip it
                    delay = delays.failed()
                    log.error(
                        "the sink could not write a batch of %d records (%s: %s); it reads "
                        "them again in %.0f s",
                        len(records),
                        type(exc).__name__,
                        str(exc)[:300],
                        delay,
                        exc_info=delays.failures == 1,
                    )
                    await asyncio.sleep(delay)
                    await consumer.seek_to_committed()
                    continue
                delays.succeeded()
        except SinkFatal as fatal:
            log.critical("the sink stops: %s", fatal)
            await self._app.crash(fatal)
        finally:
            await consumer.stop()
            self._writer.close()

    @staticmethod
    async def _commit(consumer: AIOKafkaConsumer) -> None:
        try:
            await consumer.commit()
        except CommitFailedError:
            # The group rebalanced while the batch was being written (a worker joined or left):
            # whoever holds its partitions now reads it again from the last commit, and the
            # tables collapse rows written twice. Stopping here stopped the whole worker.
            log.info("the sink's group rebalanced during a batch: it will be read again")

    async def write(self, records: list[Any]) -> list[Send]:
        """One batch into ClickHouse; the dead letters of what cannot go there."""
        tables: dict[str, list[Row]] = defaultdict(list)
        sources: dict[str, list[Any]] = defaultdict(list)  # each row's record
        letters: list[Send] = []
        for record in records:
            base = record.topic.removeprefix(self._prefix)
            try:
                mapped = MAPPERS[base](record.value, record.timestamp)
            except Exception as exc:  # noqa: BLE001 - a record the sink cannot read
                letters.append(
                    dead_letter(
                        record,
                        base,
                        "sink",
                        type(exc).__name__,
                        f"not a {base} record: {exc}"[:500],
                    )
                )
                continue
            for table, row in mapped:
                tables[table].append(row)
                sources[table].append(record)
        lettered: set[tuple[str, int, int]] = set()
        for table, rows in tables.items():
            refused = await self._writer.write(table, COLUMNS[table], rows)
            for index in refused:
                record = sources[table][index]
                where = (record.topic, record.partition, record.offset)
                if where in lettered:
                    continue  # another of its rows was refused: one letter per record
                lettered.add(where)
                why = self._writer.refusals[index]
                log.error(
                    "ClickHouse refused a row of %s[%d]@%d: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    why,
                )
                letters.append(
                    dead_letter(
                        record, record.topic.removeprefix(self._prefix), "sink", "RowRefused", why
                    )
                )
        metrics.SINK_ROWS.inc(sum(len(rows) for rows in tables.values()))
        return letters

"""Stage 4, rollups: facts in a changelog-backed table, snapshots flushed to ClickHouse.

The facts table is the only state (streams/rollups.py). Each fact is written to the changelog
partition of the message that made it, so a worker holding partition N of the inputs also holds
shard N's facts. The in-memory ``Rollups`` index mirrors the table and is rebuilt from it
whenever this worker's partitions change (after recovery, too), with every group marked for
flushing. A crash before a flush therefore loses nothing: the facts are in the changelog, and
the next owner rebuilds and flushes them. Offsets are not held back for ClickHouse here: the
changelog, not ClickHouse, is what makes a fact durable.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta

import faust

from streams.agents._shared import WorkerState
from streams.agents._topics import Topics
from streams.parktime import local_day
from streams.rollups import INPUTS, TABLES, Fact, Rollups, VersionClock, fold_message
from streams.settings import Settings
from streams.sink.clickhouse import ClickHouseWriter
from streams.topics import PARTITIONS

log = logging.getLogger(__name__)

# Facts of days this far behind the watermark are dropped: their rollups are final.
RETENTION = timedelta(days=60)


def register(app: faust.App, topics: Topics, settings: Settings, shared: WorkerState) -> None:
    # No use_partitioner: a fact goes to the changelog partition of the message being processed.
    facts = app.Table("rollup-facts", key_type=bytes, value_type=bytes, partitions=PARTITIONS)
    rollups = Rollups()
    versions = VersionClock()
    writer = ClickHouseWriter(settings.clickhouse_url)
    mirrored: set[int] = set()  # the shards `rollups` was built for
    pruned: dict[int, date] = {}
    shard_topic = settings.topic("sentinel.decisions")  # every input has the same partitions

    def lookup(key: str) -> Fact | None:
        raw = facts.get(key.encode())
        return None if raw is None else json.loads(raw)[1]

    @app.agent(topics(*INPUTS), name="roll_up")
    async def roll_up(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            shard = event.message.partition
            for key, fact in fold_message(topics.base(event.message.topic), event.value, lookup):
                stored, value = key.encode(), json.dumps([shard, fact]).encode()
                if facts.get(stored) != value:  # a replayed event writes no record
                    facts[stored] = value
                rollups.put(shard, key, fact)
            horizon = local_day(shared.watermark - RETENTION)
            if pruned.get(shard) != horizon:
                pruned[shard] = horizon
                for key in rollups.prune(shard, horizon):
                    if key.encode() in facts:
                        del facts[key.encode()]  # a tombstone in this message's partition

    def rebuild(shards: set[int]) -> None:
        rollups.clear()
        for key, raw in list(facts.items()):
            shard, fact = json.loads(raw)
            if shard in shards:  # the store also holds standby and revoked partitions
                rollups.put(shard, key.decode(), fact)
        mirrored.clear()
        mirrored.update(shards)
        log.info("rollups rebuilt for shards %s: %d facts", sorted(shards), len(rollups))

    @app.timer(interval=settings.sink_flush_seconds)  # type: ignore[untyped-decorator]
    async def flush_rollups() -> None:
        recovery = app.tables.recovery  # type: ignore[attr-defined]
        if app.rebalancing or not recovery.completed.is_set():
            # The facts are being restored, going back through their past values meanwhile
            # (see StateTable.restoring): an index rebuilt then would flush them as current.
            return
        shards = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == shard_topic}
        if shards != mirrored:
            rebuild(shards)
        for table, rows in rollups.flush(shards, versions.next(datetime.now(UTC))).items():
            await writer.write(table, TABLES[table].columns, rows)

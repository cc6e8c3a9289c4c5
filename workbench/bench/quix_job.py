"""(d) The peer: the job of (c) written with Quix Streams, the way Quix means it to be written.

Each raw topic's dataframe feeds our batch processor (``streams/processor.py``: ingestion, the
rule engine, rollups, state records; in memory, one per process, a batch of one, events in
arrival order as in (c)), and fans out the decisions it makes: produced to the decisions topic
(Quix's producer: no per-event wait) and written to ClickHouse by a batching sink (one columnar
insert per topic partition at each checkpoint). The time runs from the first message to the last
checkpoint committed, which flushes both.

Runs in its own virtualenv (quixstreams pins its own pydantic and Kafka client) with the
repository on PYTHONPATH; prints one JSON line (messages, seconds). Arguments: the broker
connection (JSON, librdkafka's names: ``streams/access.py``, librdkafka), consumer group,
expected count, ClickHouse URL, topic prefix, then the raw topics' catalogue names.
"""

import json
import os
import sys
import time
from typing import Any

from clickhouse_driver import Client
from quixstreams import Application
from quixstreams.kafka.configuration import ConnectionConfig
from quixstreams.models.serializers import Serializer
from quixstreams.sinks import BatchingSink, SinkBatch

from streams.backtest import processor
from streams.engine.outputs import Decided
from streams.processor import Raw
from streams.rules import DEFAULT_RULESET, load_ruleset
from streams.sink.rows import COLUMNS, decision_row


class DecisionJson(Serializer):  # type: ignore[misc]  # quixstreams: no types here
    def __call__(self, value: Decided, ctx: Any) -> bytes:
        return value.json()


class DecisionRows(BatchingSink):  # type: ignore[misc]
    """The decisions table, one columnar insert per batch."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._insert = f"INSERT INTO decisions ({', '.join(COLUMNS['decisions'])}) VALUES"

    def setup(self) -> None:
        self._client = Client.from_url(self._url)

    def write(self, batch: SinkBatch) -> None:
        columns = [list(c) for c in zip(*(item.value for item in batch), strict=True)]
        self._client.execute(self._insert, columns, columnar=True)


def main() -> None:
    group, expect, prefix, *sources = sys.argv[1:]
    broker, clickhouse_url = os.environ["QUIX_BROKER"], os.environ["QUIX_CLICKHOUSE_URL"]
    wanted = int(expect)
    app = Application(
        broker_address=ConnectionConfig(**json.loads(broker)),
        consumer_group=group,
        auto_offset_reset="earliest",
        loglevel="WARNING",
    )
    process = processor(load_ruleset(DEFAULT_RULESET), b"bench" * 8)
    made = [0]
    decisions = app.topic(prefix + "sentinel.decisions", value_serializer=DecisionJson())
    rows = DecisionRows(clickhouse_url)
    state = {"count": 0, "first": 0.0}

    def judge(source: str) -> Any:
        def step(raw: bytes) -> list[Decided]:
            state["count"] += 1
            if state["count"] == 1:
                state["first"] = time.perf_counter()
            if state["count"] >= wanted:
                app.stop()  # after this message; the run ends with a committed checkpoint
            process.read(Raw(source, raw))
            decided = process.take().decisions
            made[0] += len(decided)
            return decided

        return step

    for source in sources:
        sdf = app.dataframe(app.topic(prefix + source, value_deserializer="bytes"))
        sdf = sdf.apply(judge(source), expand=True)
        sdf.to_topic(decisions, key=lambda decision: decision.entry_id)
        sdf.apply(lambda decision: decision_row(decision.wire())).sink(rows)
    app.run()
    seconds = time.perf_counter() - state["first"]
    print(
        json.dumps({"messages": state["count"], "seconds": seconds, "decisions": made[0]}),
        flush=True,
    )


if __name__ == "__main__":
    main()

"""(c) The common pattern, as a baseline: our batch processor (``streams/processor.py``) in a
Faust agent written event by event, a batch of one, with an awaited send per decision and one
ClickHouse insert per decision. Run as a
subprocess by `sentinel bench`; prints one JSON line (messages, seconds from first to last).

Environment: BENCH_BROKER, BENCH_APP, BENCH_TOPICS, BENCH_EXPECT, BENCH_CLICKHOUSE_URL,
BENCH_PREFIX (of the output topics).
"""

from __future__ import annotations

import os

import faust
from clickhouse_driver import Client

from streams.backtest import processor
from streams.processor import Raw
from streams.rules import DEFAULT_RULESET, load_ruleset
from streams.sink.rows import COLUMNS, decision_row
from workbench.bench._faust import Countdown, bench_app, run

app = bench_app()
source = app.topic(*os.environ["BENCH_TOPICS"].split(","), value_serializer="raw")
decisions = app.topic(os.environ["BENCH_PREFIX"] + "sentinel.decisions", value_serializer="raw")
process = processor(load_ruleset(DEFAULT_RULESET), b"bench" * 8)
client = Client.from_url(os.environ["BENCH_CLICKHOUSE_URL"])
insert = f"INSERT INTO decisions ({', '.join(COLUMNS['decisions'])}) VALUES"
prefix = os.environ["BENCH_PREFIX"]


@app.agent(source)
async def naive(stream: faust.StreamT[bytes]) -> None:
    countdown = Countdown()
    async for event in stream.events():
        process.read(Raw(event.message.topic.removeprefix(prefix), event.value))
        for decision in process.take().decisions:
            # Awaited one by one, and one insert per decision: the pattern being measured.
            await decisions.send(value=decision.json())
            client.execute(insert, [decision_row(decision.wire())])
        countdown.tick()


if __name__ == "__main__":
    run(app)

"""(f) The framework's own ceiling: a Faust agent that only decodes JSON. Run as a subprocess by
`sentinel bench`; prints one JSON line with the count and the seconds from first to last message.

Environment: BENCH_BROKER, BENCH_APP, BENCH_TOPICS (comma-separated), BENCH_EXPECT, and
BENCH_FAUST_SETTINGS (JSON: more keyword arguments for faust.App, to try settings).
"""

from __future__ import annotations

import json
import os

import faust

from workbench.bench._faust import Countdown, bench_app, run

app = bench_app(**json.loads(os.environ.get("BENCH_FAUST_SETTINGS", "{}")))
topic = app.topic(*os.environ["BENCH_TOPICS"].split(","), value_serializer="raw")


@app.agent(topic)
async def decode(stream: faust.StreamT[bytes]) -> None:
    countdown = Countdown()
    async for value in stream:
        json.loads(value)
        countdown.tick()


if __name__ == "__main__":
    run(app)

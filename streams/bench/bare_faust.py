"""(f) The framework's own ceiling: a Faust agent that only decodes JSON. Run as a subprocess by
`sentinel bench`; prints one JSON line with the count and the seconds from first to last message.

Environment: BENCH_BROKER, BENCH_APP, BENCH_TOPICS (comma-separated), BENCH_EXPECT, and
BENCH_FAUST_SETTINGS (JSON: more keyword arguments for faust.App, to try settings).
"""

from __future__ import annotations

import json
import os
import sys
import time

import faust

app = faust.App(
    os.environ["BENCH_APP"],
    broker=f"kafka://{os.environ['BENCH_BROKER']}",
    store="memory://",
    web_enabled=False,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    **json.loads(os.environ.get("BENCH_FAUST_SETTINGS", "{}")),
)
topic = app.topic(*os.environ["BENCH_TOPICS"].split(","), value_serializer="raw")
expect = int(os.environ["BENCH_EXPECT"])


@app.agent(topic)
async def decode(stream: faust.StreamT[bytes]) -> None:
    count, first = 0, 0.0
    async for value in stream:
        json.loads(value)
        count += 1
        if count == 1:
            first = time.perf_counter()
        if count >= expect:
            print(json.dumps({"messages": count, "seconds": time.perf_counter() - first}))
            sys.stdout.flush()
            os._exit(0)


if __name__ == "__main__":
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()

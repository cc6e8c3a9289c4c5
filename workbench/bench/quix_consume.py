"""Quix Streams' own ceiling, beside (d) as (f) is beside (b): the same topics consumed by a
dataframe that only decodes JSON.

Runs in its own virtualenv (quixstreams pins its own pydantic), and imports nothing of ours.
Prints one JSON line (messages, seconds from first to last). Arguments: the broker connection
(JSON, librdkafka's names: `streams/access.py`, librdkafka), consumer group,
expected count, topic names...
"""

import json
import os
import sys
import time

from quixstreams import Application
from quixstreams.kafka.configuration import ConnectionConfig


def main() -> None:
    group, expect, *topics = sys.argv[1:]
    broker = os.environ["QUIX_BROKER"]
    wanted = int(expect)
    app = Application(
        broker_address=ConnectionConfig(**json.loads(broker)),
        consumer_group=group,
        auto_offset_reset="earliest",
        loglevel="WARNING",
    )
    state = {"count": 0, "first": 0.0}

    def count(_value: object) -> None:
        state["count"] += 1
        if state["count"] == 1:
            state["first"] = time.perf_counter()
        if state["count"] >= wanted:
            seconds = time.perf_counter() - state["first"]
            print(json.dumps({"messages": state["count"], "seconds": seconds}), flush=True)
            app.stop()

    for name in topics:
        sdf = app.dataframe(app.topic(name, value_deserializer="json"))
        sdf.update(count)
    app.run()


if __name__ == "__main__":
    main()

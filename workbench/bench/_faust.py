"""What the two Faust apps of the bench share: an app configured from the environment, and the
count that ends a run by printing its result (a worker sends prints to its log, on stderr)."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import faust

from streams import access
from streams.settings import load_settings


def bench_app(**settings: Any) -> faust.App:
    """BENCH_APP on BENCH_BROKER, reading from the beginning, no web server."""
    return faust.App(
        os.environ["BENCH_APP"],
        broker=f"kafka://{os.environ['BENCH_BROKER']}",
        broker_credentials=access.faust_credentials(load_settings()),
        store="memory://",
        web_enabled=False,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        **settings,
    )


class Countdown:
    """Counts messages; after BENCH_EXPECT of them prints the count and the seconds from the
    first to the last, and ends the process."""

    def __init__(self) -> None:
        self.expect = int(os.environ["BENCH_EXPECT"])
        self.count = 0
        self.first = 0.0

    def tick(self) -> None:
        self.count += 1
        if self.count == 1:
            self.first = time.perf_counter()
        if self.count >= self.expect:
            seconds = time.perf_counter() - self.first
            print(json.dumps({"messages": self.count, "seconds": seconds}))
            sys.stdout.flush()
            os._exit(0)


def run(app: faust.App) -> None:
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()

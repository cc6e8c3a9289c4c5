"""``sentinel worker``: run a worker in the foreground."""

from __future__ import annotations

import argparse

from streams.commands.base import Command, no_options
from streams.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker

    return run_worker(settings)


COMMAND = Command(
    "worker",
    "run a stream-processing worker (until SIGTERM)",
    "Run a worker in the foreground: the decide stage (every raw topic: validation, "
    "pseudonyms, the rules, rollups), the ClickHouse sink, the alert dispatcher, and "
    "the gate board with /metrics. Start several for more parks; they share the work.",
    ("sentinel worker", "SENTINEL_HTTP_PORT=0 sentinel worker   # board on a free port"),
    no_options,
    run,
)

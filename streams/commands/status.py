"""``sentinel status``: how far the pipeline is."""

from __future__ import annotations

import argparse

from streams.commands.base import Command
from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--follow",
        action="store_true",
        help="look again every 5 s until nothing is left to process",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from streams.status import read_status

    before = None
    while True:
        status = read_status(settings)
        print(status.line(before), flush=True)
        if not args.follow or status.done:
            return 0
        before = status
        time.sleep(5)


COMMAND = Command(
    "status",
    "how far the pipeline is: what is left per stage, entries decided",
    "Per stage, what is left to process, the entries decided and the latest decided; "
    "with --follow, until nothing is left, with the time left at the current rate.",
    ("sentinel status", "sentinel --namespace jinshan status --follow"),
    configure,
    run,
)

"""``sentinel report``: the park's figures from the rollups."""

from __future__ import annotations

import argparse
import sys

from streams.commands.base import Command, day, with_clickhouse
from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="first",
        type=day,
        metavar="DAY",
        help="first park-local day, e.g. 2022-04-01",
    )
    parser.add_argument(
        "--to", dest="last", type=day, metavar="DAY", help="last park-local day, e.g. 2022-05-09"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.report import build_report

    if args.first and args.last and args.first > args.last:
        print(f"sentinel report: --from {args.first} is after --to {args.last}", file=sys.stderr)
        return 2
    report = with_clickhouse(settings, lambda execute: build_report(execute, args.first, args.last))
    print(report.to_json() if args.json else report.to_text())
    return 0


COMMAND = Command(
    "report",
    "totals, the daily peak, positives, holds, denials, visit compliance",
    "The park's figures from the rollups in ClickHouse, over park-local days.",
    (
        "sentinel report",
        "sentinel --namespace jinshan-2022 report --json",
        "sentinel report --from 2022-05-01 --to 2022-05-09",
    ),
    configure,
    run,
)

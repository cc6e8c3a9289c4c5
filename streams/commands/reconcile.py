"""``sentinel reconcile``: every rollup checked against the raw tables."""

from __future__ import annotations

import argparse

from streams.commands.base import Command, no_options, with_clickhouse
from streams.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.report import reconcile

    compared, mismatches = with_clickhouse(settings, reconcile)
    for m in mismatches[:50]:
        print(f"{m.check}: {', '.join(m.group)}: rollup {m.rollup} != raw {m.raw}")
    print(f"{compared} groups compared, {len(mismatches)} differ")
    return 1 if mismatches else 0


COMMAND = Command(
    "reconcile",
    "check every ClickHouse rollup against the raw tables (exit 1 if apart)",
    "Compute each rollup again from the raw tables and compare, group by group.",
    ("sentinel reconcile",),
    no_options,
    run,
)

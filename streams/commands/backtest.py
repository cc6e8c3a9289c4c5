"""``sentinel backtest``: a rule set replayed against a baseline."""

from __future__ import annotations

import argparse
import sys

from streams import access
from streams.commands.base import Command, existing_file
from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules", type=existing_file, required=True, metavar="FILE", help="the candidate rule set"
    )
    parser.add_argument(
        "--events",
        type=existing_file,
        required=True,
        metavar="JSONL",
        help="raw events, one JSON line each (as `sentinel simulate` writes)",
    )
    parser.add_argument(
        "--baseline",
        type=existing_file,
        metavar="FILE",
        help="the rule set to compare with (default: the bundled one)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.backtest import run_backtest
    from streams.rules import DEFAULT_RULESET, RuleSetError, load_ruleset

    try:
        baseline = load_ruleset(args.baseline or DEFAULT_RULESET)
        candidate = load_ruleset(args.rules)
    except RuleSetError as exc:
        print(f"sentinel backtest: {exc}", file=sys.stderr)
        return 2
    return run_backtest(baseline, candidate, args.events, access.pseudonym_key(settings))


COMMAND = Command(
    "backtest",
    "replay events under a rule set and compare with a baseline",
    "Run a file of raw events through the rules twice, the baseline's and the "
    "candidate's, and show how the decisions would differ. No Kafka, no ClickHouse.",
    (
        "sentinel rules show | sed 's/window: 48h/window: 24h/' > strict.yaml",
        "sentinel backtest --rules strict.yaml --events /tmp/jinshan/events.jsonl",
    ),
    configure,
    run,
)

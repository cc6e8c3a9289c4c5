"""``sentinel resolve``: an officer's resolution of a held entry."""

from __future__ import annotations

import argparse

from streams.commands.base import Command, Failed, progress
from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    from schemas.resolution import ACTIONS

    parser.add_argument("entry", metavar="ENTRY", help="the entry id, as the board shows it")
    parser.add_argument("--action", required=True, choices=ACTIONS, help="what the officer did")
    parser.add_argument("--officer", required=True, help="the officer's staff id")
    parser.add_argument("--reason", required=True, help="why, in the officer's words")
    parser.add_argument("--park", help="the entry's park (default: looked up in ClickHouse)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.resolve import ResolveError, resolve

    try:
        outcome = resolve(
            settings,
            args.entry,
            args.action,
            args.officer,
            args.reason,
            park=args.park,
            progress=progress,
        )
    except ResolveError as exc:
        raise Failed(str(exc)) from None
    if outcome.accepted:
        print(
            f"{args.entry}: {args.action.replace('_', ' ')} by {args.officer}; decision "
            f"revision {outcome.revision} supersedes revision {outcome.superseded_revision}"
        )
        return 0
    print(f"{args.entry}: refused: {outcome.refusal}")
    return 1


COMMAND = Command(
    "resolve",
    "an officer's resolution of a held entry: release, deny, turn away",
    "Record what the gate's officer did with a held entry (sent to gate.resolutions). "
    "The entry gets a new decision revision naming the officer and the reason, its "
    "hold's alerts close, and the resolution is kept in ClickHouse (table "
    "resolutions). A release is refused while an occupant is positive or red-coded.",
    (
        "sentinel resolve entry-1-000057 --action released_after_check --officer wang-3 "
        "--reason 'papers checked, antigen negative on a second kit'",
        "sentinel resolve entry-1-000102 --action turned_away --officer li-1 "
        "--reason 'no appointment'",
    ),
    configure,
    run,
)

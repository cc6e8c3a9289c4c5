"""``sentinel dlq``: the dead-letter topic, listed, replayed or discarded."""

from __future__ import annotations

import argparse

from streams.commands.base import Command, Failed, actions, dlq_errors, moment, offsets
from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    actions(
        parser,
        list="each dead letter, where it came from, why it was refused, what was done with it",
        replay="send the chosen letters back to their source topics, once (fix the cause first)",
        discard="record the chosen letters as discarded: never to be replayed",
    )
    parser.add_argument("--topic", help="only letters from this source topic, e.g. gate.exits")
    parser.add_argument(
        "--reason", help="only letters whose error class or message holds this (any case)"
    )
    parser.add_argument("--since", type=moment, help="only letters dead-lettered from then on")
    parser.add_argument("--until", type=moment, help="only letters dead-lettered before then")
    parser.add_argument(
        "--offsets", type=offsets, help="only these letters, by offset: 12,15,20-30"
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="replay: also letters replayed before, and replayed letters that failed again",
    )
    parser.add_argument("--by", default="sentinel dlq", help="discard: who (recorded)")
    parser.add_argument("--note", default="", help="discard: why (recorded)")
    parser.add_argument(
        "--summary", action="store_true", help="list: counts per source topic and error class"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams import dlq

    selection = dlq.Selection(args.topic, args.reason, args.since, args.until, args.offsets)
    with dlq_errors():
        if args.action == "replay":
            done = dlq.replay(settings, selection, again=args.again)
            if not done.sent and not done.left:
                print("nothing to replay: no letter matches")
                return 0
            print(f"replayed {done.sent} dead letters to their source topics")
            if done.left:
                left = "; ".join(f"{n} {why}" for why, n in done.left.items())
                print(
                    f"not sent: {left} (--again sends those replayed before or failed again; "
                    "discarded and truncated letters never)"
                )
            return 0
        if args.action == "discard":
            if selection.empty:
                raise Failed(
                    "say which letters to discard (--topic, --reason, --since, --until or "
                    "--offsets); `sentinel dlq list` with the same options shows them first"
                )
            count = dlq.discard(settings, selection, by=args.by, note=args.note)
            print(f"discarded {count} dead letters: they will never be replayed")
            return 0
        found = dlq.select(settings, selection)
    if args.summary:
        for what, count in dlq.by_reason(found).items():
            print(f"{count:>7}  {what}")
    else:
        for letter in found:
            print(dlq.describe_letter(letter))
    print(f"{len(found)} dead letters in {settings.topic('sentinel.dlq')}")
    return 0


COMMAND = Command(
    "dlq",
    "the dead-letter topic: list it, replay or discard a chosen part of it",
    "Every record a stage refused, with its raw bytes and headers saying where it came "
    "from, which stage refused it and why.",
    (
        "sentinel dlq list --summary",
        "sentinel dlq list --topic gate.exits --reason ValidationError",
        "sentinel dlq replay --reason MessageTooLarge",
        "sentinel dlq discard --topic gate.exits --until 2026-12-02T08:00+08:00 "
        "--by ops-7 --note 'test garbage'",
    ),
    configure,
    run,
)

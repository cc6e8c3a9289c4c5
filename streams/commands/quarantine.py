"""``sentinel quarantine``: raw partitions the DLQ limit stopped reading."""

from __future__ import annotations

import argparse

from streams.commands.base import Command, Failed, actions, dlq_errors
from streams.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    actions(
        parser,
        list="the raw partitions the DLQ limit stopped reading, and those lifted",
        lift="read a quarantined partition again (fix its producer first)",
    )
    parser.add_argument("partition", nargs="?", metavar="TOPIC:PARTITION", help="lift: which")
    parser.add_argument("--by", default="operator", help="lift: who (recorded)")
    parser.add_argument("--reason", default="", help="lift: why, e.g. the producer was fixed")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams import quarantine

    with dlq_errors():
        if args.action == "list":
            states = quarantine.current(settings)
            for state in states.values():
                print(
                    f"{state.topic}:{state.partition}  {state.state} at "
                    f"{state.at:%Y-%m-%d %H:%M:%S} by {state.by}, offset {state.offset}: "
                    f"{state.reason}"
                )
            held = sum(s.state == "quarantined" for s in states.values())
            print(f"{held} partitions quarantined")
            return 0
        if args.partition is None:
            raise Failed(
                "say which partition to lift: e.g. `sentinel quarantine lift gate.exits:3`"
            )
        try:
            topic, partition = quarantine.parse_partition(args.partition, settings)
        except ValueError as exc:
            raise Failed(str(exc)) from None
        lifted = quarantine.lift(
            settings, topic, partition, by=args.by, reason=args.reason or "lifted"
        )
    print(
        f"{topic}:{partition} lifted: its messages before offset {lifted.offset} are read "
        "again, the bad ones dead-lettered without counting towards the limit"
    )
    return 0


COMMAND = Command(
    "quarantine",
    "raw partitions the DLQ limit stopped reading: list them, or lift one",
    "When most of a raw partition's recent messages are invalid, workers stop reading it "
    "(the rest of the pipeline runs on) until an operator lifts it, once its producer is "
    "fixed: what is in it by then is read again, the bad messages dead-lettered without "
    "counting towards the limit.",
    (
        "sentinel quarantine list",
        "sentinel quarantine lift gate.exits:3 --by ops-7 --reason 'gate 2 firmware fixed'",
    ),
    configure,
    run,
)

"""The ``sentinel`` command: the product's commands (``streams/commands/``, one module each: a
worker, migrations, rule sets, reports, the dead letters, an officer's resolution). Other
packages add commands through the entry-point group ``sentinel.commands`` (a function returning
commands; one of the same name replaces the product's): the workbench adds the local stack, the
simulator, the bench and the demo that way, and nothing here imports it.

Settings are read here, once, and passed down. Errors the user can fix are one line on stderr
that names the fix; exit 2 for a bad argument or setting, 1 for a failure.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from streams import failures
from streams.commands import product_commands
from streams.commands.base import Command, Failed
from streams.settings import ConfigError, load_settings

__all__ = ["COMMANDS", "Command", "Failed", "build_parser", "main"]


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sentinel",
        description="Gate Sentinel: release rules for hazmat trucks at industrial-park gates.",
        epilog="Settings come from SENTINEL_* environment variables (README.md, Settings). "
        "`sentinel COMMAND --help` explains each command, with examples.",
    )
    parser.add_argument("--version", action="version", version=f"sentinel {_version()}")
    parser.add_argument(
        "--namespace",
        metavar="NAME",
        help="run apart: this namespace's topics, worker group and database (SENTINEL_NAMESPACE)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands:
        sub = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            epilog="examples:\n" + "\n".join(f"  {e}" for e in command.examples),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.configure(sub)
    return parser


def merge(*groups: Sequence[Command]) -> tuple[Command, ...]:
    """Commands in order, a later one replacing an earlier one of the same name."""
    by_name: dict[str, Command] = {}
    for group in groups:
        for command in group:
            by_name.pop(command.name, None)
            by_name[command.name] = command
    return tuple(by_name.values())


def with_plugins(commands: Sequence[Command]) -> tuple[Command, ...]:
    """``commands`` and those of the installed ``sentinel.commands`` entry points."""
    from importlib.metadata import entry_points

    added = [ep.load()() for ep in entry_points(group="sentinel.commands")]
    return merge(commands, *added)


def main(argv: Sequence[str] | None = None, commands: Sequence[Command] | None = None) -> int:
    commands = with_plugins(COMMANDS) if commands is None else commands
    args = build_parser(commands).parse_args(argv)
    environ = None
    if args.namespace is not None:
        import os

        environ = {**os.environ, "SENTINEL_NAMESPACE": args.namespace}
    try:
        settings = load_settings(environ)
    except ConfigError as exc:
        print(f"sentinel: {exc}", file=sys.stderr)
        return 2
    command = next(c for c in commands if c.name == args.command)
    failures.quiet_clients(settings.log_level == "debug")
    try:
        return command.run(args, settings)
    except Failed as exc:
        print(f"sentinel {args.command}: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"sentinel {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # Kafka or ClickHouse failing under any command: a sentence
        sentence = failures.describe(exc, settings)
        if sentence is None:
            raise
        print(f"sentinel {args.command}: {sentence}", file=sys.stderr)
        if settings.log_level == "debug":
            traceback.print_exc()
        return 1


def _version() -> str:
    try:
        return version("gate-sentinel")
    except PackageNotFoundError:
        return "(not installed)"


COMMANDS: tuple[Command, ...] = product_commands()


if __name__ == "__main__":
    sys.exit(main())

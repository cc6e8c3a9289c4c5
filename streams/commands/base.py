"""What every command is made of: the command itself, its refusal (:class:`Failed`), the argument
types that say what is wrong with a value and how to write it, and the helpers several commands
share (ClickHouse for a query, the DLQ's refusals)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from streams import access, failures
from streams.settings import Settings

Run = Callable[[argparse.Namespace, Settings], int]
T = TypeVar("T")
N = TypeVar("N", int, float)


@dataclass(frozen=True)
class Command:
    name: str
    help: str  # one line, in the list of commands
    description: str  # what it does, in its own --help
    examples: tuple[str, ...]
    configure: Callable[[argparse.ArgumentParser], None]
    run: Run


class Failed(Exception):
    """A command cannot do what was asked; the message says why and what to do (exit 1)."""


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def no_options(parser: argparse.ArgumentParser) -> None:
    del parser  # everything is a setting


def actions(parser: argparse.ArgumentParser, **what: str) -> None:
    """A command's first argument: one of the actions ``what`` names, each with what it does."""
    parser.add_argument(
        "action",
        choices=tuple(what),
        help="; ".join(f"{action}: {text}" for action, text in what.items()),
    )


# -- argument types: a bad value says what is wrong and how to write it ----------------------


def _parsed(text: str, convert: Callable[[str], T], what: str) -> T:
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def _at_least(value: N, low: N, why: str) -> N:
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} {why}")
    return value


def positive_int(text: str) -> int:
    return _at_least(
        _parsed(text, int, "a whole number"), 1, "is not a positive number; give 1 or more"
    )


def day(text: str) -> date:
    return _parsed(text, date.fromisoformat, "a day; write it as 2022-05-04")


def non_negative_float(text: str) -> float:
    return _at_least(_parsed(text, float, "a number"), 0, "is negative; give 0 or more")


def share(text: str) -> float:
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{value} is not a share; give a number from 0 to 1")
    return value


def existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    return path


def moment(text: str) -> datetime:
    value = _parsed(text, datetime.fromisoformat, "a time; write it as 2026-12-02T08:00+08:00")
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add one, e.g. +08:00")
    return value


def offsets(text: str) -> frozenset[int]:
    from streams.dlq import parse_offsets

    try:
        return parse_offsets(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- what several commands share ------------------------------------------------------------


def with_clickhouse(settings: Settings, query: Callable[..., T]) -> T:
    from clickhouse_driver import Client
    from clickhouse_driver.errors import Error as ClickHouseError

    client = Client.from_url(access.clickhouse_url(settings))
    try:
        return query(lambda sql: list(client.execute(sql)))
    except (ClickHouseError, OSError, EOFError) as exc:
        raise Failed(clickhouse_unreachable(settings, exc)) from None
    finally:
        client.disconnect()


def clickhouse_unreachable(settings: Settings, exc: BaseException) -> str:
    return failures.describe(exc, settings) or (
        f"cannot use ClickHouse at {settings.clickhouse_url.split('@')[-1]} "
        f"({failures.first_line(exc)}); is it up (`sentinel stack up`), migrated (`sentinel "
        "migrate`), and is SENTINEL_CLICKHOUSE_URL right?"
    )


@contextmanager
def dlq_errors() -> Iterator[None]:
    """A DLQ command's own refusals; Kafka failing is said by :func:`main`, as for any command."""
    from streams.dlq import DlqError

    try:
        yield
    except DlqError as exc:
        raise Failed(str(exc)) from None

"""The product's commands, one module each (``base.py``: what they are made of). A module here
that defines ``COMMAND`` is a command; :func:`product_commands` finds them by walking the package,
in the order of :data:`ORDER` (the order ``sentinel --help`` lists them)."""

from __future__ import annotations

import importlib
import pkgutil

from streams.commands.base import Command

ORDER = (
    "worker",
    "migrate",
    "topics",
    "rules",
    "dlq",
    "quarantine",
    "backtest",
    "report",
    "reconcile",
    "status",
    "resolve",
)


def product_commands() -> tuple[Command, ...]:
    found: dict[str, Command] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        command = getattr(module, "COMMAND", None)
        if isinstance(command, Command):
            found[command.name] = command
    unlisted = sorted(set(found) - set(ORDER))
    if unlisted:
        raise RuntimeError(f"commands missing from ORDER in {__file__}: {', '.join(unlisted)}")
    return tuple(found[name] for name in ORDER if name in found)

"""Progress for long-running commands: a progress line on stderr (a bar on a terminal, a line per
10% otherwise), and waits that last as long as something moves.

A wait sized for one machine fails on a slower one. :func:`wait_while_moving` instead waits as long
as its signs of progress keep changing (offsets, row counts, a log growing, CPU time spent), and
gives up only when none of them has changed for ``stall`` seconds: the same wait then holds on a
machine three times slower, and still fails quickly when the thing waited for is stuck.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TextIO, TypeVar

T = TypeVar("T")


def announce(logger: logging.Logger, level: str, message: str, *args: object) -> None:
    """A line others wait for (ready, where the board listens): logged at INFO, or at the
    worker's log ``level`` when that is quieter, so that it is never filtered out. (Not the root
    logger's level: Faust sets that to DEBUG for its spinner, and filters in the handler.)"""
    from mode.utils.logging import level_number

    logger.log(max(logging.INFO, level_number(level)), message, *args)


class Stalled(Exception):
    """Nothing moved for the whole stall period; the message says what was waited for."""


def wait_while_moving(
    done: Callable[[], T | None],
    signs: Callable[[], Hashable],
    *,
    what: str,
    stall: float,
    interval: float = 0.5,
) -> T:
    """Poll ``done`` until it returns something truthy, and return that. Raise :class:`Stalled`
    once ``signs()`` has returned the same value for ``stall`` seconds."""
    last = signs()
    moved = time.monotonic()
    while True:
        result = done()
        if result:
            return result
        now = signs()
        if now != last:
            last, moved = now, time.monotonic()
        elif time.monotonic() - moved > stall:
            raise Stalled(f"{what}: nothing moved for {stall:.0f} s (last signs: {last})")
        time.sleep(interval)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (100 Hz)


def busy(pid: int, threshold: float = 0.5) -> Callable[[], int]:
    """A sign of progress for :func:`wait_while_moving`: changes each time the process has used
    ``threshold`` more CPU seconds (an idle worker's timers use far less than that)."""
    return lambda: int(cpu_seconds(pid) / threshold)


class ProgressBar:
    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self._stream = stream or sys.stderr  # looked up now: sys.stderr may have been replaced
        self._tty = self._stream.isatty()
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._last_decile = -1

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._tty and now - self._last_draw >= 0.2:
            self._last_draw = now
            self._draw(end="\r")
        elif not self._tty and (decile := self.done * 10 // self.total) > self._last_decile:
            self._last_decile = decile
            self._draw(end="\n")

    def close(self) -> None:
        if self._tty or self._last_decile < 10:
            self._draw(end="\n")

    def _draw(self, end: str) -> None:
        share = min(self.done / self.total, 1.0)
        elapsed = max(time.monotonic() - self._started, 1e-6)
        bar = "#" * int(share * 30)
        self._stream.write(
            f"{self.label} [{bar:<30}] {share:4.0%} {self.done}/{self.total} "
            f"{self.done / elapsed:,.0f}/s{end}"
        )
        self._stream.flush()

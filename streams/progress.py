"""A progress line for long-running commands, on stderr: a bar on a terminal, a line per 10%
otherwise (CI logs)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


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

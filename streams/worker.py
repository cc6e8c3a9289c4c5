"""Running a worker: in the foreground (``sentinel worker``) or detached (``--detach``, the demo).

A worker logs :data:`READY_MARKER` once it has joined the group and holds its partitions; callers
that start one wait for that line instead of sleeping.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.settings import Settings
from streams.stack import Stack, StackError
from streams.stack._process import Progress

READY_MARKER = "sentinel worker ready"

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> int:
    import faust

    from streams.app import create_app

    app = create_app(settings)

    async def announce_ready(sender: faust.App, **_: object) -> None:
        # Sent once tables are restored; streams resume right after, when `completed` is set.
        async def announce() -> None:
            recovery: Any = sender.tables.recovery  # type: ignore[attr-defined]
            await recovery.completed.wait()
            log.info("%s: %d partitions assigned", READY_MARKER, len(sender.consumer.assignment()))

        sender.loop.create_task(announce())

    app.on_rebalance_complete.connect(announce_ready)  # type: ignore[arg-type]

    worker = faust.Worker(app, loglevel=settings.log_level, redirect_stdouts=False)
    worker.execute_from_commandline()  # runs until SIGTERM / SIGINT
    return 0


def start_detached(settings: Settings, progress: Progress, timeout: float = 90) -> str:
    """Start a worker in the background unless one runs; wait until it is ready."""
    process = Stack(settings).worker()
    pid = process.pid()
    if pid is not None:
        return f"worker already running (pid {pid}); log {process.log_file}"
    offset = process.log_file.stat().st_size if process.log_file.exists() else 0
    progress(f"starting a worker in the background; log {process.log_file}")
    process.start([sys.executable, "-m", "streams.cli", "worker"])
    wait_for_ready(process.log_file, offset, timeout, is_alive=lambda: not process.has_exited())
    return f"worker running (pid {process.pid()}); log {process.log_file}"


def wait_for_ready(
    log_file: Path, offset: int, timeout: float, is_alive: Callable[[], bool] | None = None
) -> None:
    """Wait until ``log_file`` shows :data:`READY_MARKER` past ``offset``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_file.exists():
            with log_file.open("rb") as f:
                f.seek(offset)
                if READY_MARKER.encode() in f.read():
                    return
        if is_alive is not None and not is_alive():
            raise StackError(f"the worker exited while starting; see {log_file}")
        time.sleep(0.3)
    raise StackError(f"the worker was not ready within {timeout:.0f}s; see {log_file}")

"""Running a worker (``sentinel worker``), and waiting for one to be ready.

A worker logs :data:`READY_MARKER` once it has joined the group, read the followed topics to their
end and restored the state of its partitions; callers that start one wait for that line, for as
long as the worker makes progress towards it, instead of sleeping.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from streams import failures
from streams.progress import Stalled, announce, busy, wait_while_moving
from streams.settings import Settings

READY_MARKER = "sentinel worker ready"


class NotReady(Exception):
    """A worker started but did not become ready; the message says where to look."""


# A starting worker that neither logs nor spends CPU for this long is stuck. Longer than a
# consumer group's session timeout, which a successor of a killed worker waits out quietly.
READY_STALL = 150.0

log = logging.getLogger(__name__)


def tune_gc() -> None:
    """Fewer full garbage collections: a worker holds tens of thousands of long-lived objects
    (its parks' state), which every collection of the oldest generation walks. With Python's
    default thresholds that walk took a third of the engine's time (a replay of the story ran
    at 4,500 events/s, 5,700 with these)."""
    gc.set_threshold(50_000, 50, 100)


def run_worker(settings: Settings) -> int:
    from streams import access
    from streams.app import create_app

    access.pseudonym_key(settings)  # refused before anything starts, as is an open board
    access.check_http_exposure(settings)
    tune_gc()
    pipeline = create_app(settings)
    app = pipeline.app

    async def announce_ready() -> None:
        # After each assignment of the decide stage's partitions: once the followed topics are
        # read up and every partition held is restored, the worker decides again.
        await pipeline.ready()
        assert pipeline.stage.consumer is not None
        announce(
            log,
            settings.log_level,
            "%s: %d partitions assigned (%d park partitions)",
            READY_MARKER,
            len(pipeline.stage.consumer.assignment()),
            len(pipeline.store.partitions),
        )

    pipeline.stage.on_ready = announce_ready

    worker = _make_worker_class()(app, loglevel=settings.log_level, redirect_stdouts=False)
    worker.stop_timeout = settings.stop_timeout_seconds
    worker.execute_from_commandline()  # runs until SIGTERM / SIGINT
    return 0


def _exit_now(timeout: float) -> None:
    """Faust's graceful stop can wait forever ("Wait for streams...", on a message it counts as
    unacked): end the process. Nothing is lost: what was not committed is read again."""
    log.critical("the worker did not stop within %.0f s of the signal; exiting now", timeout)
    logging.shutdown()
    os._exit(EXIT_STOP_TIMED_OUT)


EXIT_STOP_TIMED_OUT = 75


def _make_worker_class() -> type:
    import faust

    class Worker(faust.Worker):
        """A Faust worker whose stop on a signal ends within ``stop_timeout`` seconds."""

        stop_timeout = 30.0

        def _schedule_shutdown(self, signum: signal.Signals) -> None:
            if not self._signal_stop_time:
                timer = threading.Timer(self.stop_timeout, _exit_now, (self.stop_timeout,))
                timer.daemon = True
                timer.start()
            super()._schedule_shutdown(signum)

        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            for name in CHATTY:  # at debug, a line per fetch: 700,000 lines in 10 minutes
                logging.getLogger(name).setLevel(max(level, logging.INFO))
            failures.quiet_clients(level <= logging.DEBUG)

    return Worker


# Libraries whose debug lines are about their own protocol, not our pipeline: kept at INFO when
# SENTINEL_LOG_LEVEL=debug, which is for what the worker decides and why.
CHATTY = ("aiokafka", "kafka", "clickhouse_driver", "faust.transport", "aiohttp.access")


def wait_for_ready(
    log_file: Path,
    offset: int,
    pid: int,
    is_alive: Callable[[], bool] | None = None,
    stall: float = READY_STALL,
) -> None:
    """Wait until ``log_file`` shows :data:`READY_MARKER` past ``offset``: for as long as the
    worker makes progress (its log grows, or it spends CPU restoring), failing only when it has
    done neither for ``stall`` seconds, or has exited."""

    def ready() -> bool:
        if is_alive is not None and not is_alive():
            raise NotReady(f"the worker exited while starting; see {log_file}")
        if not log_file.exists():
            return False
        with log_file.open("rb") as f:
            f.seek(offset)
            return READY_MARKER.encode() in f.read()

    def signs() -> tuple[int, int]:
        return (log_file.stat().st_size if log_file.exists() else 0, busy(pid)())

    try:
        wait_while_moving(ready, signs, what="the worker starting", stall=stall, interval=0.3)
    except Stalled:
        raise NotReady(
            f"the worker made no progress towards ready for {stall:.0f} s (no log line, no CPU); "
            f"see {log_file}"
        ) from None

"""Workers started in the background by the workbench (``sentinel worker --detach``, the demo,
``sentinel replay``), tracked by pid file so that ``sentinel stack down`` stops them."""

from __future__ import annotations

import os
import sys

from streams.settings import Settings
from streams.worker import NotReady, wait_for_ready
from workbench.stack import Stack, StackError
from workbench.stack._process import Progress


def worker_name(settings: Settings) -> str:
    return f"worker-{settings.namespace}" if settings.namespace else "worker"


def start_detached(settings: Settings, progress: Progress) -> str:
    """Start a worker for these settings in the background unless one runs; wait until it is
    ready, for as long as it makes progress (restoring a large state takes a while)."""
    process = Stack(settings).worker(worker_name(settings))
    pid = process.pid()
    if pid is not None:
        return f"worker running (pid {pid}); log {process.log_file}"
    offset = process.log_file.stat().st_size if process.log_file.exists() else 0
    progress(f"starting a worker in the background; log {process.log_file}")
    # The local stack's worker user, whoever started it (the workbench's commands run as admin).
    env = {
        **os.environ,
        "SENTINEL_NAMESPACE": settings.namespace,
        "SENTINEL_LANGUAGE": settings.language,
        "SENTINEL_KAFKA_USER": "worker",
        "SENTINEL_KAFKA_PASSWORD": "",
    }
    pid = process.start([sys.executable, "-m", "streams.cli", "worker"], env=env)
    try:
        wait_for_ready(process.log_file, offset, pid, is_alive=lambda: not process.has_exited())
    except NotReady as exc:
        raise StackError(str(exc)) from None
    return f"worker running (pid {pid}); log {process.log_file}"


def stop_detached(settings: Settings, progress: Progress) -> str:
    """Stop this namespace's background worker: gracefully, then by force; it always ends."""
    process = Stack(settings).worker(worker_name(settings))
    pid = process.pid()
    if pid is None:
        process.stop()  # forget a stale pid file
        return "no worker running"
    progress(f"stopping the worker (pid {pid})")
    process.stop(timeout=settings.stop_timeout_seconds + 10)
    return f"worker stopped (pid {pid}); log {process.log_file}"

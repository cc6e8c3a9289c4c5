"""Batches read with Faust's ``take()``, which acks the whole batch in a ``finally``, handled or
not (faust-streaming#315): a batch that fails ends the process instead, unacked."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import NoReturn

log = logging.getLogger(__name__)


def exit_unacked(what: str, exc: BaseException) -> NoReturn:
    """A batch failed (not one of its events: those are dead-lettered): end the process before
    Faust's ``take()`` acks the batch in its ``finally`` (faust-streaming#315), so that nothing
    is committed that was neither handled nor dead-lettered. Its supervisor starts it again, and
    the batch is read again."""
    stopping = isinstance(exc, asyncio.CancelledError)  # a stop, mid-batch: not a failure
    log.log(
        logging.INFO if stopping else logging.CRITICAL,
        "%s %s; exiting without acking the batch: it is read again on restart",
        what,
        "stopped mid-batch"
        if stopping
        else f"failed on a batch ({type(exc).__name__}: {str(exc)[:300]})",
        exc_info=not stopping,
    )
    logging.shutdown()
    os._exit(0 if stopping else EXIT_BATCH_FAILED)


EXIT_BATCH_FAILED = 70

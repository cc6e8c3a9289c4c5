"""A batch's commit, in the one order every stage keeps (the decide stage, the sink, the alert
dispatcher): what it sent out is delivered, then the state records that say so, then the
offsets. A timer's step that fails is logged and tried again (:func:`survive`). And batches read
with Faust's ``take()``, which acks the whole batch in a ``finally``, handled or not
(faust-streaming#315): a batch that fails ends the process instead, unacked."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any, NoReturn, cast

from aiokafka import AIOKafkaProducer

from streams import metrics
from streams.outbox import Send
from streams.topics import partition_of

log = logging.getLogger(__name__)


async def deliver(
    producer: Any,
    topic: Callable[[str], str],
    outputs: Iterable[Send],
    state: Iterable[Send] = (),
    commit: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Commit a batch, in this order:

    1. send every output (``topic`` makes a catalogue name the topic's full name) and wait until
       the broker has each one;
    2. only then send the state records: a crash before this reads the inputs again and sends
       the outputs again (downstream everything is idempotent, by event id), and no state says
       "sent" for an output that was not;
    3. then commit the offsets: ``commit``, once the state records are delivered too; or, in a
       Faust agent, Faust, when the handler returns (it acks the batch, and commits after
       flushing its producer, so the state records are delivered by then). A crash before
       this reads inputs again whose effects are in the state: they change nothing.
    """
    pending = await send_all(producer, topic, outputs)
    if pending:
        await asyncio.gather(*pending)
    state = list(state)
    written = await send_all(producer, topic, state)
    if state:
        metrics.STATE_RECORDS.inc(len(state))
        metrics.STATE_BYTES.inc(sum(len(r.key or b"") + len(r.value or b"") for r in state))
    if commit is not None:
        await asyncio.gather(*written)
        await commit()


async def send_all(producer: Any, topic: Callable[[str], str], sends: Iterable[Send]) -> list[Any]:
    """Send records in order within each partition; the futures of their delivery. In batches
    of a partition each (aiokafka's ``create_batch``/``send_batch``): a ``send()`` costs ~22 us a
    record on this machine, a record appended to a batch ~3 us, and a raw event makes three or
    four. Placed as ``send()`` places them: the record's partition, or its key's (Kafka's
    default partitioner, ``partition_of``), or, with neither, any."""
    kafka = _aiokafka(producer)
    if kafka is None:  # a producer without batches (a test's): a send each
        return [await _send(producer, topic, send) for send in sends]
    futures: list[Any] = []
    batches: dict[tuple[str, int], Any] = {}
    counts: dict[str, int] = {}
    for send in sends:
        name = topic(send.topic)
        partition = send.partition
        if partition is None:
            if name not in counts:
                counts[name] = len(await kafka.partitions_for(name))
            partition = (
                partition_of(send.key, counts[name])
                if send.key is not None
                else random.randrange(counts[name])
            )
        batch = batches.get((name, partition))
        if batch is None:
            batch = batches[(name, partition)] = kafka.create_batch()
        if _append(batch, send) is None:  # full: it goes, and a new one takes the record
            futures.append(await kafka.send_batch(batch, name, partition=partition))
            batch = batches[(name, partition)] = kafka.create_batch()
            if _append(batch, send) is None:  # larger than a batch: on its own
                del batches[(name, partition)]
                futures.append(await _send(kafka, topic, replace(send, partition=partition)))
    for (name, partition), batch in batches.items():
        futures.append(await kafka.send_batch(batch, name, partition=partition))
    return futures


def _append(batch: Any, send: Send) -> Any:
    return batch.append(timestamp=None, key=send.key, value=send.value, headers=list(send.headers))


def _aiokafka(producer: Any) -> AIOKafkaProducer | None:
    """The aiokafka producer under Faust's (the worker's one producer, idempotent)."""
    if isinstance(producer, AIOKafkaProducer):
        return producer
    ensure = getattr(producer, "_ensure_producer", None)  # faust-streaming's accessor
    return None if ensure is None else cast(AIOKafkaProducer, ensure())


async def _send(producer: Any, topic: Callable[[str], str], send: Send) -> Any:
    return await producer.send(
        topic(send.topic), send.key, send.value, send.partition, None, list(send.headers) or None
    )


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


_failing: dict[str, float] = {}


async def survive(what: str, step: Awaitable[None]) -> None:
    """Run a timer's step; an error is logged (its traceback at most once a minute) and the
    timer runs again: a timer that raises would stop the whole worker."""
    try:
        await step
        _failing.pop(what, None)
    except Exception as exc:  # noqa: BLE001
        first = what not in _failing or time.monotonic() - _failing[what] > 60
        if first:
            _failing[what] = time.monotonic()
        log.error(
            "%s failed (%s: %s); it runs again in a second",
            what,
            type(exc).__name__,
            str(exc)[:200],
            exc_info=first,
        )

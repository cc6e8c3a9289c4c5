"""The sink's commit after a batch, when its group rebalanced meanwhile; a batch that fails
ends the process unacked."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

import pytest
from aiokafka.errors import CommitFailedError

from streams.agents.sink import Sink


class Rebalanced:
    """A consumer whose group gave its partitions to another member during the batch."""

    commits = 0

    async def commit(self) -> None:
        self.commits += 1
        raise CommitFailedError("the group has already rebalanced")


def test_a_commit_refused_after_a_rebalance_does_not_stop_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Seen in the two-worker story test: the second worker joined while the first's sink wrote
    # a batch; the commit raised, the sink's task died, and with it the whole worker.
    consumer = Rebalanced()
    with caplog.at_level(logging.INFO, logger="streams.agents.sink"):
        asyncio.run(Sink._commit(consumer))  # type: ignore[arg-type]
    assert consumer.commits == 1
    assert "read again" in caplog.text


@pytest.mark.parametrize(
    ("raised", "code", "said"),
    [
        ("RuntimeError('the producer is gone')", 70, "failed on a batch (RuntimeError"),
        ("asyncio.CancelledError()", 0, "stopped mid-batch"),
    ],
)
def test_a_failed_batch_ends_the_process_before_take_can_ack_it(
    raised: str, code: int, said: str
) -> None:
    # faust-streaming#315: take() acks its batch in a finally; an exception would have acked
    # events never handled. The process ends first, so nothing of the batch is committed.
    script = (
        "import asyncio, logging, sys\n"
        "logging.basicConfig(stream=sys.stdout, level=logging.INFO)\n"
        "from streams.agents.batches import exit_unacked\n"
        "try:\n"
        f"    raise {raised}\n"
        "except BaseException as exc:\n"
        "    exit_unacked('the decide stage', exc)\n"
        "print('the batch would be acked now')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == code
    assert said in done.stdout and "read again on restart" in done.stdout
    assert "would be acked" not in done.stdout

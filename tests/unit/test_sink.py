"""The sink's commit after a batch, when its group rebalanced meanwhile."""

from __future__ import annotations

import asyncio
import logging

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

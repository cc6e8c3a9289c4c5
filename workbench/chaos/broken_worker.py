"""The chaos harness's negative control: a worker whose sink acks (commits) a batch before it
inserts it, the mistake the real sink must not make, and which dies at the worst moment: when
the insert of a batch it has acked does not go through within a few seconds (ClickHouse down),
the process ends at once, as a SIGKILL would end it. The batch is lost; the oracle must see
that. A first control waited for the harness's one kill to fall on such a moment by chance, and
lost no row in a run. Never used outside ``sentinel chaos``."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

from streams.agents import sink
from streams.outbox import Send

STUCK = 5.0  # seconds an acked batch's insert may take before the worker dies
log = logging.getLogger(__name__)


class AckFirstSink(sink.Sink):
    async def write(self, records: list[Any]) -> list[Send]:
        assert self.consumer is not None
        await self._commit(self.consumer)  # the bug: acked before ClickHouse has the rows
        try:
            return await asyncio.wait_for(super().write(records), timeout=STUCK)
        except TimeoutError:
            log.critical("negative control: dying with %d acked records unwritten", len(records))
            logging.shutdown()
            os._exit(137)


def main() -> int:
    from streams import app
    from streams.cli import main as cli

    app.Sink = AckFirstSink  # type: ignore[attr-defined]
    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())

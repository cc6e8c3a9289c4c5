"""The chaos harness's negative control: a worker whose sink acks (commits) a batch before it
inserts it, the mistake the real sink must not make. Killed while ClickHouse hangs, it loses the
batch it had acked; the oracle must see that. Never used outside ``sentinel chaos``."""

from __future__ import annotations

import sys
from typing import Any

from streams.agents import sink


class AckFirstSink(sink.Sink):
    async def write(self, records: list[Any]) -> None:
        assert self.consumer is not None
        await self._commit(self.consumer)  # the bug: acked before ClickHouse has the rows
        await super().write(records)


def main() -> int:
    from streams import app
    from streams.cli import main as cli

    app.Sink = AckFirstSink  # type: ignore[attr-defined]
    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())

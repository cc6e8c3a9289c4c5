"""Gate heartbeats move every worker's watermark, so deadlines fire when gates go quiet.

Like the reference data, ``canonical.heartbeats`` (compacted, the latest beat of each gate) is
read whole by each worker with its own consumer, outside the group: whichever partitions a worker
holds, and after a restart too, it knows how far every gate's clock has gone.
"""

from __future__ import annotations

import faust

from schemas import GateHeartbeat
from streams.agents._shared import WorkerState
from streams.agents.reference import follow
from streams.settings import Settings


def register(app: faust.App, settings: Settings, shared: WorkerState) -> None:
    def on_beat(key: bytes | None, value: bytes | None) -> None:
        if value is not None:
            beat = GateHeartbeat.model_validate_json(value)
            shared.beat(beat.event_time)

    @app.task  # type: ignore[untyped-decorator]
    async def follow_heartbeats() -> None:
        await follow(settings, "canonical.heartbeats", on_beat)

"""Gate heartbeats move this worker's watermark, so deadlines fire when gates go quiet.

Ingestion copies every heartbeat to every partition of ``canonical.heartbeats``: whichever
partitions a worker holds, it sees every gate's clock.
"""

from __future__ import annotations

import faust

from schemas import GateHeartbeat
from streams.agents._shared import WorkerState
from streams.agents._topics import Topics


def register(app: faust.App, topics: Topics, shared: WorkerState) -> None:
    @app.agent(topics("canonical.heartbeats"), name="observe_heartbeats")
    async def observe_heartbeats(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            beat = GateHeartbeat.model_validate_json(event.value)
            shared.observe((topics.base(event.message.topic), event.message.partition),
                           beat.event_time)  # fmt: skip

"""The Faust app: built from the settings, with every agent registered on it.

Agents are thin: they decode, call the pure core (``streams.rules``), and hand the result to a
topic or a sink. Faust's web server is off: its table views would serve raw state.
"""

from __future__ import annotations

import logging

import faust
from pydantic import ValidationError

from schemas import Decision, VehicleEntry
from streams.rules import decide_entry
from streams.settings import Settings
from streams.sink.clickhouse import ClickHouseWriter
from streams.sink.rows import DECISION_COLUMNS, decision_row

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> faust.App:
    datadir = settings.state_dir / "faust" / settings.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")],
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        topic_replication_factor=1,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        processing_guarantee="at_least_once",
    )

    def raw_topic(base: str) -> faust.TopicT:
        """Bytes in, bytes out: events are decoded and validated by pydantic, not by Faust."""
        return app.topic(settings.topic(base), key_serializer="raw", value_serializer="raw")

    entries = raw_topic("gate.entries")
    decisions = raw_topic("sentinel.decisions")
    dlq = raw_topic("sentinel.dlq")

    @app.agent(entries, name="decide_release")
    async def decide_release(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            try:
                entry = VehicleEntry.model_validate_json(event.value)
            except ValidationError as exc:
                await dlq.send(
                    key=None,
                    value=event.value,
                    headers={
                        "source_topic": message.topic.encode(),
                        "source_partition": str(message.partition).encode(),
                        "source_offset": str(message.offset).encode(),
                        "error_class": type(exc).__name__.encode(),
                        "error_message": _describe(exc).encode(),
                    },
                )
                log.warning(
                    "dead-lettered %s[%d]@%d: %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    _describe(exc),
                )
                continue
            decision = decide_entry(entry)
            await decisions.send(
                key=decision.entry_id.encode(), value=decision.model_dump_json().encode()
            )
            log.info(
                "decision %s for entry %s: %s", decision.event_id, entry.event_id, decision.outcome
            )

    writer = ClickHouseWriter(settings.clickhouse_url)

    @app.agent(decisions, name="write_decisions")
    async def write_decisions(stream: faust.StreamT[bytes]) -> None:
        async for batch in stream.take(
            settings.sink_batch_rows, within=settings.sink_flush_seconds
        ):
            rows = [decision_row(Decision.model_validate_json(value)) for value in batch]
            await writer.write("decisions", DECISION_COLUMNS, rows)

    return app


def _describe(exc: ValidationError) -> str:
    """Field paths and messages only: the offending values may be personal data."""
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    ]
    return "; ".join(parts)[:500]
